// End to end: the command line. `turnout validate` names the broken field; `turnout run`
// stops cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <ostream>
#include <string>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// A valid config in which each case replaces one marked piece.
constexpr const char* kValidateBase = R"(
listeners:
  - name: main
    address: "{{LISTENER_ADDRESS}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: first
              match:
                {{MATCH}}
              route:
                {{ACTION}}
clusters:
  - name: blue
    endpoints:
      - address: "{{ENDPOINT_ADDRESS}}"
  - name: green
    endpoints:
      - address: "127.0.0.1:19002"
)";

struct BrokenCase {
  std::string name;
  std::map<std::string, std::string> values;  // Overrides of the valid pieces.
  std::string expected;  // Must follow "FILE: " in the output (a field path, a name).
};

std::map<std::string, std::string> validPieces() {
  return {{"LISTENER_ADDRESS", "127.0.0.1:8080"},
          {"MATCH", "prefix: \"/\""},
          {"ACTION", "cluster: blue"},
          {"ENDPOINT_ADDRESS", "127.0.0.1:19001"}};
}

constexpr const char* kRoute = "listeners[0].route_config.virtual_hosts[0].routes[0]";

// GoogleTest prints a failing case by its name.
void PrintTo(const BrokenCase& param, std::ostream* out) {
  *out << param.name;
}

using ValidateTest = E2eParamTest<BrokenCase>;

TEST_P(ValidateTest, BrokenConfigExitsNonZeroNamingTheField) {
  const BrokenCase& param = GetParam();
  std::map<std::string, std::string> values = validPieces();
  for (const auto& [key, value] : param.values) {
    values[key] = value;
  }
  std::string path = writeConfig(env_.dir(), "broken.yaml", kValidateBase, values);

  CommandResult result =
      runCommand(shellQuote(turnoutBin()) + " validate " + shellQuote(path) + " 2>&1");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find(path + ": "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(param.expected), std::string::npos)
      << "expected " << param.expected << " in: " << result.output;
}

TEST(ValidateBaseTest, ValidBaseConfigPrintsOk) {
  TempDir dir;
  std::string path = writeConfig(dir, "valid.yaml", kValidateBase, validPieces());
  CommandResult result =
      runCommand(shellQuote(turnoutBin()) + " validate " + shellQuote(path) + " 2>&1");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("OK"), std::string::npos) << result.output;
}

INSTANTIATE_TEST_SUITE_P(
    BrokenConfigs, ValidateTest,
    ::testing::Values(BrokenCase{"UnknownCluster",
                                 {{"ACTION", "cluster: purple"}},
                                 std::string(kRoute) + ".route.cluster"},
                      BrokenCase{"ZeroWeightSum",
                                 {{"ACTION",
                                   "weighted_clusters: {clusters: [{name: blue, weight: 0}, "
                                   "{name: green, weight: 0}]}"}},
                                 std::string(kRoute) + ".route.weighted_clusters"},
                      BrokenCase{"BadRegex",
                                 {{"MATCH", "safe_regex: \"(unclosed\""}},
                                 std::string(kRoute) + ".match.safe_regex"},
                      BrokenCase{"ListenerHostName",
                                 {{"LISTENER_ADDRESS", "localhost:8080"}},
                                 "listeners[0].address"},
                      BrokenCase{"EndpointWithoutPort",
                                 {{"ENDPOINT_ADDRESS", "127.0.0.1"}},
                                 "clusters[0].endpoints[0].address"},
                      BrokenCase{"MisspelledField",
                                 {{"ACTION", "clustr: blue"}},
                                 std::string(kRoute) + ".route.clustr"}),
    [](const ::testing::TestParamInfo<BrokenCase>& info) { return info.param.name; });

using RunTest = E2eTest;

TEST_F(RunTest, SigtermStopsProxyWithExitZero) {
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  uint16_t port = env_.startProxy(std::string(kBlueOnlyListener) + kBlueGreenClusters);
  ASSERT_NE(port, 0);
  HttpClient client(port);
  ASSERT_EQ(client.get("/").status, 200);

  std::optional<int> status = env_.proxy(0).stop(std::chrono::milliseconds(5000));
  ASSERT_TRUE(status.has_value()) << "turnout ignored SIGTERM for 5 s";
  EXPECT_TRUE(WIFEXITED(*status)) << "raw wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace turnout::e2e
