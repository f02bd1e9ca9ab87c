// Coalesces the bytes bound for one socket.
#include "proxy/outbox.h"

#include <algorithm>
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

// Calls `take(data, length)` for what is left of each part once the first `skip` bytes of
// all the parts together are gone (those the kernel already took).
template <typename Take>
void forEachUnwritten(std::initializer_list<std::string_view> parts, size_t skip, Take take) {
  for (std::string_view part : parts) {
    size_t taken = std::min(skip, part.size());
    skip -= taken;
    take(part.data() + taken, part.size() - taken);
  }
}

}  // namespace

void Outbox::appendWritingThrough(std::initializer_list<std::string_view> parts) {
  // Below this a copy costs less than the extra system call.
  constexpr size_t kWriteThroughBytes = 4096;

  size_t total = 0;
  for (std::string_view part : parts) {
    total += part.size();
  }
  bool direct = total >= kWriteThroughBytes && buffer_.empty() && queuedBytes() == 0 &&
                parts.size() <= 4;
  if (!direct) {
    for (std::string_view part : parts) {
      buffer_.append(part.data(), part.size());
    }
    return;
  }

  uv_buf_t buffers[4];
  unsigned count = 0;
  for (std::string_view part : parts) {
    buffers[count++] =
        uv_buf_init(const_cast<char*>(part.data()), static_cast<unsigned>(part.size()));
  }
  int written = uv_try_write(stream_, buffers, count);
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  if (skip == total) {
    return;
  }

  // What the kernel did not take is copied once, into a queued write. Should that fail,
  // the bytes wait in the buffer and the next flush() meets the error.
  if (queue(parts, skip) < 0) {
    forEachUnwritten(parts, skip,
                     [this](const char* data, size_t length) { buffer_.append(data, length); });
  }
}

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

  int status = offset < buffer_.size() ? queue({buffer_}, offset) : 0;
  buffer_.clear();
  return status;
}

int Outbox::queue(std::initializer_list<std::string_view> parts, size_t skip) {
  size_t rest = 0;
  for (std::string_view part : parts) {
    rest += part.size();
  }
  rest -= skip;

  auto* request = static_cast<WriteRequest*>(std::malloc(sizeof(WriteRequest) + rest));
  if (request == nullptr) {
    throw std::bad_alloc();
  }
  request->owner = owner_;
  char* at = request->bytes;
  forEachUnwritten(parts, skip, [&at](const char* data, size_t length) {
    std::memcpy(at, data, length);
    at += length;
  });

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
