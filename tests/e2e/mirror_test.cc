// End to end: parallel runs. Copies of requests go to a mirror cluster that is down, hangs
// or is slow while the primary answers stay as they were; injected differences are counted
// by kind and shown in GET /diffs; the noise filter, the body tee, the budgets, the sticky
// fraction and examples/parallel-run.yaml.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// One route, /, from blue with copies to green; `policy` holds the mirror policy's lines
// after its cluster (indented for the policy's mapping), `route_extra` lines under route:.
std::string mirrorConfig(const std::string& policy, const std::string& route_extra = "") {
  return R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: run
              match:
                prefix: "/"
              route:
                cluster: blue
)" + route_extra +
         R"(                request_mirror_policies:
                  - cluster: green
)" + policy +
         R"(admin:
  address: "{{ADMIN}}"
clusters:
  - name: blue
    endpoints:
      - address: "{{BLUE}}"
  - name: green
    connect_timeout: "0.5s"
    endpoints:
      - address: "{{GREEN}}"
)";
}

// Compares status, x-version and the JSON body; what differs between any two demo
// backends by design (their names, the decision headers they saw) is ignored.
constexpr const char* kComparePolicy = R"(                    compare:
                      headers: [x-version]
                      body: JSON
                      ignored_json_paths: ["$.backend", "$.headers", "$.meta.timestamp",
                                           "$.meta.nonce"]
)";

// A demo backend with extra flags (--differ, --delay-ms), stopped when the test ends.
ProcessPtr startDemoBackend(const std::string& name, uint16_t port, const TempDir& dir,
                            const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {"python3", repoRoot() + "/examples/demo_backend.py",
                                   "--name",  name,
                                   "--port",  std::to_string(port)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto process = std::make_unique<Process>(argv, dir.file("backend-" + name + ".log"));
  return waitForPort(port, Millis(10000), process.get()) ? std::move(process) : nullptr;
}

// A loopback socket that listens and never accepts: connects complete in the kernel and
// then nothing is ever answered.
class HangingListener {
 public:
  HangingListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bool ok = bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
              listen(fd_, 64) == 0 &&
              getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    port_ = ok ? ntohs(address.sin_port) : 0;
  }
  ~HangingListener() { close(fd_); }
  HangingListener(const HangingListener&) = delete;
  HangingListener& operator=(const HangingListener&) = delete;

  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// The value of the sample `name{labels}` in Prometheus text, or 0 when absent.
uint64_t metric(const std::string& stats, const std::string& sample) {
  size_t at = stats.find("\n" + sample + " ");
  return at == std::string::npos
             ? 0
             : std::strtoull(stats.c_str() + at + sample.size() + 2, nullptr, 10);
}

std::string runLabels(const std::string& extra = "") {
  return "{route=\"run\",cluster=\"green\"" + extra + "}";
}

class MirrorTest : public E2eTest {
 protected:
  // Starts blue (plain), green (with `green_flags`) unless `green_address` is given, and
  // the proxy with `yaml`. Returns false when something did not come up.
  bool start(const std::string& yaml, const std::vector<std::string>& green_flags = {},
             const std::string& green_address = "") {
    if (!env_.startBackends({"blue"})) {
      return false;
    }
    if (green_address.empty()) {
      uint16_t green_port = freePort();
      green_ = startDemoBackend("green", green_port, env_.dir(), green_flags);
      if (green_ == nullptr) {
        return false;
      }
      env_.setValue("GREEN", "127.0.0.1:" + std::to_string(green_port));
    } else {
      env_.setValue("GREEN", green_address);
    }
    admin_port_ = freePort();
    env_.setValue("ADMIN", "127.0.0.1:" + std::to_string(admin_port_));
    port_ = env_.startProxy(yaml);
    return port_ != 0 && waitForPort(admin_port_, Millis(5000));
  }

  std::string admin(const std::string& path) {
    HttpClient client(admin_port_);
    return client.get(path).body;
  }

  // Polls GET /stats until `sample` reaches `value` or 10 s pass; returns the last value.
  uint64_t waitForMetric(const std::string& sample, uint64_t value) {
    uint64_t seen = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      seen = metric(admin("/stats"), sample);
      if (seen >= value) {
        break;
      }
      std::this_thread::sleep_for(Millis(20));
    }
    return seen;
  }

  ProcessPtr green_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

// ---- A mirror that is down, hangs or is slow leaves the primary as it was. ----

enum class MirrorFault { Down, Hangs, Slow };

struct FaultCase {
  std::string name;
  MirrorFault fault;
  std::string policy;
  std::string settled_metric;  // Reaches kFaultRequests once every copy has ended.
};

void PrintTo(const FaultCase& param, std::ostream* out) {
  *out << param.name;
}

constexpr int kFaultRequests = 20;

class MirrorFaultTest : public E2eParamTest<FaultCase> {
 protected:
  uint64_t statsValue(uint16_t admin_port, const std::string& sample) {
    HttpClient client(admin_port);
    return metric(client.get("/stats").body, sample);
  }
};

TEST_P(MirrorFaultTest, PrimaryAnswersStatusAndLatencyAreUnaffected) {
  const FaultCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue"}));
  HangingListener hanging;
  ProcessPtr slow;
  switch (param.fault) {
    case MirrorFault::Down:
      env_.setValue("GREEN", "127.0.0.1:" + std::to_string(freePort()));
      break;
    case MirrorFault::Hangs:
      ASSERT_NE(hanging.port(), 0);
      env_.setValue("GREEN", "127.0.0.1:" + std::to_string(hanging.port()));
      break;
    case MirrorFault::Slow: {
      uint16_t green_port = freePort();
      slow = startDemoBackend("green", green_port, env_.dir(), {"--delay-ms", "1500"});
      ASSERT_NE(slow, nullptr);
      env_.setValue("GREEN", "127.0.0.1:" + std::to_string(green_port));
      break;
    }
  }
  uint16_t admin_port = freePort();
  env_.setValue("ADMIN", "127.0.0.1:" + std::to_string(admin_port));
  uint16_t port = env_.startProxy(mirrorConfig(param.policy), 1);
  ASSERT_NE(port, 0);
  ASSERT_TRUE(waitForPort(admin_port, Millis(5000)));

  // One keep-alive connection: the copies must not touch it either.
  HttpClient client(port);
  Millis slowest(0);
  for (int i = 0; i < kFaultRequests; ++i) {
    auto begin = Clock::now();
    HttpResponse resp = client.get("/item?n=" + std::to_string(i));
    slowest = std::max(slowest, std::chrono::duration_cast<Millis>(Clock::now() - begin));
    ASSERT_EQ(resp.status, 200) << resp.error << resp.body;
    EXPECT_EQ(resp.header("x-backend"), "blue");
    EXPECT_TRUE(resp.keep_alive);
    EXPECT_EQ(parseEcho(resp.body).query, "n=" + std::to_string(i));
  }
  EXPECT_TRUE(client.connected());

  // The mirror's delay or timeout is 1 s or more; the primary's answers never wait for it.
  EXPECT_LT(slowest.count(), 500) << "slowest primary answer";

  // Every copy was started and ended as the fault says, or was skipped at the cap.
  std::string sent = "turnout_mirror_sent_total" + runLabels();
  std::string skipped = "turnout_mirror_skipped_total" + runLabels(",reason=\"concurrency\"");
  uint64_t settled = 0;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    HttpClient stats_client(admin_port);
    std::string stats = stats_client.get("/stats").body;
    settled = metric(stats, param.settled_metric + runLabels()) + metric(stats, skipped);
    if (settled >= kFaultRequests) {
      EXPECT_EQ(metric(stats, sent) + metric(stats, skipped), uint64_t{kFaultRequests}) << stats;
      break;
    }
    std::this_thread::sleep_for(Millis(50));
  }
  EXPECT_EQ(settled, uint64_t{kFaultRequests});
}

INSTANTIATE_TEST_SUITE_P(
    Faults, MirrorFaultTest,
    testing::Values(
        FaultCase{"MirrorDown", MirrorFault::Down, "                    timeout: 2s\n",
                  "turnout_mirror_failed_total"},
        FaultCase{"MirrorHangs", MirrorFault::Hangs,
                  "                    timeout: 1s\n                    max_concurrent: 5\n",
                  "turnout_mirror_failed_total"},
        // The demo backend's listen backlog is 5: more copies at once could
        // time out connecting instead of being answered late.
        FaultCase{"MirrorSlow", MirrorFault::Slow,
                  "                    timeout: 5s\n                    max_concurrent: 4\n",
                  "turnout_mirror_answered_total"}),
    [](const testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

// ---- Differences injected in the mirror backend are counted by kind and shown. ----

TEST_F(MirrorTest, InjectedDifferencesAreCountedByKindAndKept) {
  ASSERT_TRUE(start(mirrorConfig(kComparePolicy), {"--differ"}));

  // Two equal answers, one of each kind of difference, and a changed ignored field.
  const std::vector<std::string> targets = {"/a?fields=1",
                                            "/b?fields=1",
                                            "/c?fields=1&diff=status",
                                            "/d?fields=1&diff=header",
                                            "/e?fields=1&diff=field",
                                            "/f?fields=1&diff=ignored"};
  HttpClient client(port_);
  for (const std::string& target : targets) {
    HttpResponse resp = client.get(target);
    ASSERT_EQ(resp.status, 200) << target << ": " << resp.error;
    EXPECT_EQ(resp.header("x-version"), "1");
  }

  ASSERT_EQ(waitForMetric("turnout_mirror_compared_total" + runLabels(), 6), 6u);
  std::string stats = admin("/stats");
  EXPECT_EQ(metric(stats, "turnout_mirror_sent_total" + runLabels()), 6u);
  EXPECT_EQ(metric(stats, "turnout_mirror_answered_total" + runLabels()), 6u);
  EXPECT_EQ(metric(stats, "turnout_mirror_equal_total" + runLabels()), 3u);
  EXPECT_EQ(metric(stats, "turnout_mirror_different_total" + runLabels()), 3u);
  for (const char* kind : {"status", "header", "body"}) {
    std::string sample =
        "turnout_mirror_differences_total" + runLabels(std::string(",kind=\"") + kind + "\"");
    EXPECT_EQ(metric(stats, sample), 1u) << kind;
  }

  // Each pair with its request line, statuses and the place that differs (in the order
  // the comparisons ended, which need not be the order of the requests).
  std::string diffs = admin("/diffs");
  EXPECT_NE(diffs.find("\"kept\":3"), std::string::npos) << diffs;
  for (const char* request : {"GET /c?fields=1&diff=status", "GET /d?fields=1&diff=header",
                              "GET /e?fields=1&diff=field"}) {
    EXPECT_NE(diffs.find(std::string("\"request\":\"") + request + "\""), std::string::npos)
        << request << " in " << diffs;
  }
  EXPECT_NE(diffs.find("body $.price: 10 -> 12"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("header x-version: \\\"1\\\" -> \\\"2\\\""), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("\"primary_status\":200,\"candidate_status\":500"), std::string::npos);
  EXPECT_EQ(diffs.find("diff=ignored"), std::string::npos) << "an ignored field was counted";

  // The copy carried the shadow header and the client's Host.
  EXPECT_NE(diffs.find("[\\\"x-turnout-shadow\\\", \\\"1\\\"]"), std::string::npos) << diffs;
  EXPECT_NE(diffs.find("[\\\"Host\\\", \\\"127.0.0.1:" + std::to_string(port_)), std::string::npos);
}

TEST_F(MirrorTest, EveryCopyHasItsOwnAccessLogLine) {
  ASSERT_TRUE(start(mirrorConfig("")));
  HttpClient client(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(client.get("/logged").status, 200);
  }
  ASSERT_EQ(waitForMetric("turnout_mirror_answered_total" + runLabels(), 3), 3u);

  // The log is flushed by the worker's 100 ms tick.
  size_t shadow_lines = 0;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && shadow_lines < 3) {
    std::this_thread::sleep_for(Millis(50));
    std::string log = readFile(env_.proxy(0).logPath());
    shadow_lines = 0;
    for (size_t at = log.find("shadow=1"); at != std::string::npos;
         at = log.find("shadow=1", at + 1)) {
      ++shadow_lines;
    }
  }
  EXPECT_EQ(shadow_lines, 3u);
  std::string log = readFile(env_.proxy(0).logPath());
  EXPECT_NE(log.find("route=run cluster=green"), std::string::npos) << log;
}

TEST_F(MirrorTest, ClientCannotMarkItsOwnRequestAsShadow) {
  ASSERT_TRUE(start(mirrorConfig(kComparePolicy)));
  HttpClient client(port_);
  HttpResponse resp = client.get("/?fields=1", {{"X-Turnout-Shadow", "1"}});
  ASSERT_EQ(resp.status, 200);
  EXPECT_TRUE(parseEcho(resp.body).values("x-turnout-shadow").empty()) << resp.body;

  // The copy carries exactly one mark, the proxy's: the answers compare equal.
  ASSERT_EQ(waitForMetric("turnout_mirror_compared_total" + runLabels(), 1), 1u);
  EXPECT_EQ(metric(admin("/stats"), "turnout_mirror_equal_total" + runLabels()), 1u);
}

TEST_F(MirrorTest, NoiseFilterDiscountsWhatThePrimaryVersionChangesByItself) {
  // meta.timestamp and meta.nonce are not ignored: only the noise filter can tell.
  ASSERT_TRUE(start(mirrorConfig(R"(                    compare:
                      headers: [x-version]
                      body: JSON
                      noise_filter: true
                      ignored_json_paths: ["$.backend", "$.headers"]
)"),
                    {"--differ"}));
  HttpClient client(port_);
  ASSERT_EQ(client.get("/same?fields=1").status, 200);
  ASSERT_EQ(client.get("/other?fields=1&diff=field").status, 200);

  ASSERT_EQ(waitForMetric("turnout_mirror_compared_total" + runLabels(), 2), 2u);
  std::string stats = admin("/stats");
  EXPECT_EQ(metric(stats, "turnout_mirror_equal_total" + runLabels()), 1u) << stats;
  EXPECT_EQ(metric(stats, "turnout_mirror_different_total" + runLabels()), 1u);
  EXPECT_EQ(metric(stats, "turnout_mirror_differences_total" + runLabels(",kind=\"body\"")), 1u);

  // At least the random nonce of each answer was noise; the timestamps nearly always are.
  uint64_t noise = metric(stats, "turnout_mirror_noise_total" + runLabels());
  EXPECT_GE(noise, 2u);
  EXPECT_LE(noise, 4u);
  std::string diffs = admin("/diffs");
  EXPECT_NE(diffs.find("body $.price: 10 -> 12"), std::string::npos) << diffs;
  EXPECT_EQ(diffs.find("$.meta"), std::string::npos) << "noise was reported: " << diffs;
}

TEST_F(MirrorTest, RequestBodiesAreTeedWithTheirFraming) {
  ASSERT_TRUE(start(mirrorConfig(std::string("                    allow_unsafe_methods: true\n") +
                                 kComparePolicy)));
  HttpClient client(port_);
  HttpRequest post;
  post.method = "POST";
  post.target = "/upload?fields=1";
  post.body = std::string(200000, 'x');
  ASSERT_EQ(client.request(post).status, 200);

  HttpResponse chunked = client.raw(
      "PUT /upload?fields=1 HTTP/1.1\r\nHost: site\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_EQ(chunked.status, 200);
  EXPECT_EQ(parseEcho(chunked.body).body_bytes, 11);

  // Equal answers: green saw the same body bytes (their SHA-256 is in the compared JSON).
  ASSERT_EQ(waitForMetric("turnout_mirror_compared_total" + runLabels(), 2), 2u);
  std::string stats = admin("/stats");
  EXPECT_EQ(metric(stats, "turnout_mirror_equal_total" + runLabels()), 2u) << admin("/diffs");
}

TEST_F(MirrorTest, UnsafeMethodsAreSkippedUnlessAllowed) {
  ASSERT_TRUE(start(mirrorConfig("")));
  HttpClient client(port_);
  HttpRequest post;
  post.method = "POST";
  post.body = "state change";
  ASSERT_EQ(client.request(post).status, 200);
  ASSERT_EQ(client.get("/").status, 200);

  EXPECT_EQ(waitForMetric("turnout_mirror_answered_total" + runLabels(), 1), 1u);
  std::string stats = admin("/stats");
  EXPECT_EQ(metric(stats, "turnout_mirror_skipped_total" + runLabels(",reason=\"method\"")), 1u);
  EXPECT_EQ(metric(stats, "turnout_mirror_sent_total" + runLabels()), 1u);
}

TEST_F(MirrorTest, BodyPastTheBudgetDropsOnlyTheCopy) {
  // The mirror never reads, so the copy's bytes pile up until the budget drops it.
  HangingListener hanging;
  ASSERT_NE(hanging.port(), 0);
  ASSERT_TRUE(start(mirrorConfig("                    allow_unsafe_methods: true\n"
                                 "                    max_body_bytes: 65536\n"),
                    {}, "127.0.0.1:" + std::to_string(hanging.port())));
  HttpClient client(port_);
  HttpRequest post;
  post.method = "POST";
  post.body = std::string(8 << 20, 'b');
  HttpResponse resp = client.request(post);
  ASSERT_EQ(resp.status, 200) << resp.error;
  EXPECT_EQ(parseEcho(resp.body).body_bytes, 8 << 20);

  EXPECT_EQ(
      waitForMetric("turnout_mirror_skipped_total" + runLabels(",reason=\"request_budget\""), 1),
      1u);
  EXPECT_EQ(metric(admin("/stats"), "turnout_mirror_buffered_bytes"), 0u);
}

TEST_F(MirrorTest, FractionMirrorsTheSameUsersEveryTime) {
  ASSERT_TRUE(start(mirrorConfig("                    fraction_percent: 50\n",
                                 "                hash_policy:\n"
                                 "                  - header: {header_name: x-user}\n")));
  constexpr int kUsers = 40;
  HttpClient client(port_);
  auto round = [&] {
    for (int user = 0; user < kUsers; ++user) {
      ASSERT_EQ(client.get("/", {{"x-user", "user-" + std::to_string(user)}}).status, 200);
    }
  };
  std::string sent = "turnout_mirror_sent_total" + runLabels();

  round();
  std::this_thread::sleep_for(Millis(200));
  uint64_t first = metric(admin("/stats"), sent);
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, uint64_t{kUsers});

  // The same users again: exactly the same ones are mirrored.
  round();
  EXPECT_EQ(waitForMetric(sent, 2 * first), 2 * first);
  std::this_thread::sleep_for(Millis(200));
  EXPECT_EQ(metric(admin("/stats"), sent), 2 * first);
}

// ---- examples/parallel-run.yaml, as written, finds an injected difference. ----

TEST_F(MirrorTest, ParallelRunExampleCountsAnInjectedDifference) {
  std::string text = readFile(repoRoot() + "/examples/parallel-run.yaml");
  ASSERT_NE(text.find("request_mirror_policies"), std::string::npos);
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"127.0.0.1:19001", "{{BLUE}}"},
                                                        {"127.0.0.1:19002", "{{GREEN}}"},
                                                        {"127.0.0.1:8080", "{{LISTEN}}"},
                                                        {"127.0.0.1:9901", "{{ADMIN}}"}}) {
    size_t count = 0;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      ++count;
    }
    ASSERT_GT(count, 0u) << from;
  }
  ASSERT_TRUE(start(text, {"--differ"}));

  HttpClient client(port_);
  ASSERT_EQ(client.get("/api/items?fields=1").status, 200);
  ASSERT_EQ(client.get("/api/items?fields=1&diff=field").status, 200);

  std::string labels = "{route=\"api\",cluster=\"green\"}";
  ASSERT_EQ(waitForMetric("turnout_mirror_compared_total" + labels, 2), 2u);
  std::string stats = admin("/stats");
  EXPECT_EQ(metric(stats, "turnout_mirror_equal_total" + labels), 1u) << stats;
  EXPECT_EQ(metric(stats, "turnout_mirror_different_total" + labels), 1u);
  EXPECT_NE(admin("/diffs").find("body $.price: 10 -> 12"), std::string::npos);
}

}  // namespace
}  // namespace turnout::e2e
