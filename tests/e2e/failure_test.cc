// End to end: a dead backend, an empty pool and a slow backend each get their own error
// answer, and the proxy goes on serving the other routes.
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

}  // namespace
}  // namespace turnout::e2e
