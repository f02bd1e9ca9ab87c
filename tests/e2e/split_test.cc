// End to end: weighted splits, sticky users and feature toggles, seen from the backends.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <string>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// One route over the whole site: a weighted split of blue and green, plus `extra` lines
// under `route:` (hash policy, sticky cookie).
std::string splitConfig(int blue, int green, const std::string& extra = "") {
  return R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: split
              match:
                prefix: "/"
              route:
                weighted_clusters:
                  clusters:
                    - name: blue
                      weight: )" +
         std::to_string(blue) + R"(
                    - name: green
                      weight: )" +
         std::to_string(green) + "\n" + extra + kBlueGreenClusters;
}

// The bucket the proxy put in the upstream request, or -1.
int bucketOf(const Echo& echo) {
  std::vector<std::string> values = echo.values("x-turnout-bucket");
  return values.size() == 1 ? std::atoi(values[0].c_str()) : -1;
}

using SplitTest = E2eTest;

TEST_F(SplitTest, RandomBucketsSplitNinetyTenWithinOnePointFive) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(splitConfig(90, 10));
  ASSERT_NE(port, 0);

  // No hash key and no sticky cookie: every request draws a random bucket.
  constexpr int kRequests = 10000;
  constexpr int kConnections = 4;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<HttpClient>(port));
  }

  int blue = 0;
  int green = 0;
  int failed = 0;
  int outside_range = 0;
  for (int i = 0; i < kRequests && failed < 10; ++i) {
    HttpResponse resp = clients[i % kConnections]->get("/split");
    Echo echo = parseEcho(resp.body);
    if (resp.status != 200 || !echo.ok) {
      ADD_FAILURE() << "request " << i << ": status " << resp.status << " " << resp.error;
      ++failed;
      continue;
    }
    blue += echo.backend == "blue";
    green += echo.backend == "green";

    // Pools own contiguous ranges in declared order: blue [0, 9000), green [9000, 10000).
    int bucket = bucketOf(echo);
    bool in_blue_range = bucket >= 0 && bucket < 9000;
    outside_range += (echo.backend == "blue") != in_blue_range || bucket > 9999;
  }

  ASSERT_EQ(failed, 0);
  EXPECT_EQ(blue + green, kRequests);
  double blue_percent = 100.0 * blue / kRequests;
  EXPECT_NEAR(blue_percent, 90.0, 1.5) << "blue " << blue << " green " << green;
  EXPECT_EQ(outside_range, 0) << "requests whose bucket is outside their pool's range";
}

TEST_F(SplitTest, SameCookieLandsOnSamePoolAcrossProcesses) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  std::string config = splitConfig(50, 50, R"(                hash_policy:
                  - cookie:
                      name: user
)");
  uint16_t first = env_.startProxy(config);
  ASSERT_NE(first, 0);
  uint16_t second = env_.startProxy(config);
  ASSERT_NE(second, 0);

  HttpClient to_first(first);
  HttpClient to_second(second);
  int green = 0;
  constexpr int kUsers = 200;
  for (int user = 0; user < kUsers; ++user) {
    std::string value = "user-" + std::to_string(user * 7919);

    // Twice through the first proxy (the second time among other cookies), once through
    // the second: one user, one pool, one bucket.
    Echo a = parseEcho(to_first.get("/", {{"Cookie", "user=" + value}}).body);
    Echo b = parseEcho(to_first.get("/", {{"Cookie", "theme=dark; user=" + value + "; x=1"}}).body);
    Echo c = parseEcho(to_second.get("/", {{"Cookie", "user=" + value}}).body);
    ASSERT_TRUE(a.ok && b.ok && c.ok) << "user " << value;
    EXPECT_EQ(a.backend, b.backend) << value;
    EXPECT_EQ(a.backend, c.backend) << value;
    EXPECT_EQ(bucketOf(a), bucketOf(c)) << value;
    EXPECT_NE(bucketOf(a), -1) << value;
    green += a.backend == "green";
  }

  // A 50/50 split of 200 users that sent (nearly) everyone one way is broken hashing.
  EXPECT_GT(green, kUsers / 4);
  EXPECT_LT(green, kUsers * 3 / 4);
}

TEST_F(SplitTest, RandomBucketIsRememberedInStickyCookie) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(splitConfig(50, 50, R"(                sticky_cookie:
                  name: tb
                  ttl: "3600s"
)"));
  ASSERT_NE(port, 0);
  HttpClient client(port);

  // The first answer carries "tb=<bucket>; Max-Age=3600; Path=/".
  HttpResponse first = client.get("/");
  ASSERT_EQ(first.status, 200) << first.error;
  Echo echo = parseEcho(first.body);
  int bucket = bucketOf(echo);
  ASSERT_NE(bucket, -1);
  std::string cookie = first.header("set-cookie");
  EXPECT_EQ(cookie.rfind("tb=" + std::to_string(bucket) + ";", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("Max-Age=3600"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Path=/"), std::string::npos) << cookie;

  // With the cookie, no new bucket is drawn: same bucket, same pool, no new Set-Cookie.
  for (int i = 0; i < 20; ++i) {
    HttpResponse next = client.get("/", {{"Cookie", "tb=" + std::to_string(bucket)}});
    Echo again = parseEcho(next.body);
    ASSERT_TRUE(again.ok) << next.status << " " << next.error;
    EXPECT_EQ(bucketOf(again), bucket);
    EXPECT_EQ(again.backend, echo.backend);
    EXPECT_EQ(next.headerCount("set-cookie"), 0u) << next.header("set-cookie");
  }
}

// A request shape and the pool it must reach when the default split sends everyone blue.
struct ToggleCase {
  std::string name;
  Headers headers;
  std::string backend;
};

// feature-toggle.yaml's routes, with the default split at blue 100 / green 0 so that a
// request reaching green can only have been sent there by a toggle.
constexpr const char* kToggleConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: beta-header
              match:
                prefix: "/"
                headers:
                  - name: x-beta
                    exact_match: "true"
              route:
                cluster: green
            - name: beta-cookie
              match:
                prefix: "/"
                cookies:
                  - name: beta
                    present_match: true
              route:
                cluster: green
            - name: default
              match:
                prefix: "/"
              route:
                weighted_clusters:
                  clusters:
                    - name: blue
                      weight: 100
                    - name: green
                      weight: 0
)";

// GoogleTest prints a failing case by its name.
void PrintTo(const ToggleCase& param, std::ostream* out) {
  *out << param.name;
}

using ToggleTest = E2eParamTest<ToggleCase>;

TEST_P(ToggleTest, TogglesWinOverWeights) {
  const ToggleCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(std::string(kToggleConfig) + kBlueGreenClusters);
  ASSERT_NE(port, 0);

  HttpClient client(port);
  for (int i = 0; i < 20; ++i) {
    HttpResponse resp = client.get("/page", param.headers);
    Echo echo = parseEcho(resp.body);
    ASSERT_TRUE(echo.ok) << resp.status << " " << resp.error;
    EXPECT_EQ(echo.backend, param.backend);
    EXPECT_EQ(echo.values("x-turnout-cluster"), std::vector<std::string>{param.backend});
  }
}

INSTANTIATE_TEST_SUITE_P(
    FeatureToggle, ToggleTest,
    ::testing::Values(ToggleCase{"HeaderTrue", {{"x-beta", "true"}}, "green"},
                      ToggleCase{"HeaderNameInOtherCase", {{"X-Beta", "true"}}, "green"},
                      ToggleCase{"HeaderFalse", {{"x-beta", "false"}}, "blue"},
                      ToggleCase{"CookiePresent", {{"Cookie", "beta=1"}}, "green"},
                      ToggleCase{"CookieEmptyValue", {{"Cookie", "beta="}}, "green"},
                      ToggleCase{"CookieAmongOthers", {{"Cookie", "a=1; beta=on; b=2"}}, "green"},
                      ToggleCase{"OtherCookieOnly", {{"Cookie", "alpha=1"}}, "blue"},
                      ToggleCase{"NoToggle", {}, "blue"}),
    [](const ::testing::TestParamInfo<ToggleCase>& info) { return info.param.name; });

}  // namespace
}  // namespace turnout::e2e
