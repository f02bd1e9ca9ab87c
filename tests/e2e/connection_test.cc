// End to end: upstream keep-alive reuse and request/response bodies passing intact.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// Everything goes to blue.
constexpr const char* kBlueOnly = kBlueOnlyListener;

constexpr size_t kTenMegabytes = 10 * 1024 * 1024;

std::string blueOnly() {
  return std::string(kBlueOnly) + kBlueGreenClusters;
}

// The first word of `sha256sum FILE`.
std::string sha256File(const std::string& path) {
  CommandResult result = runCommand("sha256sum " + shellQuote(path));
  return result.exit_code == 0 ? result.output.substr(0, 64) : "sha256sum failed";
}

// `size` bytes of xorshift noise: compresses badly and repeats nowhere.
void writeNoise(const std::string& path, size_t size) {
  std::string data(size, '\0');
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  for (char& byte : data) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    byte = static_cast<char>(state >> 56);
  }
  std::ofstream(path, std::ios::binary) << data;
}

// The demo backend's download pattern: 0, 1, ..., 255, 0, 1, ...
void writePattern(const std::string& path, size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(i % 256);
  }
  std::ofstream(path, std::ios::binary) << data;
}

// Reads one response with a Content-Length body; returns its status line, or what was
// read when the connection closed or timed out first.
std::string readResponse(int fd) {
  std::string bytes;
  char chunk[4096];
  for (int reads = 0; reads < 100; ++reads) {
    size_t head_end = bytes.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length_at = bytes.find("content-length: ");
      size_t length = length_at == std::string::npos ? 0 : std::stoul(bytes.substr(length_at + 16));
      if (bytes.size() >= head_end + 4 + length) {
        return bytes.substr(0, bytes.find("\r\n"));
      }
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return "no complete response: " + bytes;
    }
    bytes.append(chunk, static_cast<size_t>(n));
  }
  return "no complete response: " + bytes;
}

using ConnectionTest = E2eTest;

// A head that trickles in (a slow link, a retransmission) has the idle timeout to
// complete, on a new connection and on a kept-alive one alike.
TEST_F(ConnectionTest, HeadArrivingInPiecesIsServed) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(blueOnly(), 1);
  ASSERT_NE(port, 0);
  int fd = connectLoopback(port, Millis(3000));
  ASSERT_GE(fd, 0);

  for (int request = 0; request < 2; ++request) {
    std::string first = "GET /a HTTP/1.1\r\nHo";
    std::string rest = "st: x\r\n\r\n";
    ASSERT_EQ(::send(fd, first.data(), first.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(first.size()));
    std::this_thread::sleep_for(Millis(600));
    ASSERT_EQ(::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(rest.size()));
    EXPECT_EQ(readResponse(fd), "HTTP/1.1 200 OK") << "request " << request;
  }
  ::close(fd);
}

TEST_F(ConnectionTest, KeepAliveConnectionsAreReusedUpstream) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(blueOnly(), 2);
  ASSERT_NE(port, 0);
  BackendStats before = backendStats(env_.backendPort("blue"));
  ASSERT_GE(before.accepted, 0);

  std::map<std::string, int> counts = countBackends(port, 500, 5);
  EXPECT_EQ(counts["blue"], 500);

  // 5 client connections on 2 workers need at most a handful of upstream connections;
  // one per request would be 500. The stats request itself is one more accept.
  BackendStats after = backendStats(env_.backendPort("blue"));
  EXPECT_EQ(after.requests - before.requests, 500);
  EXPECT_LT(after.accepted - before.accepted, 20)
      << "upstream connections opened for 500 requests on 5 client connections";
}

TEST_F(ConnectionTest, ChunkedRequestOfManySmallChunksArrivesIntact) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(blueOnly());
  ASSERT_NE(port, 0);

  // Chunks of 1, 2, ... 40 bytes, one with an extension, sent as one stream of bytes.
  std::string body;
  std::string framed;
  for (int size = 1; size <= 40; ++size) {
    std::string chunk(size, static_cast<char>('a' + size % 26));
    body += chunk;
    char length[16];
    snprintf(length, sizeof(length), "%x", size);
    framed += std::string(length) + (size == 7 ? ";ext=1" : "") + "\r\n" + chunk + "\r\n";
  }
  framed += "0\r\n\r\n";
  std::string local = env_.dir().file("chunked-body");
  std::ofstream(local, std::ios::binary) << body;

  HttpClient client(port);
  HttpResponse resp = client.raw(
      "POST /upload HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      framed);
  ASSERT_EQ(resp.status, 200) << resp.error;
  Echo echo = parseEcho(resp.body);
  EXPECT_EQ(echo.body_bytes, static_cast<int64_t>(body.size()));
  EXPECT_EQ(echo.body_sha256, sha256File(local));

  // The connection stays usable after a chunked body.
  EXPECT_EQ(client.get("/after").status, 200);
}

// A 10 MiB body in one direction, framed one way.
struct BodyCase {
  std::string name;
  bool upload = true;
  bool chunked = false;
};

// GoogleTest prints a failing case by its name.
void PrintTo(const BodyCase& param, std::ostream* out) {
  *out << param.name;
}

using BodyTest = E2eParamTest<BodyCase>;

TEST_P(BodyTest, TenMegabyteBodyPassesIntact) {
  const BodyCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(blueOnly());
  ASSERT_NE(port, 0);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::string local = env_.dir().file("local.bin");

  if (param.upload) {
    // "Expect:" keeps curl from waiting for 100-continue; this test is about the bytes.
    writeNoise(local, kTenMegabytes);
    std::string framing = param.chunked ? "-H 'Transfer-Encoding: chunked' " : "";
    CommandResult result = runCommand(curlPrefix() + "-H 'Expect:' " + framing + "--data-binary @" +
                                      shellQuote(local) + " " + base + "/upload");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    Echo echo = parseEcho(result.output);
    ASSERT_TRUE(echo.ok) << result.output.substr(0, 300);
    EXPECT_EQ(echo.body_bytes, static_cast<int64_t>(kTenMegabytes));
    EXPECT_EQ(echo.body_sha256, sha256File(local));
    return;
  }

  writePattern(local, kTenMegabytes);
  std::string fetched = env_.dir().file("fetched.bin");
  std::string url = base + "/download?bytes=" + std::to_string(kTenMegabytes) +
                    (param.chunked ? "&chunked=1" : "");
  CommandResult result = runCommand(curlPrefix() + "-o " + shellQuote(fetched) +
                                    " -w '%{http_code} %{size_download}' " + shellQuote(url));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "200 " + std::to_string(kTenMegabytes));
  EXPECT_EQ(sha256File(fetched), sha256File(local));
}

INSTANTIATE_TEST_SUITE_P(Bodies, BodyTest,
                         ::testing::Values(BodyCase{"UploadContentLength", true, false},
                                           BodyCase{"UploadChunked", true, true},
                                           BodyCase{"DownloadContentLength", false, false},
                                           BodyCase{"DownloadChunked", false, true}),
                         [](const ::testing::TestParamInfo<BodyCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace turnout::e2e
