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
void forEachUnwritten(const std::string_view* parts, size_t count, size_t skip, Take take) {
  for (size_t i = 0; i < count; ++i) {
    size_t taken = std::min(skip, parts[i].size());
    skip -= taken;
    take(parts[i].data() + taken, parts[i].size() - taken);
  }
}

}  // namespace

bool Outbox::appendWritingThrough(std::initializer_list<std::string_view> parts) {
  // Below this a copy costs less than the extra system call.
  constexpr size_t kWriteThroughBytes = 4096;
  constexpr size_t kMostParts = kMostWriteParts - 1;  // The buffer may take the first place.

  size_t total = 0;
  for (std::string_view part : parts) {
    total += part.size();
  }
  if (total < kWriteThroughBytes || queuedBytes() != 0 || parts.size() > kMostParts) {
    for (std::string_view part : parts) {
      buffer_.append(part.data(), part.size());
    }
    return false;
  }

  // Bytes already waiting in the buffer (a response head, typically, with the first body
  // piece read in the same event) go out first, in the same write, so the body piece is
  // not copied behind them.
  std::string_view all[kMostWriteParts];
  size_t count = 0;
  bool buffered = !buffer_.empty();
  if (buffered) {
    all[count++] = buffer_;
    total += buffer_.size();
  }
  for (std::string_view part : parts) {
    all[count++] = part;
  }
  writeThrough(all, count, total);
  return buffered;
}

void Outbox::writeThrough(const std::string_view* parts, size_t count, size_t total) {
  uv_buf_t buffers[kMostWriteParts];
  for (size_t i = 0; i < count; ++i) {
    buffers[i] =
        uv_buf_init(const_cast<char*>(parts[i].data()), static_cast<unsigned>(parts[i].size()));
  }
  int written = uv_try_write(stream_, buffers, static_cast<unsigned>(count));
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  if (skip == total) {
    buffer_.clear();
    return;
  }

  // What the kernel did not take is copied once, into a queued write. Should that fail,
  // the bytes wait in the buffer and the next flush() meets the error. The buffer may be
  // the first part, so its unwritten rest is gathered into a new string first.
  if (queue(parts, count, skip) < 0) {
    std::string rest;
    rest.reserve(total - skip);
    forEachUnwritten(parts, count, skip,
                     [&rest](const char* data, size_t length) { rest.append(data, length); });
    buffer_.swap(rest);
    return;
  }
  buffer_.clear();
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

  std::string_view whole = buffer_;
  int status = offset < buffer_.size() ? queue(&whole, 1, offset) : 0;
  buffer_.clear();
  return status;
}

int Outbox::queue(const std::string_view* parts, size_t count, size_t skip) {
  size_t rest = 0;
  for (size_t i = 0; i < count; ++i) {
    rest += parts[i].size();
  }
  rest -= skip;

  auto* request = static_cast<WriteRequest*>(std::malloc(sizeof(WriteRequest) + rest));
  if (request == nullptr) {
    throw std::bad_alloc();
  }
  request->owner = owner_;
  char* at = request->bytes;
  forEachUnwritten(parts, count, skip, [&at](const char* data, size_t length) {
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
