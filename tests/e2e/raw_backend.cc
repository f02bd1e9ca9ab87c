// The recording backend of the framing and fault tests: a poll loop on its own thread.
#include "tests/e2e/raw_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace turnout::e2e {
namespace {

constexpr int kPollMs = 10;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

void setNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The end of a chunked body that starts at `pos` (after the last chunk's trailer section),
// or 0 while it is incomplete.
size_t chunkedBodyEnd(const std::string& bytes, size_t pos) {
  for (;;) {
    size_t line_end = bytes.find("\r\n", pos);
    if (line_end == std::string::npos) {
      return 0;
    }
    size_t size = std::strtoul(bytes.c_str() + pos, nullptr, 16);
    pos = line_end + 2;
    if (size == 0) {
      break;
    }
    pos += size + 2;
    if (pos > bytes.size()) {
      return 0;
    }
  }

  // Trailer lines, then the empty line.
  for (;;) {
    size_t line_end = bytes.find("\r\n", pos);
    if (line_end == std::string::npos) {
      return 0;
    }
    bool empty = line_end == pos;
    pos = line_end + 2;
    if (empty) {
      return pos;
    }
  }
}

}  // namespace

size_t completeRequestLength(const std::string& bytes) {
  size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return 0;
  }
  head_end += 4;

  // Only the framing fields matter here; the proxy writes them in lower case, one each.
  bool chunked = false;
  size_t content_length = 0;
  size_t line = bytes.find("\r\n") + 2;
  while (line < head_end - 2) {
    size_t end = bytes.find("\r\n", line);
    std::string text = lower(bytes.substr(line, end - line));
    if (text.rfind("transfer-encoding:", 0) == 0) {
      chunked = text.find("chunked") != std::string::npos;
    } else if (text.rfind("content-length:", 0) == 0) {
      content_length = std::strtoul(text.c_str() + 15, nullptr, 10);
    }
    line = end + 2;
  }

  if (chunked) {
    return chunkedBodyEnd(bytes, head_end);
  }
  return head_end + content_length <= bytes.size() ? head_end + content_length : 0;
}

RawBackend::RawBackend() : answer_(kDefaultRawAnswer) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), length) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return;
  }
  setNonBlocking(listen_fd_);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

RawBackend::~RawBackend() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  for (auto& connection : connections_) {
    closeConnection(*connection, true);
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
}

void RawBackend::setAnswer(std::string bytes, AfterAnswer after) {
  std::lock_guard<std::mutex> lock(mutex_);
  answer_ = std::move(bytes);
  after_ = after;
}

std::string RawBackend::received() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string all;
  for (const auto& connection : connections_) {
    all += connection->in;
  }
  return all;
}

int RawBackend::connections() {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(connections_.size());
}

int RawBackend::requests() {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

bool RawBackend::waitForRequests(int count, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (requests() < count) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void RawBackend::waitIdle() {
  uint64_t start = quiet_polls_.load();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (quiet_polls_.load() < start + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void RawBackend::run() {
  while (!stop_) {
    // The listening socket first, then every open connection.
    std::vector<pollfd> fds;
    std::vector<Connection*> owners;
    fds.push_back(pollfd{listen_fd_, POLLIN, 0});
    owners.push_back(nullptr);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& connection : connections_) {
        if (!connection->done) {
          short events = POLLIN | (connection->out.empty() ? 0 : POLLOUT);
          fds.push_back(pollfd{connection->fd, events, 0});
          owners.push_back(connection.get());
        }
      }
    }

    int ready = ::poll(fds.data(), fds.size(), kPollMs);
    std::lock_guard<std::mutex> lock(mutex_);
    resetDue();
    if (ready <= 0) {
      ++quiet_polls_;
      continue;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLOUT) != 0) {
        writeTo(*owners[i]);
      }
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !owners[i]->done) {
        readFrom(*owners[i]);
      }
    }
    if ((fds[0].revents & POLLIN) != 0) {
      acceptAll();
    }
  }
}

void RawBackend::acceptAll() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    connections_.push_back(std::move(connection));
  }
}

void RawBackend::readFrom(Connection& connection) {
  char chunk[65536];
  ssize_t n = ::recv(connection.fd, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      closeConnection(connection, false);
    }
    return;
  }
  connection.in.append(chunk, static_cast<size_t>(n));
  answerComplete(connection);
}

void RawBackend::answerComplete(Connection& connection) {
  // One answer per complete request, in order, as a pipelining server would.
  for (;;) {
    std::string rest = connection.in.substr(connection.parsed);
    size_t length = completeRequestLength(rest);
    if (length == 0) {
      return;
    }
    connection.parsed += length;
    ++requests_;
    if (answer_.empty() && after_ == AfterAnswer::KeepOpen) {
      continue;  // A silent backend: the proxy's timeout has to act.
    }
    connection.out += answer_;
    connection.close_after_out = after_ == AfterAnswer::Close;
    connection.reset_after_out = after_ == AfterAnswer::Reset;
    if (after_ == AfterAnswer::ResetSoon) {
      connection.reset_soon = true;
      connection.reset_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    }
    writeTo(connection);
    if (connection.done) {
      return;
    }
  }
}

void RawBackend::writeTo(Connection& connection) {
  while (!connection.out.empty()) {
    ssize_t n = ::send(connection.fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      closeConnection(connection, true);
      return;
    }
    connection.out.erase(0, static_cast<size_t>(n));
  }
  if (connection.close_after_out || connection.reset_after_out) {
    closeConnection(connection, connection.reset_after_out);
  }
}

void RawBackend::resetDue() {
  auto now = std::chrono::steady_clock::now();
  for (auto& connection : connections_) {
    if (connection->reset_soon && !connection->done && connection->reset_at <= now) {
      closeConnection(*connection, true);
    }
  }
}

void RawBackend::closeConnection(Connection& connection, bool reset) {
  if (connection.done) {
    return;
  }
  if (reset) {
    // A zero linger time turns close() into a reset.
    linger hard{1, 0};
    ::setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  }
  ::close(connection.fd);
  connection.fd = -1;
  connection.done = true;
}

}  // namespace turnout::e2e
