// End to end: what turnout does when endpoints die or fail checks. A dead endpoint in a
// pool is retried around; a pool whose endpoints fail their health checks spills to the
// split's other pool, falls back to the named cluster, or (strict) answers 503; an
// endpoint that keeps failing live requests is ejected; SIGTERM lets a slow request end.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

using std::chrono::milliseconds;

// Polls `check` every 50 ms until it is true or `limit` passes.
template <typename Check>
bool eventually(Check check, milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return check();
}

// blue has a live endpoint and one nobody listens on; green is health-checked every 0.1 s
// on a path the test can make fail by stopping the backend.
constexpr const char* kResilienceConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: strict
              match: {prefix: "/strict"}
              route:
                weighted_clusters:
                  clusters: [{name: green, weight: 100}, {name: blue, weight: 0}]
                  strict: true
            - name: fallback
              match: {prefix: "/fallback"}
              route:
                weighted_clusters:
                  clusters: [{name: green, weight: 100}, {name: blue, weight: 0}]
                  fallback_cluster: blue
            - name: spill
              match: {prefix: "/spill"}
              route:
                weighted_clusters:
                  clusters: [{name: blue, weight: 50}, {name: green, weight: 50}]
            - name: rest
              match: {prefix: "/"}
              route:
                cluster: blue
clusters:
  - name: blue
    outlier_detection: {disabled: true}
    endpoints:
      - address: "{{BLUE}}"
      - address: "{{DEAD}}"
  - name: green
    endpoints:
      - address: "{{GREEN}}"
    health_check:
      path: "/status?code=200"
      interval: "0.1s"
      timeout: "0.5s"
      unhealthy_threshold: 1
      healthy_threshold: 1
)";

class ResilienceTest : public E2eTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.startBackends({"blue", "green"}));
    env_.setValue("DEAD", "127.0.0.1:" + std::to_string(freePort()));
    port_ = env_.startProxy(kResilienceConfig);
    ASSERT_NE(port_, 0);
  }

  // Stops green and waits until turnout's checks have seen it down.
  void stopGreen() {
    env_.backend("green").stop();
    HttpClient client(port_);
    ASSERT_TRUE(eventually([&] { return client.get("/strict").status == 503; },
                           milliseconds(5000)));
  }

  uint16_t port_ = 0;
};

TEST_F(ResilienceTest, DeadEndpointInPoolIsRetriedAround) {
  // Without the retry, about half of these would meet the dead endpoint first. Outlier
  // detection is off for blue, so every request really picks among both endpoints.
  HttpClient client(port_);
  for (int i = 0; i < 60; ++i) {
    HttpResponse response = client.get("/any");
    ASSERT_EQ(response.status, 200) << "request " << i << ": " << response.body;
    EXPECT_EQ(response.header("x-backend"), "blue");
  }
}

TEST_F(ResilienceTest, UnhealthyPoolSpillsToTheOtherPool) {
  stopGreen();
  std::map<std::string, int> counts = countBackends(port_, 100, 4, "/spill");
  EXPECT_EQ(counts["blue"], 100) << "spill must send green's half to blue";
}

TEST_F(ResilienceTest, UnhealthyPoolFallsBackToTheNamedCluster) {
  HttpClient client(port_);
  EXPECT_EQ(client.get("/fallback").header("x-backend"), "green");
  stopGreen();
  HttpResponse response = client.get("/fallback");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("x-backend"), "blue");
}

TEST_F(ResilienceTest, StrictSplitAnswers503WithTheReason) {
  stopGreen();
  HttpClient client(port_);
  HttpResponse response = client.get("/strict");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body.rfind("no_healthy_endpoint: cluster green", 0), 0u) << response.body;
}

// Two endpoints, five 5xx in a row eject one for a minute.
constexpr const char* kEjectionConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: rest
              match: {prefix: "/"}
              route:
                cluster: pool
clusters:
  - name: pool
    outlier_detection: {consecutive_5xx: 5, base_ejection_time: "60s"}
    endpoints:
      - address: "{{BLUE}}"
      - address: "{{GREEN}}"
)";

TEST_F(E2eTest, EndpointAnswering5xxIsEjected) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(kEjectionConfig, 1);
  ASSERT_NE(port, 0);

  // Both endpoints answer /status?code=500 with a 500. Ten of them alternate over the
  // two, so both reach five 5xx in a row; the first is ejected, and the 50% cap keeps the
  // second in. From then on every plain request goes to the endpoint left.
  HttpClient client(port);
  for (int i = 0; i < 10; ++i) {
    client.get("/status?code=500");
  }
  std::map<std::string, int> counts = countBackends(port, 40, 1, "/");
  EXPECT_TRUE(counts["blue"] == 40 || counts["green"] == 40)
      << "one endpoint must be ejected: blue=" << counts["blue"] << " green=" << counts["green"];
  EXPECT_NE(env_.logs().find("ejecting endpoint"), std::string::npos);
}

TEST_F(E2eTest, SigtermLetsAnInFlightRequestFinishAndExitsZero) {
  ASSERT_TRUE(env_.startBackends({"blue"}));
  env_.setValue("GREEN", "127.0.0.1:1");
  uint16_t port = env_.startProxy(std::string(kBlueOnlyListener) + kBlueGreenClusters, 1);
  ASSERT_NE(port, 0);

  HttpResponse slow;
  std::thread request([&] {
    HttpClient client(port, milliseconds(5000));
    slow = client.get("/slow?ms=800");
  });
  std::this_thread::sleep_for(milliseconds(200));
  std::optional<int> exit_code = env_.proxy(0).stop(milliseconds(5000));
  request.join();

  EXPECT_EQ(slow.status, 200) << slow.error;
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_EQ(*exit_code, 0);
}

}  // namespace
}  // namespace turnout::e2e
