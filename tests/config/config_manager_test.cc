// Tests the config manager: versions, weight overrides, rollback, history and the state
// directory, with a fake publisher in place of the proxy.
#include "config/config_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/proto_json.h"

namespace turnout {
namespace {

// A split route "release" of blue and green, and a plain route "plain"; `extra` is
// appended at the top level (runtime settings).
std::string configText(int blue, int green, const std::string& extra = "") {
  return "listeners:\n"
         "- name: main\n"
         "  address: 127.0.0.1:0\n"
         "  route_config:\n"
         "    virtual_hosts:\n"
         "    - name: all\n"
         "      domains: ['*']\n"
         "      routes:\n"
         "      - name: plain\n"
         "        match: {prefix: /plain}\n"
         "        route: {cluster: blue}\n"
         "      - name: release\n"
         "        match: {prefix: /}\n"
         "        route:\n"
         "          weighted_clusters:\n"
         "            clusters: [{name: blue, weight: " +
         std::to_string(blue) + "}, {name: green, weight: " + std::to_string(green) +
         "}]\n"
         "clusters:\n"
         "- {name: blue, endpoints: [{address: '127.0.0.1:9001'}]}\n"
         "- {name: green, endpoints: [{address: '127.0.0.1:9002'}]}\n" +
         extra;
}

// The weights of the release split in a compiled snapshot, as "blue/green".
std::string splitOf(const Snapshot& snapshot) {
  const RouteDef& route = snapshot.listeners[0].route_table.virtual_hosts[0].routes[1];
  return std::to_string(route.shares[0].weight) + "/" + std::to_string(route.shares[1].weight);
}

class ConfigManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/turnout-manager-XXXXXX";
    dir_ = mkdtemp(pattern);
    path_ = dir_ + "/turnout.yaml";
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  void writeConfig(const std::string& text) { std::ofstream(path_) << text; }

  std::unique_ptr<ConfigManager> makeManager() {
    auto publish = [this](std::shared_ptr<Snapshot> snapshot, std::string* error) {
      if (refuse_publish_) {
        *error = "listener did not bind";
        return false;
      }
      published_.push_back(snapshot);
      return true;
    };
    auto report = [this](bool error, const std::string& line) {
      lines_.push_back((error ? "E " : "I ") + line);
    };
    return std::make_unique<ConfigManager>(path_, publish, report);
  }

  const Snapshot& last() const { return *published_.back(); }

  std::string dir_;
  std::string path_;
  bool refuse_publish_ = false;
  std::vector<SnapshotPtr> published_;
  std::vector<std::string> lines_;
};

TEST_F(ConfigManagerTest, StartPublishesVersionOneFromTheFile) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();

  ChangeResult result = manager->start();

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(result.version, 1u);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(last().version, 1u);
  EXPECT_EQ(last().version_text, "1");
  EXPECT_EQ(manager->running().source(), "file");
  EXPECT_EQ(manager->running().origin(), path_);
}

TEST_F(ConfigManagerTest, WeightOverrideIsALayerOverTheConfiguredSplit) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  ChangeResult result = manager->setWeights("release", {{"green", 100}});

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied) << lines_.back();
  EXPECT_EQ(result.version, 2u);
  EXPECT_EQ(result.previous_version, 1u);
  EXPECT_EQ(splitOf(last()), "0/100");
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0], "route release: weights blue=100 green=0 -> blue=0 green=100");

  // GET /config shows both layers: the file's 100/0 and the running 0/100.
  config::ConfigVersion running = manager->running();
  auto configured = running.configured().listeners(0).route_config().virtual_hosts(0).routes(1);
  auto effective = running.effective().listeners(0).route_config().virtual_hosts(0).routes(1);
  EXPECT_EQ(configured.route().weighted_clusters().clusters(0).weight(), 100);
  EXPECT_EQ(effective.route().weighted_clusters().clusters(0).weight(), 0);
  EXPECT_EQ(running.weight_overrides().at("release").weights().at("green"), 100u);
}

TEST_F(ConfigManagerTest, FileReloadKeepsTheOverride) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  manager->setWeights("release", {{"blue", 10}, {"green", 90}});

  writeConfig(configText(50, 50, "access_log: {disabled: true}\n"));
  ChangeResult result = manager->reloadFile(ChangeSource::File);

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(result.version, 3u);
  EXPECT_EQ(splitOf(last()), "10/90");
  EXPECT_FALSE(last().access_log.enabled);
}

TEST_F(ConfigManagerTest, ClearingTheOverrideRestoresTheConfiguredWeights) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  manager->setWeights("release", {{"green", 100}});

  ChangeResult result = manager->clearWeights("");

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(splitOf(last()), "100/0");
  EXPECT_EQ(manager->running().weight_overrides_size(), 0);
  EXPECT_EQ(manager->clearWeights("release").outcome, ChangeOutcome::NotFound);
}

struct BadWeights {
  std::string name;
  std::string route;
  WeightMap weights;
  ChangeOutcome outcome;
};

class BadWeightsTest : public ConfigManagerTest,
                       public ::testing::WithParamInterface<BadWeights> {};

TEST_P(BadWeightsTest, RefusedAndTheRunningVersionStays) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  ChangeResult result = manager->setWeights(GetParam().route, GetParam().weights);

  EXPECT_EQ(result.outcome, GetParam().outcome);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.version, 1u);
  EXPECT_EQ(published_.size(), 1u);
  EXPECT_EQ(lines_.back().substr(0, 2), "E ");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadWeightsTest,
    ::testing::Values(
        BadWeights{"UnknownRoute", "nope", {{"blue", 1}}, ChangeOutcome::NotFound},
        BadWeights{"RouteWithoutSplit", "plain", {{"blue", 1}}, ChangeOutcome::NotFound},
        BadWeights{"PoolNotInSplit", "release", {{"red", 1}}, ChangeOutcome::Invalid},
        BadWeights{"SumZero", "release", {{"blue", 0}, {"green", 0}}, ChangeOutcome::Invalid},
        BadWeights{"WeightTooLarge", "release", {{"blue", 10001}}, ChangeOutcome::Invalid}),
    [](const auto& info) { return info.param.name; });

TEST_F(ConfigManagerTest, InvalidConfigIsRefusedWholeWithFieldPaths) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  ChangeResult result = manager->applyText(
      "listeners: [{name: main, address: '127.0.0.1:0', route_config: {virtual_hosts: [{name: "
      "a, domains: ['*'], routes: [{name: r, match: {prefix: /}, route: {cluster: nowhere}}]}]}}]"
      "\n");

  ASSERT_EQ(result.outcome, ChangeOutcome::Invalid);
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0].path,
            "listeners[0].route_config.virtual_hosts[0].routes[0].route.cluster");
  EXPECT_EQ(published_.size(), 1u);
  EXPECT_EQ(manager->runningVersion(), 1u);
  EXPECT_EQ(manager->counts()[static_cast<size_t>(ChangeSource::Admin)]
                             [static_cast<size_t>(ChangeOutcome::Invalid)],
            1u);
}

TEST_F(ConfigManagerTest, WeightedRoutesWithTheSameNameAreRefused) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  std::string text = configText(100, 0);
  text.replace(text.find("name: plain"), 11, "name: release");
  text.replace(text.find("route: {cluster: blue}"), 22,
               "route: {weighted_clusters: {clusters: [{name: blue, weight: 1}]}}");

  ChangeResult result = manager->applyText(text);

  ASSERT_EQ(result.outcome, ChangeOutcome::Invalid);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "listeners[0].route_config.virtual_hosts[0].routes[1].name");
}

TEST_F(ConfigManagerTest, SameEffectiveConfigMakesNoNewVersion) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  // Another spelling of the same config.
  ChangeResult result = manager->applyText(configText(100, 0) + "# a comment\n");

  EXPECT_EQ(result.outcome, ChangeOutcome::Unchanged);
  EXPECT_EQ(result.version, 1u);
  EXPECT_EQ(published_.size(), 1u);
}

TEST_F(ConfigManagerTest, FileWatchIgnoresAnUnchangedFile) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  manager->reloadFile(ChangeSource::File);
  manager->reloadFile(ChangeSource::File);

  EXPECT_EQ(published_.size(), 1u);
  EXPECT_EQ(manager->counts()[static_cast<size_t>(ChangeSource::File)]
                             [static_cast<size_t>(ChangeOutcome::Unchanged)],
            0u);
}

TEST_F(ConfigManagerTest, PublisherFailureRefusesTheChange) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  refuse_publish_ = true;

  ChangeResult result = manager->setWeights("release", {{"green", 1}});

  EXPECT_EQ(result.outcome, ChangeOutcome::Failed);
  EXPECT_EQ(result.errors[0].reason, "listener did not bind");
  EXPECT_EQ(manager->runningVersion(), 1u);
  EXPECT_EQ(manager->running().weight_overrides_size(), 0);
}

TEST_F(ConfigManagerTest, RollbackRestoresThePreviousVersionExactly) {
  writeConfig(configText(30, 70));
  auto manager = makeManager();
  manager->start();
  std::string first_hash = manager->running().content_hash();
  manager->setWeights("release", {{"green", 100}});

  ChangeResult result = manager->rollback(std::nullopt);

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(result.version, 3u);
  EXPECT_EQ(splitOf(last()), "30/70");
  const RouteDef& route = last().listeners[0].route_table.virtual_hosts[0].routes[1];
  const RouteDef& before = published_[0]->listeners[0].route_table.virtual_hosts[0].routes[1];
  EXPECT_EQ(route.shares[0].bucket_end, before.shares[0].bucket_end);
  config::ConfigVersion running = manager->running();
  EXPECT_EQ(running.content_hash(), first_hash);
  EXPECT_EQ(running.source(), "rollback");
  EXPECT_EQ(running.rolled_back_to(), 1u);
  EXPECT_EQ(running.weight_overrides_size(), 0);
}

TEST_F(ConfigManagerTest, RollbackToANamedVersion) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  manager->setWeights("release", {{"green", 100}});
  manager->setWeights("release", {{"blue", 50}, {"green", 50}});

  ChangeResult result = manager->rollback(2);

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(splitOf(last()), "0/100");
  EXPECT_EQ(manager->rollback(99).outcome, ChangeOutcome::NotFound);
}

TEST_F(ConfigManagerTest, RollbackWithNothingBeforeIsNotFound) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();

  EXPECT_EQ(manager->rollback(std::nullopt).outcome, ChangeOutcome::NotFound);
}

TEST_F(ConfigManagerTest, HistoryKeepsTheLastSixteenVersions) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  for (uint32_t i = 1; i <= 20; ++i) {
    manager->setWeights("release", {{"blue", i}, {"green", 1}});
  }

  config::ConfigHistory history = manager->history();

  ASSERT_EQ(history.versions_size(), 16);
  EXPECT_EQ(history.versions(0).version(), 6u);
  EXPECT_EQ(history.versions(15).version(), 21u);
  EXPECT_EQ(history.running_version(), 21u);
  EXPECT_FALSE(history.versions(15).has_effective());
  EXPECT_EQ(manager->rollback(5).outcome, ChangeOutcome::NotFound);
}

TEST_F(ConfigManagerTest, StateDirectoryBringsBackTheSplitAfterARestart) {
  std::string state = "runtime: {state_dir: '" + dir_ + "/state'}\n";
  writeConfig(configText(100, 0, state));
  {
    auto manager = makeManager();
    manager->start();
    manager->setWeights("release", {{"green", 100}});
  }
  published_.clear();

  auto restarted = makeManager();
  ChangeResult result = restarted->start();

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied) << lines_.back();
  EXPECT_EQ(result.version, 2u);  // The same config keeps its id.
  EXPECT_EQ(splitOf(last()), "0/100");
  EXPECT_EQ(restarted->history().versions_size(), 2);
  EXPECT_EQ(restarted->rollback(std::nullopt).outcome, ChangeOutcome::Applied);
  EXPECT_EQ(splitOf(last()), "100/0");
  EXPECT_EQ(restarted->runningVersion(), 3u);
}

TEST_F(ConfigManagerTest, OverrideIsDroppedWhenItsPoolLeavesTheSplit) {
  writeConfig(configText(100, 0));
  auto manager = makeManager();
  manager->start();
  manager->setWeights("release", {{"green", 100}});
  std::string text = configText(100, 0);
  text.replace(text.find(", {name: green, weight: 0}"), 26, "");

  writeConfig(text);
  ChangeResult result = manager->reloadFile(ChangeSource::Signal);

  ASSERT_EQ(result.outcome, ChangeOutcome::Applied);
  EXPECT_EQ(manager->running().weight_overrides_size(), 0);
  ASSERT_FALSE(result.changes.empty());
  EXPECT_EQ(result.changes.back(),
            "weight override of route release dropped: its split has no pool \"green\"");
}

TEST(ParseWeightsJson, AcceptsAnObjectOfWholeWeights) {
  std::string error;
  auto weights = parseWeightsJson(R"({"blue": 0, "green": 100})", &error);
  ASSERT_TRUE(weights) << error;
  EXPECT_EQ(describeWeights(*weights), "blue=0 green=100");
}

class ParseWeightsRefusal : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseWeightsRefusal, SaysWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(parseWeightsJson(GetParam(), &error));
  EXPECT_FALSE(error.empty());
}

INSTANTIATE_TEST_SUITE_P(Bodies, ParseWeightsRefusal,
                         ::testing::Values("", "[1]", "{}", R"({"blue": -1})", R"({"blue": 1.5})",
                                           R"({"blue": "10"})", R"({"blue": 10001})"));

}  // namespace
}  // namespace turnout
