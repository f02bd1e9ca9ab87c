// End to end: WebSocket upgrades and CONNECT through turnout to a real echo backend
// (tests/e2e/ws_backend.py): the handshake, echoes both ways, the split, refusals,
// closes from either side, the idle timeout, SIGTERM, and the config that turns it off.
#include <arpa/inet.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// RFC 6455 1.3's example key and the accept value it must produce.
constexpr const char* kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

struct Frame {
  bool fin = true;
  int opcode = 0;
  std::string payload;
};

// A blocking WebSocket client on one loopback connection; every wait is bounded.
class WsClient {
 public:
  explicit WsClient(uint16_t port, Millis timeout = Millis(5000)) : timeout_(timeout) {
    fd_ = connectLoopback(port, timeout);
  }

  ~WsClient() { close(); }

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  bool sendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (fd_ >= 0 && sent < bytes.size()) {
      if (!waitFor(POLLOUT)) {
        return false;
      }
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return fd_ >= 0;
  }

  // The request head of a WebSocket handshake (RFC 6455 4.1).
  static std::string handshakeRequest(const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Key: " +
           std::string(kSampleKey) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }

  // Sends the handshake and reads the answer's head; "" when none came.
  std::string handshake(const std::string& target) {
    return sendRaw(handshakeRequest(target)) ? readHead() : "";
  }

  // Reads up to the end of a response head; the bytes after it stay buffered.
  std::string readHead() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return "";
      }
    }
    std::string head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    return head;
  }

  // Reads a whole response with a content-length body: head and body.
  std::string readResponse() {
    std::string head = readHead();
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    size_t at = lower.find("content-length: ");
    size_t length = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 16));
    std::string body;
    return readExactly(length, &body) ? head + body : head;
  }

  bool sendFrame(int opcode, const std::string& payload) {
    std::string frame(1, static_cast<char>(0x80 | opcode));
    uint64_t length = payload.size();
    if (length < 126) {
      frame += static_cast<char>(0x80 | length);
    } else if (length < 65536) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(length >> 8);
      frame += static_cast<char>(length & 0xff);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        frame += static_cast<char>((length >> shift) & 0xff);
      }
    }

    // RFC 6455 5.3: every client frame is masked.
    uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(reinterpret_cast<char*>(key), 4);
    size_t start = frame.size();
    frame += payload;
    for (size_t i = 0; i < payload.size(); ++i) {
      frame[start + i] = static_cast<char>(frame[start + i] ^ key[i % 4]);
    }
    return sendRaw(frame);
  }

  std::optional<Frame> readFrame() {
    std::string header;
    if (!readExactly(2, &header)) {
      return std::nullopt;
    }
    Frame frame;
    frame.fin = (header[0] & 0x80) != 0;
    frame.opcode = header[0] & 0x0f;
    uint64_t length = static_cast<uint8_t>(header[1]) & 0x7f;
    if (length >= 126) {
      std::string extended;
      if (!readExactly(length == 126 ? 2 : 8, &extended)) {
        return std::nullopt;
      }
      length = 0;
      for (char c : extended) {
        length = (length << 8) | static_cast<uint8_t>(c);
      }
    }
    if (!readExactly(length, &frame.payload)) {
      return std::nullopt;
    }
    return frame;
  }

  // True when the peer closes (EOF or reset) within `limit`; bytes before it are dropped.
  bool waitClosed(Millis limit) {
    auto deadline = Clock::now() + limit;
    char scratch[65536];
    while (Clock::now() < deadline) {
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, 50) <= 0) {
        continue;
      }
      ssize_t n = ::recv(fd_, scratch, sizeof(scratch), 0);
      if (n <= 0) {
        return true;
      }
    }
    return false;
  }

  // Everything up to the peer's close (bounded by the timeout); what came before included.
  std::string readUntilClose() {
    while (fill()) {
    }
    std::string all;
    all.swap(buffer_);
    return all;
  }

  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  bool connected() const { return fd_ >= 0; }

 private:
  bool waitFor(short events) {
    pollfd entry{fd_, events, 0};
    return ::poll(&entry, 1, static_cast<int>(timeout_.count())) == 1;
  }

  bool fill() {
    char chunk[65536];
    if (fd_ < 0 || !waitFor(POLLIN)) {
      return false;
    }
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  bool readExactly(size_t count, std::string* out) {
    while (buffer_.size() < count) {
      if (!fill()) {
        return false;
      }
    }
    out->assign(buffer_, 0, count);
    buffer_.erase(0, count);
    return true;
  }

  int fd_ = -1;
  Millis timeout_;
  std::string buffer_;
};

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

// The listener section: route "ws" over blue and green with the given weights, a CONNECT
// route on the same listener, and `listener_extra` / `route_extra` spliced in.
std::string tunnelConfig(int blue, int green, const std::string& listener_extra = "",
                         const std::string& route_extra = "") {
  return R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
)" + listener_extra +
         R"(
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: tunnel
              match: {connect_matcher: {}}
              route: {cluster: blue, upgrade_configs: [{upgrade_type: CONNECT}]}
            - name: ws
              match: {prefix: "/"}
              route:
                weighted_clusters:
                  clusters: [{name: blue, weight: )" +
         std::to_string(blue) + R"(}, {name: green, weight: )" + std::to_string(green) +
         R"(}]
)" + route_extra +
         R"(
admin: {address: "{{ADMIN}}"}
clusters:
  - {name: blue, endpoints: [{address: "{{BLUE}}"}]}
  - {name: green, endpoints: [{address: "{{GREEN}}"}]}
)";
}

int64_t openFds(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd", error);
  return error ? -1 : std::distance(fds, std::filesystem::directory_iterator());
}

class TunnelTest : public E2eTest {
 protected:
  // Starts the blue and green WebSocket backends and turnout (one worker) on `yaml`.
  bool startAll(const std::string& yaml) {
    if (!startBackends()) {
      return false;
    }
    admin_port_ = freePort();
    env_.setValue("ADMIN", "127.0.0.1:" + std::to_string(admin_port_));
    port_ = env_.startProxy(yaml, 1);
    return port_ != 0;
  }

  bool startBackends() {
    for (const char* name : {"blue", "green"}) {
      uint16_t port = freePort();
      std::vector<std::string> argv = {"python3", repoRoot() + "/tests/e2e/ws_backend.py",
                                       "--name",  name,
                                       "--port",  std::to_string(port)};
      auto process =
          std::make_unique<Process>(argv, env_.dir().file(std::string("ws-") + name + ".log"));
      if (!waitForPort(port, Millis(10000), process.get())) {
        return false;
      }
      backends_[name] = std::move(process);
      std::string key = name == std::string("blue") ? "BLUE" : "GREEN";
      addresses_[key] = "127.0.0.1:" + std::to_string(port);
      env_.setValue(key, addresses_[key]);
    }
    return true;
  }

  std::map<std::string, ProcessPtr> backends_;
  std::map<std::string, std::string> addresses_;  // "BLUE", "GREEN": host:port.
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

TEST_F(TunnelTest, HandshakeGets101WithTheBackendsAcceptKey) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0)));
  WsClient client(port_);
  std::string head = lowerCase(client.handshake("/chat"));

  EXPECT_EQ(head.rfind("http/1.1 101 ", 0), 0u) << head;
  EXPECT_NE(head.find("upgrade: websocket\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("connection: upgrade\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find(lowerCase(std::string("sec-websocket-accept: ") + kSampleAccept)),
            std::string::npos)
      << head;
  EXPECT_NE(head.find("x-backend: blue"), std::string::npos) << head;
}

TEST_F(TunnelTest, FramesEchoBothWaysIncludingTwoMebibytes) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0)));
  WsClient client(port_, Millis(10000));
  ASSERT_NE(client.handshake("/greet").find(" 101 "), std::string::npos);

  // The greeting came in the same segment as the 101: the proxy read it with the head.
  std::optional<Frame> greeting = client.readFrame();
  ASSERT_TRUE(greeting.has_value());
  EXPECT_EQ(greeting->payload, "hello from blue");

  ASSERT_TRUE(client.sendFrame(0x1, "ping-pong"));
  std::optional<Frame> small = client.readFrame();
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->payload, "ping-pong");

  // 2 MiB each way at once: far above the watermarks, so both directions pause and resume.
  // The frame is sent from a thread while this one reads the echo.
  std::string big(2 << 20, '\0');
  std::mt19937 random(7);
  std::generate(big.begin(), big.end(), [&random] { return static_cast<char>(random()); });
  bool sent = false;
  std::thread sender([&] { sent = client.sendFrame(0x2, big); });
  std::optional<Frame> echoed = client.readFrame();
  sender.join();
  ASSERT_TRUE(sent);
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(echoed->opcode, 0x2);
  EXPECT_TRUE(echoed->payload == big) << "echo of " << echoed->payload.size() << " bytes differs";

  // A close frame is answered with one, then the backend closes: so does the client side.
  ASSERT_TRUE(client.sendFrame(0x8, std::string("\x03\xe8", 2)));
  std::optional<Frame> close = client.readFrame();
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->opcode, 0x8);
  client.shutdownWrite();
  EXPECT_TRUE(client.waitClosed(Millis(3000)));

  // One access log line for the tunnel, written when it ended.
  std::string log;
  for (int i = 0; i < 20 && log.find("status=101") == std::string::npos; ++i) {
    std::this_thread::sleep_for(Millis(100));
    log = env_.proxy(0).log(20000);
  }
  size_t line = log.find("path=/greet status=101");
  ASSERT_NE(line, std::string::npos) << log;
  std::string text = log.substr(line, log.find('\n', line) - line);
  EXPECT_NE(text.find("cluster=blue"), std::string::npos) << text;
  EXPECT_NE(text.find("bytes_in=2097"), std::string::npos) << text;  // 2 MiB plus frames.
  EXPECT_NE(text.find("bytes_out=2097"), std::string::npos) << text;
}

TEST_F(TunnelTest, HandshakeFollowsTheSplitAndTheTunnelStaysAfterASwitch) {
  ASSERT_TRUE(startAll(tunnelConfig(0, 100)));
  WsClient tunnel(port_);
  ASSERT_NE(tunnel.handshake("/greet").find("x-backend: green"), std::string::npos);
  ASSERT_TRUE(tunnel.readFrame().has_value());

  // Everything to blue now: new requests go there, the open tunnel stays on green.
  HttpClient admin(admin_port_);
  HttpResponse switched =
      admin.request({"PUT", "/routes/ws/weights", {}, "{\"blue\":100,\"green\":0}"});
  ASSERT_EQ(switched.status, 200) << switched.body;
  WsClient fresh(port_);
  EXPECT_NE(fresh.handshake("/greet").find("x-backend: blue"), std::string::npos);
  EXPECT_EQ(HttpClient(port_).get("/plain").header("x-backend"), "blue");

  ASSERT_TRUE(tunnel.sendFrame(0x1, "still there?"));
  std::optional<Frame> echo = tunnel.readFrame();
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->payload, "still there?");
}

class RefusalTest : public TunnelTest, public ::testing::WithParamInterface<int> {};

TEST_P(RefusalTest, RefusedUpgradeIsAnOrdinaryAnswerAndTheConnectionGoesOnAsHttp) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0)));
  WsClient client(port_);

  // The next request is pipelined behind the handshake: it must wait, and be read as
  // HTTP once the answer is not a 101.
  std::string target = "/refuse" + std::to_string(GetParam());
  ASSERT_TRUE(client.sendRaw(WsClient::handshakeRequest(target) +
                             "GET /next HTTP/1.1\r\nHost: ws.test\r\n\r\n"));
  std::string refused = client.readResponse();
  EXPECT_EQ(refused.rfind("HTTP/1.1 " + std::to_string(GetParam()), 0), 0u) << refused;
  EXPECT_NE(refused.find("refused by blue"), std::string::npos) << refused;

  std::string next = client.readResponse();
  EXPECT_EQ(next.rfind("HTTP/1.1 200", 0), 0u) << next;
  EXPECT_NE(next.find("\r\n\r\nblue"), std::string::npos) << next;
}

INSTANTIATE_TEST_SUITE_P(Statuses, RefusalTest, ::testing::Values(200, 400));

TEST_F(TunnelTest, BackendDyingMidTunnelClosesTheClient) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0)));
  WsClient client(port_);
  ASSERT_NE(client.handshake("/chat").find(" 101 "), std::string::npos);
  ASSERT_TRUE(client.sendFrame(0x1, "before"));
  ASSERT_TRUE(client.readFrame().has_value());

  backends_["blue"]->stop();
  EXPECT_TRUE(client.waitClosed(Millis(3000)));
}

TEST_F(TunnelTest, TwoHundredClientClosesLeaveNoDescriptorOpen) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0)));
  pid_t pid = env_.proxy(0).pid();
  {
    WsClient warm(port_);  // Whatever the first tunnel allocates once.
    ASSERT_NE(warm.handshake("/chat").find(" 101 "), std::string::npos);
  }
  std::this_thread::sleep_for(Millis(200));
  int64_t before = openFds(pid);
  ASSERT_GT(before, 0);

  for (int i = 0; i < 200; ++i) {
    WsClient client(port_);
    ASSERT_NE(client.handshake("/chat").find(" 101 "), std::string::npos) << "tunnel " << i;
    ASSERT_TRUE(client.sendFrame(0x1, "n" + std::to_string(i)));
    ASSERT_TRUE(client.readFrame().has_value()) << "tunnel " << i;
  }

  // Each client closed without a close frame: the proxy must pass the FIN on and close
  // its upstream connection once the backend closes too.
  int64_t after = -1;
  for (int i = 0; i < 50 && after != before; ++i) {
    std::this_thread::sleep_for(Millis(100));
    after = openFds(pid);
  }
  EXPECT_EQ(after, before);
}

TEST_F(TunnelTest, IdleTunnelIsClosedAfterTheTunnelIdleTimeout) {
  ASSERT_TRUE(startAll(tunnelConfig(100, 0, "    tunnel_idle_timeout: \"0.5s\"")));
  WsClient client(port_);
  ASSERT_NE(client.handshake("/chat").find(" 101 "), std::string::npos);

  // Traffic keeps it open past the timeout.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(Millis(200));
    ASSERT_TRUE(client.sendFrame(0x1, "tick"));
    ASSERT_TRUE(client.readFrame().has_value()) << "closed while busy, after tick " << i;
  }

  auto start = Clock::now();
  EXPECT_TRUE(client.waitClosed(Millis(3000)));
  EXPECT_LT(Clock::now() - start, Millis(1500));
  std::this_thread::sleep_for(Millis(300));
  EXPECT_NE(env_.proxy(0).log(20000).find("error=tunnel_idle_timeout"), std::string::npos);
}

TEST_F(TunnelTest, SigtermWithAnOpenTunnelExitsWithinTheDrainTimeout) {
  ASSERT_TRUE(startBackends());
  uint16_t port = freePort();
  std::map<std::string, std::string> values = addresses_;
  values["LISTEN"] = "127.0.0.1:" + std::to_string(port);
  values["ADMIN"] = "127.0.0.1:" + std::to_string(freePort());
  std::string config = writeConfig(env_.dir(), "drain.yaml", tunnelConfig(100, 0), values);
  Process proxy({turnoutBin(), "run", "-c", config, "--workers", "1", "--drain-timeout", "1"},
                env_.dir().file("turnout-drain.log"));
  ASSERT_TRUE(waitForPort(port, Millis(10000), &proxy));

  WsClient client(port);
  ASSERT_NE(client.handshake("/chat").find(" 101 "), std::string::npos);
  auto start = Clock::now();
  ::kill(proxy.pid(), SIGTERM);
  std::optional<int> status = proxy.waitExit(Millis(4000));
  ASSERT_TRUE(status.has_value()) << "still running 4 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_LT(Clock::now() - start, Millis(3000));
  EXPECT_TRUE(client.waitClosed(Millis(1000)));
  EXPECT_NE(proxy.log(20000).find("error=drain_timeout"), std::string::npos) << proxy.log();
}

TEST_F(TunnelTest, UpgradeTurnedOffOnTheRouteIsStrippedAsBefore) {
  ASSERT_TRUE(startAll(tunnelConfig(
      100, 0, "", "                upgrade_configs: [{upgrade_type: websocket, enabled: false}]")));
  WsClient client(port_);
  ASSERT_TRUE(client.sendRaw(WsClient::handshakeRequest("/chat")));
  std::string answer = client.readResponse();

  // The backend saw a plain GET (no Upgrade) and answered it as one.
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\n\r\nblue"), std::string::npos) << answer;
}

TEST_F(TunnelTest, ConnectOnAnEnabledRouteTunnelsToTheBackend) {
  ASSERT_TRUE(startAll(tunnelConfig(0, 100)));
  WsClient client(port_);
  ASSERT_TRUE(
      client.sendRaw("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n"
                     "early bytes;"));
  std::string head = client.readHead();
  EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
  EXPECT_EQ(lowerCase(head).find("content-length"), std::string::npos) << head;

  // The backend echoes what came with the CONNECT head and after the 200, then closes
  // when the client's FIN reaches it. The connect route sends to blue whatever the split of
  // the other route says.
  ASSERT_TRUE(client.sendRaw("more bytes"));
  client.shutdownWrite();
  EXPECT_EQ(client.readUntilClose(), "early bytes;more bytes");
}

TEST_F(TunnelTest, ConnectIsRefusedWhereNoRouteEnablesIt) {
  ASSERT_TRUE(startAll(std::string(kBlueOnlyListener) + R"(
admin: {address: "{{ADMIN}}"}
clusters:
  - {name: blue, endpoints: [{address: "{{BLUE}}"}]}
)"));
  WsClient client(port_);
  ASSERT_TRUE(
      client.sendRaw("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n"));
  std::string answer = client.readResponse();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("connect_not_enabled: CONNECT is not enabled"), std::string::npos)
      << answer;
  EXPECT_TRUE(client.waitClosed(Millis(3000)));
}

}  // namespace
}  // namespace turnout::e2e
