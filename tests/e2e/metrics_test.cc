// End to end: GET /stats shows, beside the request counters, latency histograms per
// cluster, the upstream connections of each pool, and each split's configured weights
// next to the share of requests each cluster really served.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

constexpr const char* kSplitConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: canary
              match:
                prefix: "/"
              route:
                weighted_clusters:
                  clusters:
                    - name: blue
                      weight: 80
                    - name: green
                      weight: 20
admin:
  address: "{{ADMIN}}"
)";

// The value of the sample `name{labels}` in Prometheus text, or -1 when absent.
double sample(const std::string& stats, const std::string& name) {
  size_t at = stats.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::strtod(stats.c_str() + at + name.size() + 2, nullptr);
}

class MetricsTest : public E2eTest {
 protected:
  // Starts blue and green behind kSplitConfig with one worker; returns the admin port, or
  // 0 when something did not start. proxy_port_ is the listener's.
  uint16_t startSplit() {
    if (!env_.startBackends({"blue", "green"})) {
      return 0;
    }
    uint16_t admin_port = freePort();
    env_.setValue("ADMIN", "127.0.0.1:" + std::to_string(admin_port));
    proxy_port_ = env_.startProxy(std::string(kSplitConfig) + kBlueGreenClusters, 1);
    return proxy_port_ != 0 && waitForPort(admin_port, Millis(5000)) ? admin_port : 0;
  }

  uint16_t proxy_port_ = 0;
};

TEST_F(MetricsTest, StatsShowLatencyConnectionsAndTheRealisedSplit) {
  uint16_t admin_port = startSplit();
  ASSERT_NE(admin_port, 0);
  uint16_t port = proxy_port_;

  constexpr int kRequests = 400;
  std::map<std::string, int> seen = countBackends(port, kRequests, 2);
  ASSERT_EQ(seen["blue"] + seen["green"], kRequests);

  // Pool counts are published on the worker's 100 ms tick.
  std::this_thread::sleep_for(Millis(300));
  HttpClient admin(admin_port);
  std::string stats = admin.get("/stats").body;

  // Every request is in its cluster's histogram, whose buckets only grow.
  double blue = sample(stats, "turnout_request_duration_seconds_count{cluster=\"blue\"}");
  double green = sample(stats, "turnout_request_duration_seconds_count{cluster=\"green\"}");
  EXPECT_EQ(blue, seen["blue"]) << stats;
  EXPECT_EQ(green, seen["green"]);
  EXPECT_LE(
      sample(stats, "turnout_request_duration_seconds_bucket{cluster=\"blue\",le=\"0.001\"}"),
      sample(stats, "turnout_request_duration_seconds_bucket{cluster=\"blue\",le=\"1.000\"}"));
  EXPECT_EQ(sample(stats, "turnout_request_duration_seconds_bucket{cluster=\"blue\",le=\"+Inf\"}"),
            blue);

  // Two keep-alive client connections, one worker: a few connections per pool, all idle.
  double created = sample(stats, "turnout_upstream_connections_created_total{cluster=\"blue\"}");
  EXPECT_GE(created, 1);
  EXPECT_LE(created, 4);
  EXPECT_EQ(sample(stats, "turnout_upstream_connections{cluster=\"blue\",state=\"active\"}"), 0);
  EXPECT_GE(sample(stats, "turnout_upstream_connections{cluster=\"blue\",state=\"idle\"}"), 1);

  // The weights as configured and the shares as served, side by side.
  EXPECT_EQ(sample(stats, "turnout_split_weight{route=\"canary\",cluster=\"blue\"}"), 80);
  EXPECT_EQ(sample(stats, "turnout_split_weight{route=\"canary\",cluster=\"green\"}"), 20);
  double observed =
      sample(stats, "turnout_split_observed_ratio{route=\"canary\",cluster=\"green\"}");
  EXPECT_NEAR(observed, static_cast<double>(seen["green"]) / kRequests, 0.001);
  EXPECT_NEAR(observed, 0.2, 0.08);
}

// A client that resets its connection before its answer is a request too: /stats counts
// it with the 499 the access log gives it, at once rather than when the backend answers.
TEST_F(MetricsTest, RequestAbortedByTheClientIsCounted) {
  uint16_t admin_port = startSplit();
  ASSERT_NE(admin_port, 0);
  uint16_t port = proxy_port_;

  int fd = connectLoopback(port, Millis(3000));
  ASSERT_GE(fd, 0);
  std::string request = "GET /slow?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(Millis(300));
  linger reset_on_close{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof(reset_on_close));
  ::close(fd);

  HttpClient admin(admin_port);
  double aborted = 0;
  auto deadline = std::chrono::steady_clock::now() + Millis(3000);
  while (aborted < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(50));
    std::string stats = admin.get("/stats").body;
    aborted = 0;
    for (const char* cluster : {"blue", "green"}) {
      std::string name = std::string("turnout_requests_total{route=\"canary\",cluster=\"") +
                         cluster + "\",class=\"4xx\"}";
      aborted += std::max(0.0, sample(stats, name));
    }
  }
  EXPECT_EQ(aborted, 1);
}

// A request refused before routing (a malformed head) is counted under route "-".
TEST_F(MetricsTest, MalformedRequestsAreCountedUnderNoRoute) {
  uint16_t admin_port = startSplit();
  ASSERT_NE(admin_port, 0);
  uint16_t port = proxy_port_;

  for (int i = 0; i < 3; ++i) {
    HttpClient client(port);
    EXPECT_EQ(client.raw("GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n").status, 400);
  }

  HttpClient admin(admin_port);
  std::string stats = admin.get("/stats").body;
  EXPECT_EQ(sample(stats, "turnout_requests_total{route=\"-\",cluster=\"-\",class=\"4xx\"}"), 3)
      << stats;
}

}  // namespace
}  // namespace turnout::e2e
