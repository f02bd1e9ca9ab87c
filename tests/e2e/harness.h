// Test harness for the end-to-end tests: child processes, free loopback ports, temp dirs,
// config files and a small blocking HTTP/1.1 client over real sockets.
//
// Everything here talks to 127.0.0.1 only, and every wait has a deadline: a broken proxy
// makes a test fail, never hang.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace turnout::e2e {

using Headers = std::vector<std::pair<std::string, std::string>>;
using Millis = std::chrono::milliseconds;

// The turnout binary ($TURNOUT_BIN, else <root>/build/turnout) and the repository root
// ($TURNOUT_ROOT, else the working directory).
std::string turnoutBin();
std::string repoRoot();

// A loopback TCP port that was free a moment ago: bound on 127.0.0.1:0, read, closed.
uint16_t freePort();

// A blocking TCP socket connected to 127.0.0.1:port with send and receive timeouts, or -1.
// The caller closes it.
int connectLoopback(uint16_t port, Millis timeout);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process whose standard output and error go to a log file. The destructor stops
// it: SIGTERM, up to 3 s of grace, then SIGKILL, and always waitpid. The child also gets
// SIGKILL if the test binary dies first (PR_SET_PDEATHSIG).
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& logPath() const { return log_path_; }

  // True while the child has not exited (reaps it if it has).
  bool running();

  // SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit status as waitpid
  // reports it, or nullopt if the child had to be killed. Safe to call twice.
  std::optional<int> stop(Millis grace = Millis(3000));

  // Waits up to `limit` for the child to exit by itself; its waitpid status, or nullopt.
  std::optional<int> waitExit(Millis limit);

  // The log file's content (its last `max_bytes` bytes).
  std::string log(size_t max_bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

using ProcessPtr = std::unique_ptr<Process>;

// Polls until 127.0.0.1:port accepts a TCP connection or `deadline` passes. Gives up early
// when `owner` is given and has exited.
bool waitForPort(uint16_t port, Millis deadline, Process* owner = nullptr);

// Starts examples/demo_backend.py as `name` on `port` and waits until it accepts.
// Returns null if it did not come up within 10 s.
ProcessPtr startBackend(const std::string& name, uint16_t port, const TempDir& dir);

// Starts `turnout run -c config --workers N` and waits until listen_port accepts.
// Returns null if it did not come up within 10 s (the log is then in dir).
ProcessPtr startTurnout(const std::string& config_path, uint16_t listen_port, const TempDir& dir,
                        int workers = 2);

// Replaces each "{{KEY}}" in `text` by its value.
std::string substitute(std::string text, const std::map<std::string, std::string>& values);

// Writes `yaml` with substitutions into dir/name and returns the file's path.
std::string writeConfig(const TempDir& dir, const std::string& name, const std::string& yaml,
                        const std::map<std::string, std::string>& values);

std::string readFile(const std::string& path);

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  Headers headers;   // Sent in this order and spelling; Host is added first if absent.
  std::string body;  // Content-Length is added when non-empty and no framing header is set.
};

struct HttpResponse {
  int status = 0;  // 0: no response; `error` says why.
  std::string error;
  Headers headers;
  std::string body;
  bool keep_alive = true;  // False when the server said Connection: close.

  // The first header with this name (case-insensitive), or "" if absent.
  std::string header(const std::string& name) const;
  size_t headerCount(const std::string& name) const;
};

// One client connection to 127.0.0.1:port. Every send and receive has a timeout.
// Responses are read whole: status line, headers, then a Content-Length, chunked or
// read-until-close body. 1xx interim responses are skipped.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, Millis timeout = Millis(5000));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Connects if not connected. On an I/O error the connection is closed and the next
  // request reconnects.
  HttpResponse request(const HttpRequest& req);
  HttpResponse get(const std::string& target, const Headers& headers = {});

  // Sends bytes as they are, then reads one response.
  HttpResponse raw(const std::string& bytes);

  bool connected() const { return fd_ >= 0; }
  void close();

 private:
  bool ensureConnected(std::string& error);
  bool sendAll(const std::string& bytes, std::string& error);
  HttpResponse readResponse(const std::string& method);
  bool fill(std::string& error);  // Appends what the socket has to buffer_.
  bool readLine(std::string& line, std::string& error);
  bool readBytes(size_t count, std::string& out, std::string& error);
  bool readChunked(std::string& out, std::string& error);

  uint16_t port_;
  Millis timeout_;
  int fd_ = -1;
  std::string buffer_;
  size_t pos_ = 0;
};

// A JSON echo from demo_backend.py, decoded.
struct Echo {
  bool ok = false;
  std::string backend;
  std::string method;
  std::string path;
  std::string query;
  Headers headers;
  int64_t body_bytes = -1;
  std::string body_sha256;

  // Every value of the header (case-insensitive name), in received order.
  std::vector<std::string> values(const std::string& name) const;
};

Echo parseEcho(const std::string& json);

// A demo backend's /__stats, asked directly (not through the proxy). That request is itself
// one more accepted connection. -1 values: the backend did not answer.
struct BackendStats {
  int64_t accepted = -1;
  int64_t requests = -1;
};

BackendStats backendStats(uint16_t backend_port);

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally.
  std::string output;  // Standard output (standard error too if the command redirects it).
};

// Runs a shell command (pipelines allowed) through popen, bounded by `timeout 120`.
CommandResult runCommand(const std::string& command);

// The start of every curl command the tests build: ignores ~/.curlrc and any proxy setting
// in the environment, so a request can go nowhere but loopback, and is bounded to 60 s.
std::string curlPrefix();

// Single-quotes a string for the shell.
std::string shellQuote(const std::string& text);

}  // namespace turnout::e2e
