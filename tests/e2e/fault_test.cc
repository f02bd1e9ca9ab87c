// End to end: backends that fail while turnout talks to them (killed mid-response, silent,
// answering garbage, resetting) and a flood of failed connects. Each client of a failing
// backend gets a clean error or a visibly truncated response; every other client is
// served as if nothing happened; the proxy keeps no file descriptor or memory of it.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <ostream>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"
#include "tests/e2e/raw_backend.h"

namespace turnout::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// Under AddressSanitizer freed memory waits in a quarantine, so the resident set of a
// sanitized proxy grows with every allocation and says nothing about leaks (LeakSanitizer
// does that job there).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// /faulty goes to the backend under test, everything else to a healthy one. No retries
// and no ejection: each request meets the fault itself.
constexpr const char* kFaultConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: faulty
              match:
                prefix: "/faulty"
              route:
                cluster: faulty
                timeout: "0.5s"
                retry_policy:
                  num_retries: 0
            - name: healthy
              match:
                prefix: "/"
              route:
                cluster: healthy
clusters:
  - name: faulty
    connect_timeout: "1s"
    outlier_detection:
      disabled: true
    endpoints:
      - address: "{{FAULTY}}"
  - name: healthy
    endpoints:
      - address: "{{HEALTHY}}"
)";

std::string loopbackAddress(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// What a raw client saw: every byte until the proxy closed or `limit` passed.
struct RawReply {
  std::string bytes;
  bool closed = false;
};

// A blocking loopback socket connected to the proxy, or -1.
int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    fd = -1;
  }
  return fd;
}

// Reads into `reply` until the peer closes, `wanted` bytes arrived, or `limit` passed.
void readSome(int fd, RawReply* reply, size_t wanted, Millis limit) {
  auto deadline = Clock::now() + limit;
  char chunk[65536];
  while (!reply->closed && reply->bytes.size() < wanted && Clock::now() < deadline) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 20) <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      reply->closed = true;
      break;
    }
    reply->bytes.append(chunk, static_cast<size_t>(n));
  }
}

RawReply exchangeRaw(uint16_t port, const std::string& request, Millis limit) {
  RawReply reply;
  int fd = connectTo(port);
  if (fd < 0) {
    return reply;
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  readSome(fd, &reply, SIZE_MAX, limit);
  ::close(fd);
  return reply;
}

// The number of open file descriptors of a process, from /proc.
int openFds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return -1;
  }
  int count = 0;
  while (dirent* entry = ::readdir(dir)) {
    count += entry->d_name[0] != '.' ? 1 : 0;
  }
  ::closedir(dir);
  return count;
}

// The resident set of a process in KiB (VmRSS), or -1.
long residentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return -1;
}

class FaultTest : public E2eTest {
 protected:
  // Starts the healthy backend and a proxy whose faulty cluster points at `faulty_port`.
  uint16_t start(uint16_t faulty_port, int workers = 2) {
    env_.setValue("FAULTY", loopbackAddress(faulty_port));
    env_.setValue("HEALTHY", loopbackAddress(healthy_.port()));
    return env_.startProxy(kFaultConfig, workers);
  }

  // A keep-alive client of the healthy backend: every request must be a 200.
  void expectHealthy(HttpClient& client, const std::string& when) {
    HttpResponse resp = client.get("/fine");
    EXPECT_EQ(resp.status, 200) << when << ": " << resp.error;
    EXPECT_EQ(resp.body, "ok") << when;
  }

  RawBackend healthy_;
};

// A backend failure mode and what the client must see.
struct FaultCase {
  std::string name;
  std::string answer;
  RawBackend::AfterAnswer after = RawBackend::AfterAnswer::KeepOpen;
  int status = 0;    // 0: the response head arrives, then the connection is cut.
  std::string code;  // The local answer's code, first word of its body.
};

void PrintTo(const FaultCase& param, std::ostream* out) {
  *out << param.name;
}

class BackendFaultTest : public E2eParamTest<FaultCase> {};

TEST_P(BackendFaultTest, ClientGetsCleanErrorAndOthersAreServed) {
  const FaultCase& param = GetParam();
  RawBackend faulty;
  RawBackend healthy;
  faulty.setAnswer(param.answer, param.after);
  env_.setValue("FAULTY", loopbackAddress(faulty.port()));
  env_.setValue("HEALTHY", loopbackAddress(healthy.port()));
  uint16_t port = env_.startProxy(kFaultConfig);
  ASSERT_NE(port, 0);

  // A client of the healthy backend keeps its connection through it all.
  HttpClient bystander(port);
  EXPECT_EQ(bystander.get("/before").status, 200);

  for (int round = 0; round < 2; ++round) {
    auto started = Clock::now();
    // Connection: close, so that the end of the answer is the end of the connection.
    RawReply reply = exchangeRaw(
        port, "GET /faulty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Millis(3000));
    auto took = Clock::now() - started;
    EXPECT_LT(took, std::chrono::milliseconds(2500)) << "round " << round;

    if (param.status != 0) {
      std::string status_line = "HTTP/1.1 " + std::to_string(param.status) + " ";
      EXPECT_EQ(reply.bytes.rfind(status_line, 0), 0u) << reply.bytes;
      EXPECT_NE(reply.bytes.find("\r\n\r\n" + param.code + ": "), std::string::npos) << reply.bytes;
    } else {
      // The head went out before the failure: the client must see the body cut short, and
      // the connection closed, never a response that looks complete.
      EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 200 ", 0), 0u) << reply.bytes;
      size_t head_end = reply.bytes.find("\r\n\r\n");
      ASSERT_NE(head_end, std::string::npos) << reply.bytes;
      EXPECT_LT(reply.bytes.size() - head_end - 4, 100u) << reply.bytes;
      EXPECT_TRUE(reply.closed);
    }
    EXPECT_EQ(bystander.get("/during").status, 200) << "round " << round;
  }

  EXPECT_EQ(bystander.get("/after").status, 200);
  HttpClient fresh(port);
  EXPECT_EQ(fresh.get("/fresh").status, 200);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, BackendFaultTest,
    ::testing::Values(FaultCase{"SilentGets504", "", RawBackend::AfterAnswer::KeepOpen, 504,
                                "upstream_timeout"},
                      FaultCase{"GarbageGets502", "SSH-2.0-OpenSSH\r\n\r\n",
                                RawBackend::AfterAnswer::KeepOpen, 502, "upstream_bad_response"},
                      FaultCase{"ResetBeforeAnswerGets502", "", RawBackend::AfterAnswer::Reset, 502,
                                "upstream_reset"},
                      FaultCase{"CloseBeforeAnswerGets502", "", RawBackend::AfterAnswer::Close, 502,
                                "upstream_reset"},
                      FaultCase{"HalfHeadThenCloseGets502", "HTTP/1.1 200 OK\r\nContent-Le",
                                RawBackend::AfterAnswer::Close, 502, "upstream_reset"},
                      FaultCase{"ResetAfterHeadersTruncates",
                                "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b",
                                RawBackend::AfterAnswer::ResetSoon, 0, ""}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

// The demo backend streams /download in 64 KiB pieces as fast as the proxy reads; the
// client reads slowly, so the backend is mid-response when it is killed.
constexpr const char* kKillConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: download
              match:
                prefix: "/download"
              route:
                cluster: blue
                retry_policy:
                  num_retries: 0
            - name: rest
              match:
                prefix: "/"
              route:
                cluster: green
clusters:
  - name: blue
    connect_timeout: "1s"
    endpoints:
      - address: "{{BLUE}}"
  - name: green
    endpoints:
      - address: "{{GREEN}}"
)";

using KillTest = E2eTest;

TEST_F(KillTest, BackendKilledMidResponseCutsOnlyItsOwnClient) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(kKillConfig);
  ASSERT_NE(port, 0);
  HttpClient bystander(port);
  ASSERT_EQ(bystander.get("/before").status, 200);

  // 100 MB announced; read a little over a megabyte of it.
  constexpr size_t kAnnounced = 100 * 1000 * 1000;
  int fd = connectTo(port);
  ASSERT_GE(fd, 0);
  std::string request =
      "GET /download?bytes=" + std::to_string(kAnnounced) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  RawReply reply;
  readSome(fd, &reply, 1 << 20, Millis(5000));
  ASSERT_EQ(reply.bytes.rfind("HTTP/1.1 200 ", 0), 0u) << reply.bytes.substr(0, 200);
  ASSERT_FALSE(reply.closed);

  ::kill(env_.backend("blue").pid(), SIGKILL);
  env_.backend("blue").waitExit(Millis(3000));

  // What is still buffered arrives, then the end: well short of the announced length.
  readSome(fd, &reply, SIZE_MAX, Millis(10000));
  ::close(fd);
  EXPECT_TRUE(reply.closed) << "the cut response never ended";
  EXPECT_LT(reply.bytes.size(), kAnnounced / 2);

  // The other clients notice nothing; new requests to the dead backend fail cleanly.
  EXPECT_EQ(bystander.get("/after").status, 200);
  HttpClient late(port);
  HttpResponse failed = late.get("/download?bytes=10");
  EXPECT_TRUE(failed.status == 502 || failed.status == 503) << failed.status << failed.error;
  EXPECT_EQ(late.get("/fine").status, 200);
  EXPECT_TRUE(env_.proxy(0).running());
}

// docs/config.md: a route's timeout is the time allowed without progress, "any gap in the
// upload". An upload of 1 MiB that arrives in 64 KiB pieces every 100 ms never pauses for
// long, yet lasts three times the faulty route's 0.5 s. Pieces of 4 KiB or more go to the
// socket straight from the read buffer and leave the outbox empty; they must count as
// progress all the same.
TEST_F(FaultTest, SteadyUploadOutlastingTheTimeoutIsServed) {
  RawBackend faulty;
  ASSERT_NE(faulty.port(), 0);
  uint16_t port = start(faulty.port(), 1);
  ASSERT_NE(port, 0);

  constexpr size_t kPiece = 64 * 1024;
  constexpr int kPieces = 16;
  int fd = connectTo(port);
  ASSERT_GE(fd, 0);
  std::string head = "POST /faulty/upload HTTP/1.1\r\nHost: x\r\ncontent-length: " +
                     std::to_string(kPiece * kPieces) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));

  // A refused send means the proxy has already answered and closed: stop sending.
  std::string piece(kPiece, 'u');
  for (int i = 0; i < kPieces; ++i) {
    if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kPiece)) {
      break;
    }
    std::this_thread::sleep_for(Millis(100));
  }

  RawReply reply;
  readSome(fd, &reply, std::string(kDefaultRawAnswer).size(), Millis(3000));
  ::close(fd);
  EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 200 ", 0), 0u) << reply.bytes.substr(0, 200);
  EXPECT_EQ(faulty.requests(), 1);
}

TEST_F(FaultTest, TenThousandFailedConnectsLeaveFdsAndMemoryAlone) {
  // Nothing listens on the faulty address: every connect is refused at once.
  uint16_t port = start(freePort(), 1);
  ASSERT_NE(port, 0);
  pid_t pid = env_.proxy(0).pid();
  HttpClient client(port);
  HttpClient bystander(port);

  auto fail = [&](int count) {
    int failed = 0;
    for (int i = 0; i < count; ++i) {
      HttpResponse resp = client.get("/faulty");
      failed += resp.status == 502 && resp.body.rfind("upstream_connect_failed: ", 0) == 0;
    }
    return failed;
  };

  // A warm-up first, so that allocator caches and buffers reach their working size.
  ASSERT_EQ(fail(1000), 1000);
  expectHealthy(bystander, "after the warm-up");
  int fds_before = openFds(pid);
  long rss_before = residentKib(pid);

  EXPECT_EQ(fail(10000), 10000);
  expectHealthy(bystander, "after the flood");
  int fds_after = openFds(pid);
  long rss_after = residentKib(pid);

  EXPECT_EQ(fds_after, fds_before);
  if (!kSanitized) {
    EXPECT_LE(rss_after, rss_before + rss_before / 20 + 256)
        << "RSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
  }
  std::cerr << "fds " << fds_before << " -> " << fds_after << ", RSS " << rss_before << " KiB -> "
            << rss_after << " KiB\n";
}

}  // namespace
}  // namespace turnout::e2e
