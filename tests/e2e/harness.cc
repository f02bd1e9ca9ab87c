// Child processes, ports, temp dirs, config files and the blocking HTTP/1.1 test client.
#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace turnout::e2e {
namespace {

constexpr Millis kStartDeadline(10000);
constexpr Millis kPollStep(20);
constexpr size_t kMaxHeadBytes = 1 << 20;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) {
    return "";
  }
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

int connectLoopback(uint16_t port, Millis timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }

  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  sockaddr_in addr = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}


std::string turnoutBin() {
  return envOr("TURNOUT_BIN", repoRoot() + "/build/turnout");
}

std::string repoRoot() {
  return envOr("TURNOUT_ROOT", std::filesystem::current_path());
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr = loopback(0);
  socklen_t length = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// ---- TempDir ----

TempDir::TempDir() {
  std::string pattern = envOr("TMPDIR", "/tmp") + "/turnout-e2e-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) != nullptr) {
    path_ = buffer.data();
  }
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

// ---- Process ----

Process::Process(const std::vector<std::string>& argv, const std::string& log_path)
    : log_path_(log_path) {
  // Everything the child needs is prepared before fork: after it, only exec-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(126);
    }
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }

  ::close(log_fd);
  ::close(null_fd);
}

Process::~Process() {
  stop();
}

bool Process::running() {
  if (pid_ <= 0 || status_.has_value()) {
    return false;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Process::waitExit(Millis limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(Millis(5));
  }
  return status_;
}

std::optional<int> Process::stop(Millis grace) {
  if (!running()) {
    return status_;
  }

  ::kill(pid_, SIGTERM);
  std::optional<int> status = waitExit(grace);
  if (status.has_value()) {
    return status;
  }

  // It ignored SIGTERM: kill it and reap it so no zombie outlives the test.
  ::kill(pid_, SIGKILL);
  int raw = 0;
  ::waitpid(pid_, &raw, 0);
  status_ = raw;
  return std::nullopt;
}

std::string Process::log(size_t max_bytes) const {
  std::string text = readFile(log_path_);
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// ---- starting things ----

bool waitForPort(uint16_t port, Millis deadline, Process* owner) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    int fd = connectLoopback(port, Millis(500));
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    if (owner != nullptr && !owner->running()) {
      return false;
    }
    std::this_thread::sleep_for(kPollStep);
  }
  return false;
}

ProcessPtr startBackend(const std::string& name, uint16_t port, const TempDir& dir) {
  std::vector<std::string> argv = {"python3", repoRoot() + "/examples/demo_backend.py",
                                   "--name",  name,
                                   "--port",  std::to_string(port)};
  auto process = std::make_unique<Process>(argv, dir.file("backend-" + name + ".log"));
  if (!waitForPort(port, kStartDeadline, process.get())) {
    return nullptr;
  }
  return process;
}

ProcessPtr startTurnout(const std::string& config_path, uint16_t listen_port, const TempDir& dir,
                        int workers) {
  std::vector<std::string> argv = {turnoutBin(), "run",       "-c",
                                   config_path,  "--workers", std::to_string(workers)};
  std::string log = dir.file("turnout-" + std::to_string(listen_port) + ".log");
  auto process = std::make_unique<Process>(argv, log);
  if (!waitForPort(listen_port, kStartDeadline, process.get())) {
    return nullptr;
  }
  return process;
}

// ---- config files ----

std::string substitute(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    std::string mark = "{{" + key + "}}";
    for (size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at)) {
      text.replace(at, mark.size(), value);
      at += value.size();
    }
  }
  return text;
}

std::string writeConfig(const TempDir& dir, const std::string& name, const std::string& yaml,
                        const std::map<std::string, std::string>& values) {
  std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << substitute(yaml, values);
  return path;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---- HttpResponse ----

std::string HttpResponse::header(const std::string& name) const {
  std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (lower(key) == wanted) {
      return value;
    }
  }
  return "";
}

size_t HttpResponse::headerCount(const std::string& name) const {
  std::string wanted = lower(name);
  return std::count_if(headers.begin(), headers.end(),
                       [&](const auto& header) { return lower(header.first) == wanted; });
}

// ---- HttpClient ----

HttpClient::HttpClient(uint16_t port, Millis timeout) : port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() {
  close();
}

void HttpClient::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
  pos_ = 0;
}

bool HttpClient::ensureConnected(std::string& error) {
  if (fd_ >= 0) {
    return true;
  }
  fd_ = connectLoopback(port_, timeout_);
  if (fd_ < 0) {
    error = "connect to 127.0.0.1:" + std::to_string(port_) + " failed: " + strerror(errno);
    return false;
  }
  return true;
}

HttpResponse HttpClient::get(const std::string& target, const Headers& headers) {
  HttpRequest req;
  req.target = target;
  req.headers = headers;
  return request(req);
}

HttpResponse HttpClient::request(const HttpRequest& req) {
  bool has_host = false;
  bool has_framing = false;
  for (const auto& [name, value] : req.headers) {
    std::string key = lower(name);
    has_host = has_host || key == "host";
    has_framing = has_framing || key == "content-length" || key == "transfer-encoding";
  }

  std::string head = req.method + " " + req.target + " HTTP/1.1\r\n";
  if (!has_host) {
    head += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  }
  for (const auto& [name, value] : req.headers) {
    head += name + ": " + value + "\r\n";
  }
  if (!req.body.empty() && !has_framing) {
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";

  HttpResponse failed;
  if (!ensureConnected(failed.error) || !sendAll(head + req.body, failed.error)) {
    close();
    return failed;
  }
  return readResponse(req.method);
}

HttpResponse HttpClient::raw(const std::string& bytes) {
  HttpResponse failed;
  if (!ensureConnected(failed.error) || !sendAll(bytes, failed.error)) {
    close();
    return failed;
  }
  size_t space = bytes.find(' ');
  return readResponse(space == std::string::npos ? "" : bytes.substr(0, space));
}

bool HttpClient::sendAll(const std::string& bytes, std::string& error) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      error = std::string("send failed: ") + strerror(errno);
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool HttpClient::fill(std::string& error) {
  // Drop what was consumed so the buffer does not grow over a long keep-alive run.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }

  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  if (n == 0) {
    error = "connection closed by peer";
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    error = "receive timed out";
  } else {
    error = std::string("recv failed: ") + strerror(errno);
  }
  return false;
}

bool HttpClient::readLine(std::string& line, std::string& error) {
  for (;;) {
    size_t end = buffer_.find("\r\n", pos_);
    if (end != std::string::npos) {
      line = buffer_.substr(pos_, end - pos_);
      pos_ = end + 2;
      return true;
    }
    if (buffer_.size() - pos_ > kMaxHeadBytes) {
      error = "line longer than 1 MiB";
      return false;
    }
    if (!fill(error)) {
      return false;
    }
  }
}

bool HttpClient::readBytes(size_t count, std::string& out, std::string& error) {
  while (buffer_.size() - pos_ < count) {
    if (!fill(error)) {
      return false;
    }
  }
  out.append(buffer_, pos_, count);
  pos_ += count;
  return true;
}

bool HttpClient::readChunked(std::string& out, std::string& error) {
  for (;;) {
    std::string line;
    if (!readLine(line, error)) {
      return false;
    }
    size_t size = std::strtoul(line.c_str(), nullptr, 16);
    if (size == 0) {
      break;
    }
    std::string crlf;
    if (!readBytes(size, out, error) || !readBytes(2, crlf, error)) {
      return false;
    }
  }

  // Trailer fields end with an empty line.
  std::string trailer;
  do {
    if (!readLine(trailer, error)) {
      return false;
    }
  } while (!trailer.empty());
  return true;
}

HttpResponse HttpClient::readResponse(const std::string& method) {
  HttpResponse resp;
  std::string line;

  // Status line and headers; 1xx interim responses are read and dropped.
  do {
    resp.headers.clear();
    if (!readLine(line, resp.error) || line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) {
      resp.error = resp.error.empty() ? "bad status line: " + line : resp.error;
      close();
      return resp;
    }
    resp.status = std::atoi(line.c_str() + 9);
    while (readLine(line, resp.error) && !line.empty()) {
      size_t colon = line.find(':');
      resp.headers.emplace_back(line.substr(0, colon),
                                colon == std::string::npos ? "" : trim(line.substr(colon + 1)));
    }
    if (!resp.error.empty()) {
      resp.status = 0;
      close();
      return resp;
    }
  } while (resp.status >= 100 && resp.status < 200);

  // Body framing (RFC 9112 section 6.3).
  resp.keep_alive = lower(resp.header("connection")).find("close") == std::string::npos;
  bool bodiless = method == "HEAD" || resp.status == 204 || resp.status == 304;
  bool ok = true;
  if (bodiless) {
    // Nothing follows the head.
  } else if (lower(resp.header("transfer-encoding")).find("chunked") != std::string::npos) {
    ok = readChunked(resp.body, resp.error);
  } else if (resp.headerCount("content-length") > 0) {
    ok = readBytes(std::strtoull(resp.header("content-length").c_str(), nullptr, 10), resp.body,
                   resp.error);
  } else {
    std::string ignored;
    while (fill(ignored)) {
    }
    resp.body = buffer_.substr(pos_);
    resp.keep_alive = false;
  }

  if (!ok) {
    resp.status = 0;
  }
  if (!ok || !resp.keep_alive) {
    close();
  }
  return resp;
}

// ---- the backend's JSON echo ----

std::vector<std::string> Echo::values(const std::string& name) const {
  std::vector<std::string> found;
  std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (lower(key) == wanted) {
      found.push_back(value);
    }
  }
  return found;
}

Echo parseEcho(const std::string& json) {
  Echo echo;
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(json, &root).ok()) {
    return echo;
  }

  const auto& fields = root.fields();
  auto text = [&](const char* key) {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second.string_value();
  };
  echo.backend = text("backend");
  echo.method = text("method");
  echo.path = text("path");
  echo.query = text("query");
  echo.body_sha256 = text("body_sha256");
  if (auto it = fields.find("body_bytes"); it != fields.end()) {
    echo.body_bytes = static_cast<int64_t>(it->second.number_value());
  }
  if (auto it = fields.find("headers"); it != fields.end()) {
    for (const auto& pair : it->second.list_value().values()) {
      const auto& items = pair.list_value().values();
      if (items.size() == 2) {
        echo.headers.emplace_back(items[0].string_value(), items[1].string_value());
      }
    }
  }
  echo.ok = !echo.backend.empty();
  return echo;
}

BackendStats backendStats(uint16_t backend_port) {
  BackendStats stats;
  HttpClient client(backend_port);
  HttpResponse resp = client.get("/__stats");
  google::protobuf::Struct root;
  if (resp.status != 200 || !google::protobuf::util::JsonStringToMessage(resp.body, &root).ok()) {
    return stats;
  }

  const auto& fields = root.fields();
  if (fields.count("accepted") > 0 && fields.count("requests") > 0) {
    stats.accepted = static_cast<int64_t>(fields.at("accepted").number_value());
    stats.requests = static_cast<int64_t>(fields.at("requests").number_value());
  }
  return stats;
}

// ---- shell commands ----

CommandResult runCommand(const std::string& command) {
  CommandResult result;
  std::string bounded = "timeout 120 sh -c " + shellQuote(command);
  FILE* pipe = ::popen(bounded.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }

  char chunk[4096];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) {
    result.output.append(chunk, n);
  }
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string curlPrefix() {
  return "curl -q -sS --noproxy 127.0.0.1 --max-time 60 ";
}

std::string shellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

}  // namespace turnout::e2e
