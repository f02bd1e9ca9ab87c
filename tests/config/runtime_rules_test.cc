// Tests the admin-side rules: admin and runtime fields, unique names of weighted routes.
#include "config/runtime_rules.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace turnout {
namespace {

// A valid config with a weighted route "w" and a plain route "p", plus `extra` JSON fields.
config::Bootstrap configWith(const std::string& extra, const std::string& plain_name = "p") {
  std::string json = R"({"listeners": [{"name": "l", "address": "127.0.0.1:8080",
    "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
      {"name": "w", "match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
        {"name": "a", "weight": 1}]}}},
      {"name": ")" + plain_name +
                     R"(", "match": {"prefix": "/"}, "route": {"weighted_clusters":
        {"clusters": [{"name": "a", "weight": 1}]}}}]}]}}],
    "clusters": [{"name": "a"}])" +
                     extra + "}";
  config::Bootstrap config;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &config).ok()) << json;
  return config;
}

TEST(RuntimeRules, DefaultsPass) {
  EXPECT_TRUE(validateRuntimeRules(configWith("")).empty());
}

struct Case {
  const char* name;
  std::string extra;
  std::string plain_name;
  std::string path;
};

class RuntimeRuleRefusal : public ::testing::TestWithParam<Case> {};

TEST_P(RuntimeRuleRefusal, NamesTheField) {
  std::vector<ConfigError> errors =
      validateRuntimeRules(configWith(GetParam().extra, GetParam().plain_name));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, GetParam().path) << errors[0].reason;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RuntimeRuleRefusal,
    ::testing::Values(
        Case{"AdminHostName", R"(, "admin": {"address": "localhost:9901"})", "p", "admin.address"},
        Case{"TokenEnvWithEquals", R"(, "admin": {"bearer_token_env": "A=B"})", "p",
             "admin.bearer_token_env"},
        Case{"VersionHeaderNotAToken", R"(, "runtime": {"version_header": "x version"})", "p",
             "runtime.version_header"},
        Case{"VersionHeaderManaged", R"(, "runtime": {"version_header": "Content-Length"})", "p",
             "runtime.version_header"},
        Case{"DuplicateWeightedRouteName", "", "w",
             "listeners[0].route_config.virtual_hosts[0].routes[1].name"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RuntimeRules, ListsNamedWeightedRoutesInConfigOrder) {
  std::vector<WeightedRouteRef> routes = listWeightedRoutes(configWith(""));
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].name, "w");
  EXPECT_EQ(routes[1].path, "listeners[0].route_config.virtual_hosts[0].routes[1]");
}

}  // namespace
}  // namespace turnout
