// End to end: the admin API, `turnout ctl`, rollback, the state directory, the version
// header, listeners added by a reload, and invalid configs refused by every trigger.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "tests/e2e/control_fixture.h"

namespace turnout::e2e {
namespace {

using AdminTest = ControlTest;

// The pool each of `users` (x-user values) lands on, joined by spaces.
std::string poolsOf(uint16_t port, int users) {
  HttpClient client(port);
  std::string pools;
  for (int user = 0; user < users; ++user) {
    HttpResponse response = client.get("/", {{"x-user", "user-" + std::to_string(user)}});
    pools += (pools.empty() ? "" : " ") + response.header("x-backend");
  }
  return pools;
}

TEST_F(AdminTest, ConfigShowsVersionConfiguredAndEffectiveWeights) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));

  HttpResponse put = admin("PUT", "/routes/release/weights", R"({"blue": 0, "green": 100})");
  HttpResponse got = admin("GET", "/config");

  ASSERT_EQ(put.status, 200) << put.body;
  config::ChangeReply reply = parseChangeReply(put.body);
  EXPECT_TRUE(reply.changed());
  EXPECT_EQ(reply.version(), 2u);
  EXPECT_EQ(reply.previous_version(), 1u);
  ASSERT_EQ(got.status, 200);
  config::ConfigVersion running = parseConfigVersion(got.body);
  EXPECT_EQ(running.version(), 2u);
  EXPECT_EQ(running.source(), "admin");
  EXPECT_EQ(effectiveSplit(running), "0/100");
  EXPECT_EQ(running.configured()
                .listeners(0)
                .route_config()
                .virtual_hosts(0)
                .routes(0)
                .route()
                .weighted_clusters()
                .clusters(0)
                .weight(),
            100);
  EXPECT_EQ(running.weight_overrides().at("release").weights().at("green"), 100u);
  EXPECT_EQ(countBackends(port_, 20, 2)["green"], 20);
}

TEST_F(AdminTest, RollbackRestoresTheSameBuckets) {
  ASSERT_TRUE(startAll(releaseConfig(60, 40)));
  std::string before = poolsOf(port_, 200);
  ASSERT_NE(before.find("blue"), std::string::npos);
  ASSERT_NE(before.find("green"), std::string::npos);

  ASSERT_EQ(admin("PUT", "/routes/release/weights", R"({"green": 100})").status, 200);
  ASSERT_EQ(poolsOf(port_, 5), "green green green green green");
  HttpResponse rolled = admin("POST", "/rollback");

  ASSERT_EQ(rolled.status, 200) << rolled.body;
  EXPECT_EQ(parseChangeReply(rolled.body).version(), 3u);
  EXPECT_EQ(poolsOf(port_, 200), before);
  config::ConfigVersion running = parseConfigVersion(admin("GET", "/config").body);
  EXPECT_EQ(running.rolled_back_to(), 1u);
  EXPECT_EQ(running.source(), "rollback");
}

TEST_F(AdminTest, RollbackToAVersionByNumberAndUnknownVersion) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));
  admin("PUT", "/routes/release/weights", R"({"green": 100})");
  admin("PUT", "/routes/release/weights", R"({"blue": 1, "green": 1})");

  EXPECT_EQ(admin("POST", "/rollback?version=2").status, 200);
  EXPECT_EQ(effectiveSplit(parseConfigVersion(admin("GET", "/config").body)), "0/100");
  EXPECT_EQ(admin("POST", "/rollback?version=77").status, 404);
  EXPECT_EQ(admin("POST", "/rollback?version=x").status, 400);
  // Past 32 bits no version can exist; strtoull would clamp twenty digits to its maximum.
  HttpResponse huge = admin("POST", "/rollback?version=99999999999999999999");
  EXPECT_EQ(huge.status, 400);
  EXPECT_NE(huge.body.find("version must be a version id"), std::string::npos) << huge.body;
  EXPECT_EQ(admin("POST", "/rollback?version=4294967296").status, 400);
  EXPECT_EQ(admin("POST", "/rollback?version=+2").status, 400);
}

// True when the peer has closed `fd` or closes it within `wait`: a read then finds end of
// file or a reset.
bool closedByPeer(int fd, Millis wait = Millis(0)) {
  pollfd readable{fd, POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(wait.count())) <= 0) {
    return false;
  }
  char byte;
  ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno == ECONNRESET);
}

// Sends GET /healthz on `fd` and reads the answer whole; its status code, or 0.
int askHealth(int fd) {
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return 0;
  }
  std::string answer;
  char buffer[4096];
  for (int reads = 0; reads < 100; ++reads) {
    size_t head_end = answer.find("\r\n\r\n");
    size_t length_at = answer.find("Content-Length: ");
    if (head_end != std::string::npos && length_at != std::string::npos &&
        answer.size() >= head_end + 4 + std::stoul(answer.substr(length_at + 16))) {
      return std::stoi(answer.substr(9, 3));
    }
    ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) {
      return 0;
    }
    answer.append(buffer, static_cast<size_t>(got));
  }
  return 0;
}

TEST_F(AdminTest, IdleKeepAliveConnectionsDoNotLockOutTheHealthProbe) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));

  // 64 clients, the limit, each idle on its keep-alive connection after one answer.
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) {
    int fd = connectLoopback(admin_port_, Millis(3000));
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
    ASSERT_EQ(askHealth(fd), 200) << "client " << i;
  }

  // Probes still get their answers, each one (kept open) making another idle client go.
  // Whoever held connections before the test (the fixture's own admin calls) may go
  // first, so three probes are sure to close at least one of the 64.
  std::vector<std::unique_ptr<HttpClient>> probes;
  for (int probe = 0; probe < 3; ++probe) {
    probes.push_back(std::make_unique<HttpClient>(admin_port_));
    EXPECT_EQ(probes.back()->get("/healthz").status, 200) << "probe " << probe;
    EXPECT_EQ(probes.back()->get("/ready").status, 200) << "probe " << probe;
  }

  // The ones that went were the ones idle the longest: the first clients, in order.
  size_t closed = 0;
  while (closed < idle.size() && closedByPeer(idle[closed])) {
    ++closed;
  }
  EXPECT_GE(closed, 1u);
  EXPECT_LE(closed, 3u);
  for (size_t i = closed; i < idle.size(); ++i) {
    EXPECT_FALSE(closedByPeer(idle[i])) << "client " << i;
  }
  EXPECT_EQ(askHealth(idle.back()), 200) << "the newest client keeps its connection";
  for (int fd : idle) {
    ::close(fd);
  }
}

TEST_F(AdminTest, ConnectionsInTheMiddleOfARequestAreNotClosedForANewcomer) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));

  // 64 connections, each with half a request head sent.
  std::vector<int> busy;
  for (int i = 0; i < 64; ++i) {
    int fd = connectLoopback(admin_port_, Millis(3000));
    ASSERT_GE(fd, 0);
    busy.push_back(fd);
    ASSERT_EQ(::send(fd, "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
  }
  // A connection whose bytes the proxy has not read yet looks idle, so the proxy gets time
  // to read every half head before the newcomer arrives.
  std::this_thread::sleep_for(Millis(300));
  int newcomer = connectLoopback(admin_port_, Millis(3000));
  ASSERT_GE(newcomer, 0);
  EXPECT_TRUE(closedByPeer(newcomer, Millis(3000))) << "the 65th connection should be turned away";

  // Every half-sent request can still finish and is answered.
  for (int fd : busy) {
    ASSERT_EQ(::send(fd, "Host: a\r\n\r\n", 11, MSG_NOSIGNAL), 11);
    char answer[64] = {};
    ssize_t got = ::recv(fd, answer, sizeof(answer) - 1, 0);
    EXPECT_GT(got, 12);
    EXPECT_EQ(std::string(answer, 12), "HTTP/1.1 200");
  }
  ::close(newcomer);
  for (int fd : busy) {
    ::close(fd);
  }
}

TEST_F(AdminTest, VersionHeaderNamesTheVersionThatServed) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0, "runtime: {version_header: x-turnout-version}\n")));
  HttpClient client(port_);
  EXPECT_EQ(client.get("/").header("x-turnout-version"), "1");

  admin("PUT", "/routes/release/weights", R"({"green": 100})");

  HttpResponse after = client.get("/");
  EXPECT_EQ(after.header("x-turnout-version"), "2");
  EXPECT_EQ(after.header("x-backend"), "green");
}

TEST_F(AdminTest, StatsCountRequestsReloadsAndTheVersion) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));
  countBackends(port_, 3, 1);
  admin("PUT", "/routes/release/weights", R"({"green": 100})");
  admin("PUT", "/routes/release/weights", R"({"red": 100})");
  countBackends(port_, 2, 1);

  HttpResponse stats = admin("GET", "/stats");

  ASSERT_EQ(stats.status, 200);
  EXPECT_NE(stats.body.find("turnout_config_version 2\n"), std::string::npos) << stats.body;
  EXPECT_NE(stats.body.find("turnout_requests_total{route=\"release\",cluster=\"blue\","
                            "class=\"2xx\"} 3\n"),
            std::string::npos);
  EXPECT_NE(stats.body.find("turnout_requests_total{route=\"release\",cluster=\"green\","
                            "class=\"2xx\"} 2\n"),
            std::string::npos);
  EXPECT_NE(stats.body.find("turnout_config_reloads_total{source=\"admin\",result=\"invalid\"} 1"),
            std::string::npos);
}

TEST_F(AdminTest, BearerTokenIsRequiredButProbesStayOpen) {
  std::string token_file = env_.dir().file("token");
  std::ofstream(token_file) << "s3cret\n";
  ASSERT_TRUE(startAll(
      releaseConfig(100, 0,
                    "admin: {address: \"{{ADMIN}}\", bearer_token_file: \"" + token_file + "\"}\n")
          .replace(releaseConfig(100, 0).find("admin: {address: \"{{ADMIN}}\"}\n"),
                   std::string("admin: {address: \"{{ADMIN}}\"}\n").size(), "")));

  EXPECT_EQ(admin("GET", "/config").status, 401);
  EXPECT_EQ(admin("GET", "/config", "", "wrong").status, 401);
  EXPECT_EQ(admin("GET", "/config", "", "s3cret").status, 200);
  EXPECT_EQ(admin("GET", "/healthz").status, 200);
  EXPECT_EQ(admin("GET", "/ready").status, 200);
  EXPECT_EQ(ctl("status").exit_code, 2);
  EXPECT_EQ(ctl("--token-file " + token_file + " switch release green").exit_code, 0);
}

TEST_F(AdminTest, NonLoopbackAdminWithoutTokenRefusesToStart) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  std::string yaml = releaseConfig(100, 0);
  yaml.replace(yaml.find("{{ADMIN}}"), 9, "0.0.0.0:{{ADMINPORT}}");
  uint16_t port = freePort();
  std::string path =
      writeConfig(env_.dir(), "public-admin.yaml", yaml,
                  {{"LISTEN", "127.0.0.1:" + std::to_string(port)},
                   {"ADMINPORT", std::to_string(freePort())},
                   {"BLUE", "127.0.0.1:" + std::to_string(env_.backendPort("blue"))},
                   {"GREEN", "127.0.0.1:" + std::to_string(env_.backendPort("green"))}});

  Process proxy({turnoutBin(), "run", "-c", path}, env_.dir().file("public-admin.log"));
  std::optional<int> status = proxy.waitExit(Millis(10000));

  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  EXPECT_NE(proxy.log().find("without a bearer token"), std::string::npos) << proxy.log();
}

TEST_F(AdminTest, RestartComesBackWithTheOverridesAndHistory) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0, "runtime: {state_dir: \"{{DIR}}/state\"}\n")));
  ASSERT_EQ(admin("PUT", "/routes/release/weights", R"({"green": 100})").status, 200);
  stopProxy();

  ASSERT_TRUE(restartProxy());

  EXPECT_EQ(countBackends(port_, 10, 2)["green"], 10);
  config::ConfigVersion running = parseConfigVersion(admin("GET", "/config").body);
  EXPECT_EQ(running.version(), 2u);
  EXPECT_EQ(running.weight_overrides().count("release"), 1u);
  EXPECT_EQ(ctl("weights --clear").exit_code, 0);
  EXPECT_EQ(countBackends(port_, 10, 2)["blue"], 10);
  EXPECT_EQ(parseConfigVersion(admin("GET", "/config").body).version(), 3u);
}

TEST_F(AdminTest, ReloadAddsAndRemovesAListenerWithoutTouchingTheOther) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));
  uint16_t side = freePort();
  values_["SIDE"] = "127.0.0.1:" + std::to_string(side);
  std::string with_side = releaseConfig(100, 0);
  with_side.insert(with_side.find("admin:"), R"(  - name: side
    address: "{{SIDE}}"
    route_config:
      virtual_hosts:
        - name: side
          domains: ["*"]
          routes: [{name: s, match: {prefix: /}, route: {cluster: green}}]
)");
  HttpClient open_connection(port_);
  ASSERT_EQ(open_connection.get("/").header("x-backend"), "blue");

  ASSERT_EQ(admin("POST", "/config", substituted(with_side)).status, 200);
  ASSERT_TRUE(waitForPort(side, Millis(3000)));
  EXPECT_EQ(HttpClient(side).get("/").header("x-backend"), "green");
  HttpResponse same = open_connection.get("/");
  EXPECT_EQ(same.header("x-backend"), "blue");
  EXPECT_TRUE(same.keep_alive && open_connection.connected());

  ASSERT_EQ(admin("POST", "/config", substituted(releaseConfig(100, 0))).status, 200);
  std::this_thread::sleep_for(Millis(200));
  EXPECT_NE(HttpClient(side, Millis(1000)).get("/").status, 200);
  EXPECT_EQ(open_connection.get("/").header("x-backend"), "blue");
}

// An invalid config by each trigger: refused (answered or logged), the old one serving.
enum class Trigger { Admin, Ctl, FileRewrite, SymlinkSwap, Signal };

class InvalidConfigTest : public ControlTest, public ::testing::WithParamInterface<Trigger> {};

TEST_P(InvalidConfigTest, IsRefusedAndTheRunningVersionKeepsServing) {
  ASSERT_TRUE(startAll(releaseConfig(0, 100)));
  // A route to a cluster that does not exist, plus a YAML typo in a field name.
  std::string broken = releaseConfig(100, 0);
  broken.replace(broken.find("{name: green, weight: 0}"), 24, "{name: purple, weight: 1}");
  broken.replace(broken.find("hash_policy"), 11, "hash_polcy");
  std::string file = env_.dir().file("broken.yaml");
  std::ofstream(file) << substituted(broken);

  switch (GetParam()) {
    case Trigger::Admin: {
      HttpResponse response = admin("POST", "/config", substituted(broken));
      EXPECT_EQ(response.status, 400);
      config::ChangeReply reply = parseChangeReply(response.body);
      ASSERT_GE(reply.errors_size(), 1) << response.body;
      EXPECT_EQ(reply.errors(0).path(),
                "listeners[0].route_config.virtual_hosts[0].routes[0].route.hash_polcy");
      EXPECT_EQ(reply.version(), 1u);
      break;
    }
    case Trigger::Ctl: {
      CommandResult result = ctl("apply " + shellQuote(file));
      EXPECT_EQ(result.exit_code, 1);
      EXPECT_NE(result.output.find("hash_polcy"), std::string::npos) << result.output;
      break;
    }
    case Trigger::FileRewrite:
      rewriteConfig(broken);
      break;
    case Trigger::SymlinkSwap:
      swapConfig(broken);
      break;
    case Trigger::Signal:
      rewriteConfig(broken);
      signalProxy(SIGHUP);
      break;
  }

  // Refusals by file and signal are logged; wait for the line.
  for (int i = 0; i < 250 && proxy_->log(100000).find("refused (invalid)") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(Millis(20));
  }
  EXPECT_NE(proxy_->log(100000).find("refused (invalid)"), std::string::npos);
  EXPECT_EQ(runningVersion(), 1);
  EXPECT_EQ(countBackends(port_, 10, 2)["green"], 10);
}

INSTANTIATE_TEST_SUITE_P(Triggers, InvalidConfigTest,
                         ::testing::Values(Trigger::Admin, Trigger::Ctl, Trigger::FileRewrite,
                                           Trigger::SymlinkSwap, Trigger::Signal),
                         [](const auto& info) {
                           switch (info.param) {
                             case Trigger::Admin:
                               return "Admin";
                             case Trigger::Ctl:
                               return "Ctl";
                             case Trigger::FileRewrite:
                               return "FileRewrite";
                             case Trigger::SymlinkSwap:
                               return "SymlinkSwap";
                             case Trigger::Signal:
                               return "Signal";
                           }
                           return "Unknown";
                         });

TEST_F(AdminTest, CtlCommandsDoWhatTheySayWithPipelineExitCodes) {
  ASSERT_TRUE(startAll(releaseConfig(100, 0)));

  CommandResult switched = ctl("switch release green");
  EXPECT_EQ(switched.exit_code, 0) << switched.output;
  EXPECT_NE(switched.output.find("version 2 (was 1)"), std::string::npos) << switched.output;
  EXPECT_EQ(countBackends(port_, 5, 1)["green"], 5);

  CommandResult weights = ctl("weights release blue=25 green=75");
  EXPECT_EQ(weights.exit_code, 0) << weights.output;
  CommandResult status = ctl("status");
  EXPECT_NE(status.output.find("route release: blue=25 green=75  (override; configured "
                               "blue=100 green=0)"),
            std::string::npos)
      << status.output;

  EXPECT_EQ(ctl("weights release red=5").exit_code, 1);
  EXPECT_EQ(ctl("weights nope blue=5").exit_code, 1);
  EXPECT_EQ(ctl("weights release blue").exit_code, 2);
  EXPECT_EQ(ctl("rollback 2").exit_code, 0);
  EXPECT_EQ(ctl("rollback 99").exit_code, 1);
  CommandResult history = ctl("history");
  EXPECT_EQ(history.exit_code, 0);
  EXPECT_NE(history.output.find("*    4"), std::string::npos) << history.output;
  EXPECT_EQ(ctl("frobnicate").exit_code, 2);

  CommandResult unreachable =
      runCommand(shellQuote(turnoutBin()) + " ctl --admin 127.0.0.1:" + std::to_string(freePort()) +
                 " status 2>&1");
  EXPECT_EQ(unreachable.exit_code, 2);
}

}  // namespace
}  // namespace turnout::e2e
