// libFuzzer target for the request path. Each input's bytes go from a client socket to a
// real DownstreamConnection on a Worker's loop, which this harness turns by hand, and on
// to a recording backend that answers every complete request. What the backend received
// and what the client got back must be well-formed and consistent with what the client
// sent: no request the client did not send, none altered, no response that is not one.
//
// Input: the client's bytes, optionally followed by "@@ANSWER@@" and the bytes the backend
// writes after each complete request (default: a 200 with the body "ok").
//
// Everything is on 127.0.0.1. Every phase is bounded by a count of loop turns; each input
// gets a fresh Worker that is stopped, and its loop emptied, before the next input.
#include <arpa/inet.h>
#include <fcntl.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "proxy/access_log.h"
#include "proxy/endpoint_health.h"
#include "proxy/log.h"
#include "proxy/snapshot_store.h"
#include "proxy/worker.h"
#include "tests/fuzz/http_check.h"

namespace turnout::fuzz {
namespace {

constexpr std::string_view kAnswerMark = "@@ANSWER@@";
constexpr std::string_view kDefaultAnswer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

// Loop turns a phase may take before the harness calls the proxy stuck.
constexpr int kMaxRounds = 5000;

// Two virtual hosts, routes that forward, split, time out late and match nothing, and
// small limits so that the fuzzer reaches them.
constexpr const char* kConfig = R"(
listeners:
  - name: main
    address: "127.0.0.1:1"
    max_request_headers_bytes: 2048
    max_request_body_bytes: 4096
    route_config:
      virtual_hosts:
        - name: only
          domains: ["only.example"]
          routes:
            - name: only
              match:
                prefix: "/"
              route:
                cluster: backend
        - name: rest
          domains: ["*"]
          routes:
            - name: api
              match:
                prefix: "/api"
              route:
                cluster: backend
                timeout: "30s"
            - name: split
              match:
                prefix: "/split"
                headers:
                  - name: x-variant
                    present_match: true
              route:
                weighted_clusters:
                  clusters:
                    - name: backend
                      weight: 50
                    - name: other
                      weight: 50
            - name: root
              match:
                path: "/"
              route:
                cluster: backend
clusters:
  - name: backend
    endpoints:
      - address: "127.0.0.1:BACKEND_PORT"
  - name: other
    endpoints:
      - address: "127.0.0.1:BACKEND_PORT"
)";

[[noreturn]] void finding(const std::string& what, std::string_view detail) {
  fprintf(stderr, "\n==== request_fuzz finding: %s\n%.*s\n====\n", what.c_str(),
          static_cast<int>(std::min<size_t>(detail.size(), 4000)), detail.data());
  abort();
}

// A non-blocking listening socket on 127.0.0.1:0, or aborts.
int listenLoopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0 ||
      ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    finding("harness setup", "cannot listen on 127.0.0.1");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// Closes with a reset, so that no TIME_WAIT piles up over millions of inputs.
void closeHard(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::close(fd);
}

// What stays the same for every input: the snapshot, the proxy's listening socket (each
// Worker listens on a duplicate) and the backend's.
struct Shared {
  SnapshotStore store;
  AccessLogSink sink;  // Never opened: no access log.
  int proxy_fd = -1;
  uint16_t proxy_port = 0;
  int backend_fd = -1;
  uint16_t backend_port = 0;
};

Shared& shared() {
  static Shared* instance = [] {
    auto* made = new Shared;
    setLogLevel(LogLevel::Error);
    signal(SIGPIPE, SIG_IGN);  // As the server does: a write to a reset socket fails instead.
    made->proxy_fd = listenLoopback(&made->proxy_port);
    made->backend_fd = listenLoopback(&made->backend_port);
    std::string config = kConfig;
    for (size_t at = config.find("BACKEND_PORT"); at != std::string::npos;
         at = config.find("BACKEND_PORT")) {
      config.replace(at, 12, std::to_string(made->backend_port));
    }
    LoadResult loaded = loadConfigText(config, "request_fuzz");
    if (!loaded.errors.empty()) {
      finding("harness config", formatErrors("request_fuzz", loaded.errors));
    }
    made->store.publish(loaded.snapshot);
    return made;
  }();
  return *instance;
}

// One request as llhttp reads the client's bytes: the reference the forwarded requests
// are compared with.
struct ClientRequest {
  std::string method;
  std::string target;
  std::string body;
};

struct ReferenceParse {
  std::vector<ClientRequest> complete;
  ClientRequest current;
};

// The requests llhttp completes in `bytes`, in order, up to its first error or CONNECT.
std::vector<ClientRequest> referenceRequests(std::string_view bytes) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_begin = [](llhttp_t* parser) {
    static_cast<ReferenceParse*>(parser->data)->current = ClientRequest();
    return 0;
  };
  settings.on_url = [](llhttp_t* parser, const char* data, size_t length) {
    static_cast<ReferenceParse*>(parser->data)->current.target.append(data, length);
    return 0;
  };
  settings.on_body = [](llhttp_t* parser, const char* data, size_t length) {
    static_cast<ReferenceParse*>(parser->data)->current.body.append(data, length);
    return 0;
  };
  settings.on_message_complete = [](llhttp_t* parser) {
    auto* reference = static_cast<ReferenceParse*>(parser->data);
    reference->current.method = llhttp_method_name(static_cast<llhttp_method_t>(parser->method));
    reference->complete.push_back(reference->current);
    return 0;
  };

  ReferenceParse reference;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  parser.data = &reference;

  // After an Upgrade request llhttp pauses. Unless the answer is a 101 the proxy reads on
  // as HTTP, and so does the reference. (An input whose answer is a 101 to a websocket
  // handshake opens a tunnel, which this harness does not model: the backend then gets
  // raw client bytes.) A CONNECT is refused and the connection closed: nothing after it
  // counts.
  const char* at = bytes.data();
  const char* end = bytes.data() + bytes.size();
  while (at < end && llhttp_execute(&parser, at, static_cast<size_t>(end - at)) ==
                         HPE_PAUSED_UPGRADE) {
    if (parser.method == HTTP_CONNECT) {
      break;
    }
    at = llhttp_get_error_pos(&parser);
    llhttp_resume_after_upgrade(&parser);
  }
  return reference.complete;
}

// A socket the harness reads and writes on behalf of the client or the backend.
struct Peer {
  int fd = -1;
  std::string in;       // Everything received.
  std::string out;      // Waiting to be sent.
  size_t answered = 0;  // Backend: where the next unanswered request starts in `in`.
  bool eof = false;     // The proxy closed its side.
};

// One input, from connect to teardown.
class Exchange {
 public:
  Exchange(std::string_view client_bytes, std::string_view answer)
      : client_bytes_(client_bytes), answer_(answer) {}

  void run();
  void check() const;

 private:
  bool pumpPeers();
  bool readPeer(Peer& peer);
  bool writePeer(Peer& peer);
  void answerRequests(Peer& peer);
  bool loopQuiet();
  void pumpUntilQuiet(const char* phase);
  void stopWorker();
  void checkBackend(std::vector<Message>* forwarded) const;
  void checkResponses(const std::vector<ClientRequest>& reference) const;

  std::string_view client_bytes_;
  std::string_view answer_;
  HealthRegistry health_;
  std::unique_ptr<Worker> worker_;
  Peer client_;
  std::vector<Peer> backends_;
};

void Exchange::run() {
  Shared& common = shared();
  worker_ = std::make_unique<Worker>(0, common.store, common.sink, health_);
  worker_->snapshot();
  worker_->startListener("main", ::dup(common.proxy_fd));

  client_.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(client_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(common.proxy_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(client_.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  client_.out.assign(client_bytes_);
  pumpUntilQuiet("exchange");

  // The client finishes sending, then goes away; then the backends do.
  ::shutdown(client_.fd, SHUT_WR);
  pumpUntilQuiet("client half-close");
  closeHard(client_.fd);
  for (Peer& backend : backends_) {
    closeHard(backend.fd);
  }
  pumpUntilQuiet("peers gone");
  stopWorker();
}

bool Exchange::pumpPeers() {
  bool progress = false;
  for (;;) {
    int fd = ::accept4(shared().backend_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      break;
    }
    Peer backend;
    backend.fd = fd;
    backends_.push_back(std::move(backend));
    progress = true;
  }

  progress = writePeer(client_) || progress;
  progress = readPeer(client_) || progress;
  for (Peer& backend : backends_) {
    if (readPeer(backend)) {
      progress = true;
      answerRequests(backend);
    }
    progress = writePeer(backend) || progress;
  }
  return progress;
}

bool Exchange::readPeer(Peer& peer) {
  bool progress = false;
  char chunk[16384];
  while (!peer.eof) {
    ssize_t n = ::recv(peer.fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      peer.in.append(chunk, static_cast<size_t>(n));
      progress = true;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      peer.eof = true;
      progress = true;
    }
    break;
  }
  return progress;
}

bool Exchange::writePeer(Peer& peer) {
  if (peer.out.empty() || peer.eof) {
    return false;
  }
  ssize_t n = ::send(peer.fd, peer.out.data(), peer.out.size(), MSG_NOSIGNAL);
  if (n <= 0) {
    return false;
  }
  peer.out.erase(0, static_cast<size_t>(n));
  return true;
}

void Exchange::answerRequests(Peer& peer) {
  for (;;) {
    Message request = readForwardedRequest(std::string_view(peer.in).substr(peer.answered));
    if (request.parse != Parse::Complete) {
      return;  // An invalid one is reported by check().
    }
    peer.answered += request.length;
    peer.out.append(answer_);
  }
}

// True when libuv has nothing to do now: no callback pending, no timer due and no socket
// ready.
bool Exchange::loopQuiet() {
  uv_loop_t* loop = worker_->loop();
  if (uv_backend_timeout(loop) == 0) {
    return false;
  }
  pollfd ready{uv_backend_fd(loop), POLLIN, 0};
  return ::poll(&ready, 1, 0) == 0;
}

void Exchange::pumpUntilQuiet(const char* phase) {
  int quiet = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    uv_run(worker_->loop(), UV_RUN_NOWAIT);
    bool progress = pumpPeers();
    quiet = !progress && loopQuiet() ? quiet + 1 : 0;
    if (quiet >= 2) {
      return;
    }
  }
  finding(std::string("the proxy never went quiet: ") + phase, client_bytes_);
}

void Exchange::stopWorker() {
  // A drain with no grace closes every connection and handle; the loop must then empty.
  worker_->requestStop(0);
  for (int round = 0; round < kMaxRounds && uv_loop_alive(worker_->loop()) != 0; ++round) {
    uv_run(worker_->loop(), UV_RUN_NOWAIT);
  }
  if (uv_loop_alive(worker_->loop()) != 0) {
    finding("handles still open after the worker stopped", client_bytes_);
  }
  worker_.reset();
}

void Exchange::checkBackend(std::vector<Message>* forwarded) const {
  for (const Peer& backend : backends_) {
    std::string_view rest = backend.in;
    while (!rest.empty()) {
      Message request = readForwardedRequest(rest);
      if (request.parse == Parse::Invalid) {
        finding("forwarded an invalid request: " + request.problem,
                std::string(client_bytes_) + "\n---- upstream got:\n" + backend.in);
      }
      forwarded->push_back(request);
      if (request.parse == Parse::Incomplete) {
        break;  // A request cut short: the proxy gave up on it and closed.
      }
      rest.remove_prefix(request.length);
    }
  }
}

void Exchange::checkResponses(const std::vector<ClientRequest>& reference) const {
  std::string_view rest = client_.in;
  size_t finals = 0;
  while (!rest.empty()) {
    bool head = finals < reference.size() && reference[finals].method == "HEAD";
    Message response = readResponse(rest, head, client_.eof);
    if (response.parse == Parse::Invalid) {
      finding("answered an invalid response: " + response.problem,
              std::string(client_bytes_) + "\n---- client got:\n" + client_.in);
    }
    if (response.parse == Parse::Incomplete) {
      break;  // Cut short: the proxy closed (an upstream that died mid-response).
    }
    rest.remove_prefix(response.length);
    if (response.status < 200) {
      continue;
    }
    ++finals;
  }
  if (finals > reference.size() + 1) {
    finding("more responses than requests",
            std::string(client_bytes_) + "\n---- client got:\n" + client_.in);
  }
}

void Exchange::check() const {
  if (std::getenv("TURNOUT_FUZZ_VERBOSE") != nullptr) {
    fprintf(stderr, "---- client sent:\n%.*s\n", static_cast<int>(client_bytes_.size()),
            client_bytes_.data());
    for (const Peer& backend : backends_) {
      fprintf(stderr, "---- a backend connection got:\n%s\n", backend.in.c_str());
    }
    fprintf(stderr, "---- client got%s:\n%s\n", client_.eof ? " (then the close)" : "",
            client_.in.c_str());
  }
  std::vector<ClientRequest> reference = referenceRequests(client_bytes_);
  std::vector<Message> forwarded;
  checkBackend(&forwarded);

  // The forwarded requests are the client's, in order, some perhaps answered locally and
  // not forwarded: a subsequence of what llhttp reads, same method, target and body.
  // A request cut short may be one llhttp never completed (its body turned out bad), so
  // it need not match. An absolute-form target may be rewritten to origin-form.
  size_t next = 0;
  for (const Message& request : forwarded) {
    size_t start = next;
    bool matched = false;
    while (next < reference.size() && !matched) {
      const ClientRequest& candidate = reference[next++];
      bool same_body = request.parse == Parse::Complete
                           ? request.body == candidate.body
                           : candidate.body.compare(0, request.body.size(), request.body) == 0;
      bool same_target = request.target == candidate.target || !candidate.target.starts_with('/');
      matched = request.method == candidate.method && same_target && same_body;
    }
    if (matched) {
      continue;
    }
    if (request.parse == Parse::Complete) {
      finding(
          "forwarded a request the client did not send: " + request.method + " " + request.target,
          client_bytes_);
    }
    next = start;
  }
  checkResponses(reference);
}

}  // namespace
}  // namespace turnout::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view client = input;
  std::string_view answer = turnout::fuzz::kDefaultAnswer;
  size_t mark = input.find(turnout::fuzz::kAnswerMark);
  if (mark != std::string_view::npos) {
    client = input.substr(0, mark);
    answer = input.substr(mark + turnout::fuzz::kAnswerMark.size());
  }
  if (client.empty()) {
    return 0;
  }

  turnout::fuzz::Exchange exchange(client, answer);
  exchange.run();
  exchange.check();
  return 0;
}
