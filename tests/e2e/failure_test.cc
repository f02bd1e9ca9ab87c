// End to end: the answers turnout gives itself (a dead backend, an empty pool, a slow
// backend, a request that is malformed, too large or unroutable), each with its own status
// and code, and the proxy serving on afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// /dead goes to a backend that is stopped after start, /empty to a pool without endpoints,
// /slow to blue with a 0.3 s timeout, the rest to blue.
constexpr const char* kFailureConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: dead
              match:
                prefix: "/dead"
              route:
                cluster: dead
            - name: empty
              match:
                prefix: "/empty"
              route:
                cluster: empty
            - name: slow
              match:
                prefix: "/slow"
              route:
                cluster: blue
                timeout: "0.3s"
            - name: rest
              match:
                prefix: "/"
              route:
                cluster: blue
clusters:
  - name: blue
    endpoints:
      - address: "{{BLUE}}"
  - name: dead
    connect_timeout: "1s"
    endpoints:
      - address: "{{DEAD}}"
  - name: empty
    endpoints: []
)";

struct FailureCase {
  std::string name;
  std::string target;
  int status = 0;
  // The body must start with "<code>:" for one of these codes.
  std::vector<std::string> codes;
};

bool startsWithCode(const std::string& body, const std::vector<std::string>& codes) {
  for (const std::string& code : codes) {
    if (body.rfind(code + ":", 0) == 0) {
      return true;
    }
  }
  return false;
}

// GoogleTest prints a failing case by its name.
void PrintTo(const FailureCase& param, std::ostream* out) {
  *out << param.name;
}

using FailureTest = E2eParamTest<FailureCase>;

TEST_P(FailureTest, AnswersErrorAndKeepsServingOtherRoutes) {
  const FailureCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "dead"}));
  uint16_t port = env_.startProxy(kFailureConfig);
  ASSERT_NE(port, 0);

  // The dead backend answers once, so the proxy may hold a pooled connection to it,
  // then goes away.
  HttpClient warm(port);
  ASSERT_EQ(warm.get("/dead").status, 200);
  env_.backend("dead").stop();

  for (int round = 0; round < 3; ++round) {
    HttpClient failing(port);
    auto started = std::chrono::steady_clock::now();
    HttpResponse resp = failing.get(param.target);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(resp.status, param.status) << resp.error << " round " << round;
    EXPECT_TRUE(startsWithCode(resp.body, param.codes)) << "body: " << resp.body;
    EXPECT_LT(took, std::chrono::milliseconds(2500)) << "the error came late";

    HttpClient healthy(port);
    HttpResponse ok = healthy.get("/fine");
    EXPECT_EQ(ok.status, 200) << ok.error << " round " << round;
    EXPECT_EQ(ok.header("x-backend"), "blue");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Failures, FailureTest,
    ::testing::Values(
        // The stale pooled connection may be noticed before or after the request is sent.
        FailureCase{
            "StoppedBackend502", "/dead", 502, {"upstream_connect_failed", "upstream_reset"}},
        FailureCase{"EmptyPool503", "/empty", 503, {"no_endpoint"}},
        FailureCase{"SlowBackend504", "/slow?ms=3000", 504, {"upstream_timeout"}}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.name; });

// Small limits and one route, so each case below is answered by turnout itself.
constexpr const char* kLocalAnswerConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    max_request_headers_bytes: 1024
    max_request_body_bytes: 100
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: api
              match:
                prefix: "/api"
              route:
                cluster: blue
)";

// Raw request bytes and the local answer they must get.
struct LocalCase {
  std::string name;
  std::string request;
  int status = 0;
  std::string code;
  bool reaches_backend = false;  // True: the backend may have seen part of it.
};

void PrintTo(const LocalCase& param, std::ostream* out) {
  *out << param.name;
}

using LocalAnswerTest = E2eParamTest<LocalCase>;

TEST_P(LocalAnswerTest, AnswersWithCodeInBody) {
  const LocalCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(std::string(kLocalAnswerConfig) + kBlueGreenClusters);
  ASSERT_NE(port, 0);
  BackendStats before = backendStats(env_.backendPort("blue"));

  HttpClient client(port);
  HttpResponse resp = client.raw(param.request);
  EXPECT_EQ(resp.status, param.status) << resp.error;
  EXPECT_EQ(resp.body.rfind(param.code + ": ", 0), 0u) << "body: " << resp.body;
  EXPECT_EQ(resp.body.empty() ? ' ' : resp.body.back(), '\n') << "body: " << resp.body;

  // A request refused as malformed or too large must not have reached the backend.
  if (!param.reaches_backend) {
    EXPECT_EQ(backendStats(env_.backendPort("blue")).requests, before.requests);
  }

  // The proxy still serves.
  HttpClient next(port);
  EXPECT_EQ(next.get("/api/ok").status, 200);
}

const std::string kLongHeader = "X-Long: " + std::string(2000, 'a') + "\r\n";

INSTANTIATE_TEST_SUITE_P(
    LocalAnswers, LocalAnswerTest,
    ::testing::Values(
        LocalCase{"NoRoute404", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no_route"},
        LocalCase{"GarbageRequestLine400", "NOT HTTP AT ALL\r\n\r\n", 400, "bad_request"},
        LocalCase{"ContentLengthWithChunked400",
                  "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  400, "bad_request"},
        LocalCase{"ConflictingContentLengths400",
                  "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                  "Content-Length: 2\r\n\r\nab",
                  400, "bad_request"},
        LocalCase{"ObsFold400", "GET /api HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400,
                  "bad_request"},
        LocalCase{
            "BodyTooLarge413",
            "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'b'),
            413, "body_too_large"},
        LocalCase{"ChunkedBodyTooLarge413",
                  "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "c8\r\n" +
                      std::string(200, 'c') + "\r\n0\r\n\r\n",
                  413, "body_too_large", true},
        LocalCase{"HeadersTooLarge431", "GET /api HTTP/1.1\r\nHost: x\r\n" + kLongHeader + "\r\n",
                  431, "headers_too_large"}),
    [](const ::testing::TestParamInfo<LocalCase>& info) { return info.param.name; });

}  // namespace
}  // namespace turnout::e2e
