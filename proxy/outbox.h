// Coalesces the bytes bound for one socket and writes them with as few syscalls as it can.
//
// Callers append() while they handle one event and flush() once at its end. flush() first
// tries a direct write from the outbox's own buffer; only what the kernel does not take is
// copied into a heap write request. The owner hears about every completed heap write, so it
// can lift back-pressure when queuedBytes() falls.
#pragma once

#include <uv.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace turnout {

// Back-pressure: a side stops reading when the bytes it queued towards the other side
// exceed the high watermark, and resumes once they fall below the low one. With 64 KiB
// reads this bounds a stream's buffered body to a few reads in each direction.
constexpr size_t kHighWatermarkBytes = 256 * 1024;
constexpr size_t kLowWatermarkBytes = 64 * 1024;

class OutboxOwner {
 public:
  virtual ~OutboxOwner() = default;

  // A queued write finished. status is 0 or a negative libuv error (UV_ECANCELED when the
  // handle is closing). Loop thread only.
  virtual void onWriteDone(int status) = 0;
};

class Outbox {
 public:
  Outbox(uv_stream_t* stream, OutboxOwner* owner) : stream_(stream), owner_(owner) {}

  void append(std::string_view bytes) { buffer_.append(bytes.data(), bytes.size()); }

  // Appends the parts in order, writing them to the socket straight from the caller's
  // memory, behind whatever the buffer holds, when libuv has nothing queued: a body read is
  // then copied only if the kernel does not take all of it. Small parts (under 4 KiB in
  // all) are simply appended. At most 4 parts. True when the buffer's earlier bytes went
  // to the socket with them, so that nothing appended before can be taken back any more. A
  // write error is not reported here; the next flush() meets it.
  bool appendWritingThrough(std::initializer_list<std::string_view> parts);

  // The buffer itself, for serializers that write into a std::string.
  std::string* buffer() { return &buffer_; }

  bool empty() const { return buffer_.empty(); }

  // Hands everything appended so far to the socket. Returns 0 or a negative libuv error;
  // on error nothing more can be written to this socket.
  int flush();

  // Bytes handed to libuv and not yet written to the kernel.
  size_t queuedBytes() const { return uv_stream_get_write_queue_size(stream_); }

  // Gives the buffer's memory back (for idle connections).
  void shrink() { std::string().swap(buffer_); }
  size_t capacity() const { return buffer_.capacity(); }

 private:
  static void onWrite(uv_write_t* request, int status);

  static constexpr size_t kMostWriteParts = 5;  // The buffer and 4 parts.

  // One writev of the parts (`total` bytes, at most kMostWriteParts, the first of which may
  // be the buffer itself); what the kernel does not take is queued. Empties the buffer.
  void writeThrough(const std::string_view* parts, size_t count, size_t total);

  // Copies the parts, less their first `skip` bytes, into one heap write and queues it.
  int queue(const std::string_view* parts, size_t count, size_t skip);

  uv_stream_t* stream_;
  OutboxOwner* owner_;
  std::string buffer_;
};

}  // namespace turnout
