// A loopback backend for the framing and fault tests: records every byte the proxy sends
// it, connection by connection, and answers each complete request with bytes the test
// chose (valid, malformed, or none at all).
//
// It runs on its own thread inside the test binary and listens on 127.0.0.1 only. Every
// wait is bounded; the destructor stops the thread and resets every open connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace turnout::e2e {

// What the backend answers unless told otherwise.
inline constexpr const char* kDefaultRawAnswer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

class RawBackend {
 public:
  // What the backend does with a connection once it has sent its answer.
  enum class AfterAnswer {
    KeepOpen,   // Wait for the next request.
    Close,      // Close cleanly (FIN): ends a close-delimited body.
    Reset,      // Close with a reset (RST), as a crashing server would.
    ResetSoon,  // Reset 100 ms later, once the proxy has surely read the answer.
  };

  // Binds 127.0.0.1:0 and starts serving. port() is 0 if the bind failed.
  RawBackend();
  ~RawBackend();
  RawBackend(const RawBackend&) = delete;
  RawBackend& operator=(const RawBackend&) = delete;

  uint16_t port() const { return port_; }

  // The bytes written after each complete request, then what to do with the connection.
  // Empty bytes with KeepOpen: never answer (a silent backend). Default: a 200 with the
  // body "ok" and a content-length.
  void setAnswer(std::string bytes, AfterAnswer after = AfterAnswer::KeepOpen);

  // Everything received so far, each connection's bytes in accept order, concatenated.
  std::string received();

  // Connections accepted and complete requests seen so far.
  int connections();
  int requests();

  // Waits until at least `count` complete requests arrived; false at the deadline.
  bool waitForRequests(int count, std::chrono::milliseconds limit);

  // Waits until the backend has read everything the kernel holds for it: two polls that
  // began after this call found nothing to do. Bounded by one second.
  void waitIdle();

 private:
  struct Connection {
    int fd = -1;
    std::string in;     // Every byte received.
    size_t parsed = 0;  // Where the next request starts in `in`.
    std::string out;    // Answer bytes not yet written.
    bool close_after_out = false;
    bool reset_after_out = false;
    bool reset_soon = false;
    std::chrono::steady_clock::time_point reset_at;
    bool done = false;  // Closed; the record stays.
  };

  void run();
  void acceptAll();
  void readFrom(Connection& connection);
  void answerComplete(Connection& connection);
  void writeTo(Connection& connection);
  void closeConnection(Connection& connection, bool reset);
  void resetDue();

  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> quiet_polls_{0};  // Polls that timed out with nothing to do.
  std::mutex mutex_;  // Guards everything below; the thread holds it while it works.
  std::string answer_;
  AfterAnswer after_ = AfterAnswer::KeepOpen;
  std::vector<std::unique_ptr<Connection>> connections_;
  int requests_ = 0;
  std::thread thread_;
};

// The length of the complete HTTP/1.1 request at the start of `bytes` (head and body,
// framed by Content-Length or chunked), or 0 while it is incomplete or unreadable.
size_t completeRequestLength(const std::string& bytes);

}  // namespace turnout::e2e
