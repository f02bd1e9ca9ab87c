// Tests that every invalid config is refused with the offending field's path and a reason.
#include "config/validator.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "tests/config/config_text.h"

namespace turnout {
namespace {

using namespace testing_config;

struct InvalidCase {
  std::string name;
  std::string yaml;
  std::string path;
  std::string reason_part;
};

// Every case is a valid config with one mistake, so exactly one error is expected.
class InvalidConfig : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidConfig, IsRefusedWithPathAndReason) {
  LoadResult result = loadConfigText(GetParam().yaml, "test.yaml");

  EXPECT_EQ(result.snapshot, nullptr);
  ASSERT_EQ(result.errors.size(), 1u) << formatErrors("test.yaml", result.errors);
  EXPECT_EQ(result.errors[0].path, GetParam().path);
  EXPECT_NE(result.errors[0].reason.find(GetParam().reason_part), std::string::npos)
      << result.errors[0].reason;
}

const std::string kRoutes = "listeners[0].route_config.virtual_hosts[0].routes";
const std::string kHosts = "listeners[0].route_config.virtual_hosts";
const std::string kSplit = kRoutePath + ".route.weighted_clusters";
const std::string kHash = kRoutePath + ".route.hash_policy[0]";
const std::string kSticky = kRoutePath + ".route.sticky_cookie";
const std::string kMatch = kRoutePath + ".match";

std::string listener(const std::string& name, const std::string& address,
                     const std::string& extra = "") {
  return "{name: " + name + ", address: '" + address + "', " + extra +
         "route_config: {virtual_hosts: [" + kVirtualHost + "]}}";
}

std::string twoListeners(const std::string& first, const std::string& second) {
  return withListeners("[" + first + ", " + second + "]");
}

std::string host(const std::string& name, const std::string& domains) {
  return "{name: " + name + ", domains: " + domains + ", routes: [" + kRoute + "]}";
}

const InvalidCase kListenerCases[] = {
    {"TunnelIdleTimeoutZero",
     withListeners("[" + listener("a", "127.0.0.1:80", "tunnel_idle_timeout: 0s, ") + "]"),
     "listeners[0].tunnel_idle_timeout", "must be positive"},
    {"ListenerUpgradeTypeEmpty",
     withListeners("[" + listener("a", "127.0.0.1:80", "upgrade_configs: [{enabled: false}], ") +
                   "]"),
     "listeners[0].upgrade_configs[0].upgrade_type", "not a protocol name"},
    {"NoListeners", kClusters, "listeners", "at least one listener"},
    {"ListenerNameEmpty", withListeners("[" + listener("''", "127.0.0.1:80") + "]"),
     "listeners[0].name", "must not be empty"},
    {"ListenerNameDuplicate",
     twoListeners(listener("a", "127.0.0.1:80"), listener("a", "127.0.0.1:81")),
     "listeners[1].name", "already the name of listeners[0]"},
    {"ListenerAddressHostName", withListeners("[" + listener("a", "localhost:80") + "]"),
     "listeners[0].address", "numeric IPv4"},
    {"ListenerAddressMissing", withListeners("[" + listener("a", "") + "]"), "listeners[0].address",
     "empty"},
    {"ListenerPortTooLarge", withListeners("[" + listener("a", "127.0.0.1:70000") + "]"),
     "listeners[0].address", "0..65535"},
    {"ListenerIpv6Unbracketed", withListeners("[" + listener("a", "::1:80") + "]"),
     "listeners[0].address", "brackets"},
    {"ListenerAddressDuplicate",
     twoListeners(listener("a", "127.0.0.1:80"), listener("b", "127.0.0.1:80")),
     "listeners[1].address", "collides with listeners[0]"},
    {"ListenerAddressUnderWildcard",
     twoListeners(listener("a", "0.0.0.0:80"), listener("b", "127.0.0.1:80")),
     "listeners[1].address", "collides with listeners[0] (0.0.0.0:80)"},
    {"HeadersLimitTooSmall",
     withListeners("[" + listener("a", "127.0.0.1:80", "max_request_headers_bytes: 1023, ") + "]"),
     "listeners[0].max_request_headers_bytes", "1024..1048576"},
    {"HeadersLimitTooLarge",
     withListeners("[" + listener("a", "127.0.0.1:80", "max_request_headers_bytes: 1048577, ") +
                   "]"),
     "listeners[0].max_request_headers_bytes", "got 1048577"},
    {"RequestLineLimitTooSmall",
     withListeners("[" + listener("a", "127.0.0.1:80", "max_request_line_bytes: 63, ") + "]"),
     "listeners[0].max_request_line_bytes", "64..1048576"},
    {"HeadersCountTooLarge",
     withListeners("[" + listener("a", "127.0.0.1:80", "max_request_headers_count: 10001, ") +
                   "]"),
     "listeners[0].max_request_headers_count", "got 10001"},
    {"IdleTimeoutZero",
     withListeners("[" + listener("a", "127.0.0.1:80", "idle_timeout: 0s, ") + "]"),
     "listeners[0].idle_timeout", "must be positive"},
    {"IdleTimeoutNegative",
     withListeners("[" + listener("a", "127.0.0.1:80", "idle_timeout: -1s, ") + "]"),
     "listeners[0].idle_timeout", "must not be negative"},
    {"DecisionHeaderNotToken",
     withRouteConfig("{decision_headers: {cluster_header: 'x cluster'}, virtual_hosts: [" +
                     kVirtualHost + "]}"),
     "listeners[0].route_config.decision_headers.cluster_header", "not a valid header name"},
    {"DecisionHeaderFraming",
     withRouteConfig("{decision_headers: {bucket_header: Content-Length}, virtual_hosts: [" +
                     kVirtualHost + "]}"),
     "listeners[0].route_config.decision_headers.bucket_header", "managed by the proxy"},
    {"DecisionHeaderWrittenByProxy",
     withRouteConfig("{decision_headers: {cluster_header: X-Forwarded-For}, virtual_hosts: [" +
                     kVirtualHost + "]}"),
     "listeners[0].route_config.decision_headers.cluster_header", "managed by the proxy"},
    {"DecisionHeadersEqual",
     withRouteConfig("{decision_headers: {cluster_header: X-A, bucket_header: x-a}, "
                     "virtual_hosts: [" +
                     kVirtualHost + "]}"),
     "listeners[0].route_config.decision_headers.bucket_header", "must differ"},
};

const InvalidCase kClusterCases[] = {
    {"ClusterNameEmpty", withClusters("[{name: stable}, {endpoints: []}]"), "clusters[1].name",
     "must not be empty"},
    {"ClusterNameDuplicate", withClusters("[{name: stable}, {name: stable}]"), "clusters[1].name",
     "already the name of clusters[0]"},
    {"EndpointHostName", withClusters("[{name: stable, endpoints: [{address: 'db:5432'}]}]"),
     "clusters[0].endpoints[0].address", "numeric IPv4"},
    {"EndpointPortZero", withClusters("[{name: stable, endpoints: [{address: '10.0.0.1:0'}]}]"),
     "clusters[0].endpoints[0].address", "port 0 is allowed only for listeners"},
    {"ConnectTimeoutZero", withClusters("[{name: stable, connect_timeout: 0s}]"),
     "clusters[0].connect_timeout", "must be positive"},
    {"ConnectTimeoutNegative", withClusters("[{name: stable, connect_timeout: -0.5s}]"),
     "clusters[0].connect_timeout", "must not be negative"},
    {"HealthCheckPathMissing", withClusters("[{name: stable, health_check: {interval: 1s}}]"),
     "clusters[0].health_check.path", "must start with \"/\""},
    {"HealthCheckIntervalTooShort",
     withClusters("[{name: stable, health_check: {path: /h, interval: 0.01s}}]"),
     "clusters[0].health_check.interval", "0.1s..1h"},
    {"HealthCheckIntervalTooLong",
     withClusters("[{name: stable, health_check: {path: /h, interval: 7200s}}]"),
     "clusters[0].health_check.interval", "0.1s..1h"},
    {"HealthCheckThresholdTooLarge",
     withClusters("[{name: stable, health_check: {path: /h, healthy_threshold: 101}}]"),
     "clusters[0].health_check.healthy_threshold", "1..100"},
    {"HealthCheckStatusOutOfRange",
     withClusters("[{name: stable, health_check: {path: /h, expected_statuses: [200, 99]}}]"),
     "clusters[0].health_check.expected_statuses[1]", "100..599"},
    {"EjectionPercentTooLarge",
     withClusters("[{name: stable, outlier_detection: {max_ejection_percent: 101}}]"),
     "clusters[0].outlier_detection.max_ejection_percent", "0..100"},
    {"MaxEjectionBelowBase",
     withClusters("[{name: stable, outlier_detection: {base_ejection_time: 60s, "
                  "max_ejection_time: 10s}}]"),
     "clusters[0].outlier_detection.max_ejection_time", "at least base_ejection_time"},
};

const InvalidCase kVirtualHostCases[] = {
    {"NoVirtualHosts", withVirtualHosts("[]"), kHosts, "at least one virtual host"},
    {"NoRouteConfig", withListeners("[{name: a, address: '127.0.0.1:80'}]"), kHosts,
     "at least one virtual host"},
    {"VirtualHostWithoutDomains", withVirtualHosts("[{name: a, routes: [" + kRoute + "]}]"),
     kHosts + "[0].domains", "at least one domain"},
    {"VirtualHostWithoutRoutes", withVirtualHosts("[{name: a, domains: ['*']}]"),
     kHosts + "[0].routes", "at least one route"},
    {"VirtualHostNameDuplicate",
     withVirtualHosts("[" + host("a", "[a.com]") + ", " + host("a", "[b.com]") + "]"),
     kHosts + "[1].name", "already the name of " + kHosts + "[0]"},
    {"DomainInTwoVirtualHosts",
     withVirtualHosts("[" + host("a", "[a.com]") + ", " + host("b", "[A.com]") + "]"),
     kHosts + "[1].domains[0]", "also a domain of " + kHosts + "[0]"},
    {"DomainTwiceInOneVirtualHost",
     withVirtualHosts("[" + host("a", "['*.a.com', '*.a.com']") + "]"), kHosts + "[0].domains[1]",
     "listed twice"},
    {"DomainStarInside", withVirtualHosts("[" + host("a", "['a*b']") + "]"),
     kHosts + "[0].domains[0]", "not a valid domain"},
    {"DomainStarDot", withVirtualHosts("[" + host("a", "['*.']") + "]"), kHosts + "[0].domains[0]",
     "not a valid domain"},
    {"RouteNameDuplicate", withRoutes("[" + kRoute + ", " + kRoute + "]"), kRoutes + "[1].name",
     "already the name of " + kRoutes + "[0]"},
};

const InvalidCase kMatchCases[] = {
    {"RouteWithoutMatch", withRoute("{name: r, route: {cluster: stable}}"), kMatch, "is required"},
    {"NoPathSpecifier", withMatch("{methods: [GET]}"), kMatch,
     "one of prefix, path, safe_regex or connect_matcher"},
    {"ConnectMatcherWithoutConnectUpgrade", withMatch("{connect_matcher: {}}"),
     kMatch + ".connect_matcher", "needs upgrade_configs [{upgrade_type: CONNECT}]"},
    {"PathWithoutSlash", withMatch("{path: abc}"), kMatch + ".path", "must start with '/'"},
    {"PrefixWithoutSlash", withMatch("{prefix: abc}"), kMatch + ".prefix", "must start with '/'"},
    {"PathRegexInvalid", withMatch("{safe_regex: '/(a'}"), kMatch + ".safe_regex",
     "invalid RE2 regex: missing )"},
    {"HeaderRegexInvalid", withMatch("{prefix: /, headers: [{name: x, safe_regex_match: '[a'}]}"),
     kMatch + ".headers[0].safe_regex_match", "invalid RE2 regex"},
    {"HeaderMatcherNameEmpty", withMatch("{prefix: /, headers: [{exact_match: a}]}"),
     kMatch + ".headers[0].name", "must not be empty"},
    {"HeaderMatcherNameNotToken",
     withMatch("{prefix: /, headers: [{name: 'a b', exact_match: a}]}"),
     kMatch + ".headers[0].name", "not a valid name"},
    {"CookieMatcherWithoutSpecifier", withMatch("{prefix: /, cookies: [{name: c}]}"),
     kMatch + ".cookies[0]", "one of exact_match"},
    {"CookieMatcherNameNotToken",
     withMatch("{prefix: /, cookies: [{name: 'a=b', exact_match: x}]}"),
     kMatch + ".cookies[0].name", "not a valid name"},
    {"QueryMatcherPresentFalse",
     withMatch("{prefix: /, query_parameters: [{name: q, present_match: false}]}"),
     kMatch + ".query_parameters[0].present_match", "must be true"},
    {"QueryMatcherNameEmpty", withMatch("{prefix: /, query_parameters: [{present_match: true}]}"),
     kMatch + ".query_parameters[0].name", "must not be empty"},
    {"MethodNotToken", withMatch("{prefix: /, methods: [GET, 'P OST']}"), kMatch + ".methods[1]",
     "not a valid method"},
    {"MethodEmpty", withMatch("{prefix: /, methods: ['']}"), kMatch + ".methods[0]",
     "not a valid method"},
};

const InvalidCase kActionCases[] = {
    {"RetriesTooMany", withAction("{cluster: stable, retry_policy: {num_retries: 6}}"),
     kRoutePath + ".route.retry_policy.num_retries", "0..5"},
    {"RetryConditionUnknown",
     withAction("{cluster: stable, retry_policy: {retry_on: [connect-failure, 5xx]}}"),
     kRoutePath + ".route.retry_policy.retry_on[1]", "unknown condition \"5xx\""},
    {"PerTryTimeoutZero", withAction("{cluster: stable, retry_policy: {per_try_timeout: 0s}}"),
     kRoutePath + ".route.retry_policy.per_try_timeout", "must be positive"},
    {"FallbackUndefined",
     withAction("{weighted_clusters: {clusters: [{name: stable, weight: 1}], "
                "fallback_cluster: nope}}"),
     kSplit + ".fallback_cluster", "unknown cluster \"nope\""},
    {"StrictWithFallback",
     withAction("{weighted_clusters: {clusters: [{name: stable, weight: 1}], "
                "fallback_cluster: canary, strict: true}}"),
     kSplit + ".fallback_cluster", "a strict split has no fallback"},
    {"RouteWithoutAction", withRoute("{name: r, match: {prefix: /}}"), kRoutePath + ".route",
     "is required"},
    {"NoClusterSpecifier", withAction("{timeout: 1s}"), kRoutePath + ".route",
     "one of cluster or weighted_clusters"},
    {"ClusterUndefined", withAction("{cluster: nope}"), kRoutePath + ".route.cluster",
     "unknown cluster \"nope\""},
    {"ClusterEmpty", withAction("{cluster: ''}"), kRoutePath + ".route.cluster",
     "must not be empty"},
    {"SplitEmpty", withAction("{weighted_clusters: {}}"), kSplit, "lists no clusters"},
    {"SplitClusterUndefined",
     withAction("{weighted_clusters: {clusters: [{name: nope, weight: 1}]}}"),
     kSplit + ".clusters[0].name", "unknown cluster \"nope\""},
    {"SplitWeightNegative",
     withAction(
         "{weighted_clusters: {clusters: [{name: stable, weight: -1}, {name: canary, weight: "
         "5}]}}"),
     kSplit + ".clusters[0].weight", "0..10000"},
    {"SplitWeightTooLarge",
     withAction("{weighted_clusters: {clusters: [{name: stable, weight: 10001}]}}"),
     kSplit + ".clusters[0].weight", "got 10001"},
    {"SplitWeightsSumToZero",
     withAction("{weighted_clusters: {clusters: [{name: stable, weight: 0}, {name: canary}]}}"),
     kSplit, "weights sum to 0"},
    {"SplitClusterTwice",
     withAction("{weighted_clusters: {clusters: [{name: stable, weight: 1}, {name: stable, weight: "
                "2}]}}"),
     kSplit + ".clusters[1].name", "already in this split"},
    {"HashPolicyEmpty", withAction("{cluster: stable, hash_policy: [{}]}"), kHash,
     "one of header, cookie"},
    {"HashHeaderNameEmpty", withAction("{cluster: stable, hash_policy: [{header: {}}]}"),
     kHash + ".header.header_name", "must not be empty"},
    {"HashCookieNameNotToken",
     withAction("{cluster: stable, hash_policy: [{cookie: {name: 'a;b'}}]}"),
     kHash + ".cookie.name", "not a valid name"},
    {"HashQueryNameEmpty", withAction("{cluster: stable, hash_policy: [{query_parameter: {}}]}"),
     kHash + ".query_parameter.name", "must not be empty"},
    {"HashSourceIpFalse",
     withAction("{cluster: stable, hash_policy: [{connection_properties: {source_ip: false}}]}"),
     kHash + ".connection_properties.source_ip", "must be true"},
    {"HashBucketHeaderNotToken",
     withAction("{cluster: stable, hash_policy: [{bucket_header: {header_name: 'a b'}}]}"),
     kHash + ".bucket_header.header_name", "not a valid name"},
    {"StickyCookieWithoutName", withAction("{cluster: stable, sticky_cookie: {ttl: 60s}}"),
     kSticky + ".name", "is required"},
    {"StickyCookieNameNotToken", withAction("{cluster: stable, sticky_cookie: {name: 'a=b'}}"),
     kSticky + ".name", "not a valid cookie name"},
    {"StickyCookieTtlNegative", withAction("{cluster: stable, sticky_cookie: {name: s, ttl: -5s}}"),
     kSticky + ".ttl", "must not be negative"},
    {"StickyCookiePathWithSemicolon",
     withAction("{cluster: stable, sticky_cookie: {name: s, path: '/a;b'}}"), kSticky + ".path",
     "no ';'"},
    {"TimeoutZero", withAction("{cluster: stable, timeout: 0s}"), kRoutePath + ".route.timeout",
     "must be positive"},
    {"ConnectUpgradeOnARouteWithoutConnectMatcher",
     withAction("{cluster: stable, upgrade_configs: [{upgrade_type: CONNECT}]}"),
     kRoutePath + ".route.upgrade_configs", "only accepted by a route with match.connect_matcher"},
    {"UpgradeTypeNotToken",
     withAction("{cluster: stable, upgrade_configs: [{upgrade_type: 'web socket'}]}"),
     kRoutePath + ".route.upgrade_configs[0].upgrade_type", "not a protocol name"},
    {"UpgradeTypeTwice",
     withAction("{cluster: stable, upgrade_configs: [{upgrade_type: websocket}, "
                "{upgrade_type: WebSocket, enabled: false}]}"),
     kRoutePath + ".route.upgrade_configs[1].upgrade_type", "listed twice"},
    {"TimeoutNegative", withAction("{cluster: stable, timeout: -2s}"),
     kRoutePath + ".route.timeout", "must not be negative"},
};

// Mistakes the protobuf JSON mapping or the YAML front end catches before validation.
const InvalidCase kSchemaCases[] = {
    {"UnknownField", withListeners("[{name: a, adress: '127.0.0.1:80'}]"), "listeners[0].adress",
     "unknown field \"adress\""},
    {"UnknownNestedField", withMatch("{prefx: /}"), kMatch + ".prefx", "did you mean \"prefix\""},
    {"NumberFieldGetsText",
     withListeners("[" + listener("a", "127.0.0.1:80", "max_request_headers_bytes: lots, ") + "]"),
     "listeners[0].max_request_headers_bytes", "invalid value \"lots\" for type UINT32"},
    {"DurationWithoutUnit",
     withListeners("[" + listener("a", "127.0.0.1:80", "idle_timeout: 5, ") + "]"),
     "listeners[0].idle_timeout", "e.g. \"1.5s\""},
    {"EnumUnknownName", withClusters("[{name: stable}]") + "access_log: {format: XML}\n",
     "access_log.format", "invalid value \"XML\""},
    {"TwoPathSpecifiers", withMatch("{prefix: /, path: /a}"), kMatch, "oneof"},
};

std::string caseName(const testing::TestParamInfo<InvalidCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Listeners, InvalidConfig, testing::ValuesIn(kListenerCases), caseName);
INSTANTIATE_TEST_SUITE_P(Clusters, InvalidConfig, testing::ValuesIn(kClusterCases), caseName);
INSTANTIATE_TEST_SUITE_P(VirtualHosts, InvalidConfig, testing::ValuesIn(kVirtualHostCases),
                         caseName);
INSTANTIATE_TEST_SUITE_P(Matches, InvalidConfig, testing::ValuesIn(kMatchCases), caseName);
INSTANTIATE_TEST_SUITE_P(Actions, InvalidConfig, testing::ValuesIn(kActionCases), caseName);
INSTANTIATE_TEST_SUITE_P(Schema, InvalidConfig, testing::ValuesIn(kSchemaCases), caseName);

// The fixtures above must start from a config that is itself valid.
TEST(ValidConfig, BaseTextsHaveNoErrors) {
  for (const std::string& text : {withRoute(kRoute), withClusters("[{name: stable}]"),
                                  withMatch("{path: /a}"), withAction("{cluster: canary}")}) {
    LoadResult result = loadConfigText(text, "test.yaml");
    EXPECT_TRUE(result.errors.empty()) << formatErrors("test.yaml", result.errors);
  }
}

TEST(ValidConfig, EmptyPrefixAndZeroPortListenerAreAccepted) {
  std::string text =
      withListeners("[" + listener("a", "127.0.0.1:0") + ", " + listener("b", "127.0.0.1:0") + "]");
  EXPECT_TRUE(loadConfigText(text, "t").errors.empty());
  EXPECT_TRUE(loadConfigText(withMatch("{prefix: ''}"), "t").errors.empty());
}

TEST(ValidConfig, ConnectRouteEnabledOnTheListenerIsAccepted) {
  std::string connect_route = "{name: c, match: {connect_matcher: {}}, route: {cluster: stable}}";
  std::string yaml = withListeners(
      "[{name: a, address: '127.0.0.1:80', upgrade_configs: [{upgrade_type: connect}], "
      "route_config: {virtual_hosts: [{name: all, domains: ['*'], routes: [" +
      connect_route + ", " + kRoute + "]}]}}]");
  LoadResult result = loadConfigText(yaml, "test.yaml");
  EXPECT_TRUE(result.errors.empty()) << formatErrors("test.yaml", result.errors);
}

TEST(ValidConfig, SameDomainOnTwoListenersIsAccepted) {
  std::string text = twoListeners(listener("a", "127.0.0.1:80"), listener("b", "127.0.0.1:81"));
  EXPECT_TRUE(loadConfigText(text, "t").errors.empty());
}

}  // namespace
}  // namespace turnout
