// Tests the loader end to end: YAML and JSON input, error collection, files, formatting.
#include "config/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config/turnout.pb.h"
#include "tests/config/config_text.h"

namespace turnout {
namespace {

using namespace testing_config;

const char kYaml[] = R"(
listeners:
- name: main
  address: 127.0.0.1:8080
  route_config:
    virtual_hosts:
    - name: all
      domains: ["*"]
      routes:
      - name: canary
        match: {prefix: /, headers: [{name: x-id, exact_match: 123}]}
        route:
          weighted_clusters:
            clusters: [{name: stable, weight: 90}, {name: canary, weight: 10}]
clusters:
- {name: stable, endpoints: [{address: 127.0.0.1:9001}]}
- {name: canary, endpoints: [{address: 127.0.0.1:9002}]}
)";

// The same config as JSON, with lowerCamelCase names where the mapping allows them.
const char kJson[] = R"({
  "listeners": [{
    "name": "main",
    "address": "127.0.0.1:8080",
    "routeConfig": {"virtualHosts": [{
      "name": "all",
      "domains": ["*"],
      "routes": [{
        "name": "canary",
        "match": {"prefix": "/", "headers": [{"name": "x-id", "exactMatch": "123"}]},
        "route": {"weightedClusters": {"clusters": [
          {"name": "stable", "weight": 90}, {"name": "canary", "weight": 10}]}}
      }]
    }]}
  }],
  "clusters": [
    {"name": "stable", "endpoints": [{"address": "127.0.0.1:9001"}]},
    {"name": "canary", "endpoints": [{"address": "127.0.0.1:9002"}]}
  ]
})";

const RouteDef& onlyRoute(const Snapshot& snapshot) {
  return snapshot.listeners.at(0).route_table.virtual_hosts.at(0).routes.at(0);
}

TEST(LoadConfig, YamlAndJsonCompileToTheSameRoutes) {
  LoadResult yaml = loadConfigText(kYaml, "a.yaml");
  LoadResult json = loadConfigText(kJson, "a.json");

  ASSERT_TRUE(yaml.errors.empty()) << formatErrors("a.yaml", yaml.errors);
  ASSERT_TRUE(json.errors.empty()) << formatErrors("a.json", json.errors);
  const RouteDef& from_yaml = onlyRoute(*yaml.snapshot);
  const RouteDef& from_json = onlyRoute(*json.snapshot);
  ASSERT_EQ(from_yaml.shares.size(), 2u);
  ASSERT_EQ(from_json.shares.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(from_yaml.shares[i].cluster_index, from_json.shares[i].cluster_index);
    EXPECT_EQ(from_yaml.shares[i].bucket_end, from_json.shares[i].bucket_end);
  }
  EXPECT_EQ(from_yaml.headers.at(0).value.value, "123");
  EXPECT_EQ(from_json.headers.at(0).value.value, "123");
  EXPECT_EQ(from_yaml.salt_seed, from_json.salt_seed);
  EXPECT_NE(yaml.snapshot->content_hash, json.snapshot->content_hash);
}

// Scalars that YAML would read as numbers, booleans or floats stay text in string fields.
class StringFieldScalar : public testing::TestWithParam<std::string> {};

TEST_P(StringFieldScalar, KeepsItsTextAsWritten) {
  std::string text =
      withMatch("{prefix: /, headers: [{name: x, exact_match: " + GetParam() + "}]}");

  LoadResult result = loadConfigText(text, "t");

  ASSERT_TRUE(result.errors.empty()) << formatErrors("t", result.errors);
  EXPECT_EQ(onlyRoute(*result.snapshot).headers.at(0).value.value, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Scalars, StringFieldScalar,
                         testing::Values("123", "007", "1.50", "0x1F", "1e3", "true", "on", "no",
                                         "-0", ".inf"));

TEST(LoadConfig, EveryErrorIsReportedNotJustTheFirst) {
  std::string text = R"(
listeners:
- name: main
  address: localhost:80
  route_config:
    virtual_hosts:
    - name: all
      domains: ["*", "a*b"]
      routes:
      - match: {safe_regex: "("}
        route: {cluster: missing, timeout: 0s}
clusters:
- name: ""
)";

  LoadResult result = loadConfigText(text, "many.yaml");

  ASSERT_EQ(result.errors.size(), 6u) << formatErrors("many.yaml", result.errors);
  const std::string route = "listeners[0].route_config.virtual_hosts[0].routes[0]";
  EXPECT_EQ(result.errors[0].path, "listeners[0].address");
  EXPECT_EQ(result.errors[1].path, "listeners[0].route_config.virtual_hosts[0].domains[1]");
  EXPECT_EQ(result.errors[2].path, route + ".match.safe_regex");
  EXPECT_EQ(result.errors[3].path, route + ".route.cluster");
  EXPECT_EQ(result.errors[4].path, route + ".route.timeout");
  EXPECT_EQ(result.errors[5].path, "clusters[0].name");
  EXPECT_EQ(result.errors[0].line, 4);
  EXPECT_EQ(result.errors[4].line, 11);
  EXPECT_EQ(result.snapshot, nullptr);
}

TEST(LoadConfig, EveryValueOfTheWrongTypeIsReportedInTextOrder) {
  std::string text =
      "listeners: [{name: a, idle_timeout: 100ms}]\n"
      "clusters: [{name: x, max_idle_connections_per_endpoint: lots}]\n"
      "access_log: {format: XML}\n";

  LoadResult result = loadConfigText(text, "types.yaml");

  ASSERT_EQ(result.errors.size(), 3u) << formatErrors("types.yaml", result.errors);
  EXPECT_EQ(result.errors[0].path, "listeners[0].idle_timeout");
  EXPECT_EQ(result.errors[1].path, "clusters[0].max_idle_connections_per_endpoint");
  EXPECT_EQ(result.errors[2].path, "access_log.format");
  EXPECT_EQ(result.errors[2].line, 3);
}

TEST(LoadConfig, UnknownFieldIsAnErrorNamingTheField) {
  LoadResult result = loadConfigText(withRoute("{name: r, match: {prefix: /}, route: "
                                               "{cluster: stable, shadow_magic: {}}}"),
                                     "t");

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, kRoutePath + ".route.shadow_magic");
  EXPECT_NE(result.errors[0].reason.find("unknown field \"shadow_magic\" in RouteAction"),
            std::string::npos);
}

TEST(LoadConfig, ControlSideRulesAreCheckedToo) {
  std::string split =
      "{name: release, match: {prefix: /}, route: {weighted_clusters: "
      "{clusters: [{name: stable, weight: 1}]}}}";
  std::string text = withVirtualHosts("[{name: a, domains: [a.com], routes: [" + split +
                                      "]}, {name: b, domains: [b.com], routes: [" + split + "]}]");

  LoadResult result = loadConfigText(text + "runtime: {version_header: 'a b'}\n", "t");

  ASSERT_EQ(result.errors.size(), 2u) << formatErrors("t", result.errors);
  EXPECT_EQ(result.errors[0].path, "runtime.version_header");
  EXPECT_EQ(result.errors[0].line, 5);
  EXPECT_EQ(result.errors[1].path, "listeners[0].route_config.virtual_hosts[1].routes[0].name");
}

TEST(ParseConfigText, ParsesWithoutValidatingAndLocateErrorsAddsLines) {
  config::Bootstrap bootstrap;
  std::string text = "clusters:\n- name: ''\n";

  std::vector<ConfigError> errors = parseConfigText(text, &bootstrap);

  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(bootstrap.clusters_size(), 1);
  std::vector<ConfigError> later = {{"clusters[0].name", "must not be empty"},
                                    {"listeners", "at least one listener is required"}};
  locateErrors(text, &later);
  EXPECT_EQ(later[0].line, 2);
  EXPECT_EQ(later[0].column, 3);
  EXPECT_EQ(later[1].line, 0);
}

TEST(LoadConfig, EmptyTextNeedsAListener) {
  LoadResult result = loadConfigText("", "empty.yaml");

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "listeners");
}

TEST(LoadConfig, OversizedTextIsRefusedBeforeParsing) {
  std::string text(5 * 1024 * 1024, '#');

  LoadResult result = loadConfigText(text, "big.yaml");

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].reason.find("larger than"), std::string::npos);
}

TEST(LoadConfigFile, MissingFileIsOneErrorWithEmptyPath) {
  LoadResult result = loadConfigFile("/nonexistent/turnout.yaml");

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_NE(result.errors[0].reason.find("cannot open"), std::string::npos);
}

TEST(LoadConfigFile, FileIsReadAndNamedAsSource) {
  std::string path = ::testing::TempDir() + "loader_test_" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream file(path);
    file << kYaml;
  }

  LoadResult result = loadConfigFile(path);
  std::remove(path.c_str());

  ASSERT_TRUE(result.errors.empty()) << formatErrors(path, result.errors);
  EXPECT_EQ(result.snapshot->source, path);
}

TEST(FormatErrors, PrintsSourcePathReasonAndPosition) {
  std::vector<ConfigError> errors = {{"listeners[0].name", "must not be empty", 3, 5},
                                     {"", "YAML syntax error: bad", 0, 0}};

  EXPECT_EQ(formatErrors("c.yaml", errors),
            "c.yaml: listeners[0].name: must not be empty (line 3, column 5)\n"
            "c.yaml: YAML syntax error: bad\n");
}

}  // namespace
}  // namespace turnout
