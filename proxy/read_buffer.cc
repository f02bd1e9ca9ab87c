// The one read buffer of a worker thread.
#include "proxy/read_buffer.h"

namespace turnout {

void allocReadBuffer(uv_handle_t* handle, size_t suggested, uv_buf_t* buffer) {
  thread_local char bytes[kReadBufferBytes];
  *buffer = uv_buf_init(bytes, sizeof(bytes));
}

}  // namespace turnout
