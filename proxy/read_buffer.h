// The one read buffer of a worker thread.
//
// Every socket of a worker reads into the same buffer: each read is parsed to completion
// inside its callback and whatever must outlive it is copied out, so an idle connection
// holds no read memory at all.
#pragma once

#include <uv.h>

namespace turnout {

constexpr size_t kReadBufferBytes = 64 * 1024;

// A libuv alloc callback handing out the calling thread's read buffer.
void allocReadBuffer(uv_handle_t* handle, size_t suggested, uv_buf_t* buffer);

}  // namespace turnout
