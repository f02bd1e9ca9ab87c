// Coalesces the bytes bound for one socket.
#include "proxy/outbox.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace turnout {
namespace {

// One heap write: the libuv request and the bytes it writes, in one allocation.
struct WriteRequest {
  uv_write_t request;
  OutboxOwner* owner;
  char bytes[1];
};

}  // namespace

int Outbox::flush() {
  if (buffer_.empty()) {
    return 0;
  }

  // Order matters: a direct write may only go out when nothing is queued before it.
  size_t offset = 0;
  if (queuedBytes() == 0) {
    uv_buf_t direct = uv_buf_init(buffer_.data(), static_cast<unsigned>(buffer_.size()));
    int written = uv_try_write(stream_, &direct, 1);
    if (written < 0 && written != UV_EAGAIN) {
      buffer_.clear();
      return written;
    }
    offset = written > 0 ? static_cast<size_t>(written) : 0;
  }

  size_t rest = buffer_.size() - offset;
  if (rest == 0) {
    buffer_.clear();
    return 0;
  }

  auto* request = static_cast<WriteRequest*>(std::malloc(sizeof(WriteRequest) + rest));
  if (request == nullptr) {
    throw std::bad_alloc();
  }
  request->owner = owner_;
  std::memcpy(request->bytes, buffer_.data() + offset, rest);
  buffer_.clear();

  uv_buf_t queued = uv_buf_init(request->bytes, static_cast<unsigned>(rest));
  int status = uv_write(&request->request, stream_, &queued, 1, &Outbox::onWrite);
  if (status < 0) {
    std::free(request);
  }
  return status;
}

void Outbox::onWrite(uv_write_t* request, int status) {
  auto* write = reinterpret_cast<WriteRequest*>(request);
  OutboxOwner* owner = write->owner;
  std::free(write);
  owner->onWriteDone(status);
}

}  // namespace turnout
