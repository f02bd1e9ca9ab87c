// Tests that a valid config compiles to the expected snapshot: indices, buckets, defaults.
#include "config/snapshot_compiler.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include "config/loader.h"

namespace turnout {
namespace {

const char kFullConfig[] = R"(
listeners:
- name: edge
  address: "[::1]:8080"
  max_request_body_bytes: 1048576
  route_config:
    decision_headers: {cluster_header: X-Pool}
    virtual_hosts:
    - name: api
      domains: ["API.Example.com", "*.Example.com", "api.*"]
      routes:
      - name: beta
        match:
          safe_regex: "/v[0-9]+/.*"
          headers: [{name: X-Beta, present_match: true}]
          cookies: [{name: Flag, exact_match: on, invert_match: true}]
          query_parameters: [{name: Debug, safe_regex_match: "1|yes"}]
          methods: [GET, POST]
        route: {cluster: canary, timeout: 2.5s}
      - name: split
        match: {prefix: /}
        route:
          weighted_clusters:
            clusters:
            - {name: stable, weight: 95}
            - {name: canary, weight: 5}
          hash_policy:
          - header: {header_name: X-User}
          - cookie: {name: uid}
          - query_parameter: {name: u}
          - connection_properties: {source_ip: true}
          - bucket_header: {header_name: X-Turnout-Bucket}
          sticky_cookie: {name: tb}
          hash_salt: shared
    - name: rest
      domains: ["*"]
      routes: [{name: all, match: {path: /}, route: {cluster: stable}}]
clusters:
- name: stable
  endpoints: [{address: "127.0.0.1:9001"}, {address: "[::1]:9002"}]
- name: canary
  connect_timeout: 0.25s
  max_idle_connections_per_endpoint: 8
  endpoints: [{address: "127.0.0.1:9003"}]
access_log: {format: JSON, path: /var/log/turnout.log}
)";

class FullConfig : public testing::Test {
 protected:
  void SetUp() override {
    LoadResult result = loadConfigText(kFullConfig, "full.yaml");
    ASSERT_TRUE(result.errors.empty()) << formatErrors("full.yaml", result.errors);
    snapshot_ = result.snapshot;
  }

  const ListenerDef& listener() const { return snapshot_->listeners.at(0); }
  const VirtualHostDef& host(size_t i) const { return listener().route_table.virtual_hosts.at(i); }
  const RouteDef& beta() const { return host(0).routes.at(0); }
  const RouteDef& split() const { return host(0).routes.at(1); }

  SnapshotPtr snapshot_;
};

TEST_F(FullConfig, SourceAndContentHashAreRecorded) {
  EXPECT_EQ(snapshot_->source, "full.yaml");
  EXPECT_EQ(snapshot_->content_hash, XXH3_64bits(kFullConfig, sizeof(kFullConfig) - 1));
}

TEST_F(FullConfig, ListenerGetsAddressAndDefaults) {
  EXPECT_EQ(listener().name, "edge");
  EXPECT_EQ(listener().address.text, "[::1]:8080");
  EXPECT_EQ(listener().address.sockaddrPtr()->sa_family, AF_INET6);
  EXPECT_EQ(listener().max_request_headers_bytes, 65536u);
  EXPECT_EQ(listener().max_request_line_bytes, 16384u);
  EXPECT_EQ(listener().max_request_headers_count, 100u);
  EXPECT_FALSE(listener().allow_bare_lf);
  EXPECT_EQ(listener().max_request_body_bytes, 1048576u);
  EXPECT_EQ(listener().idle_timeout_ms, 60000u);
}

TEST_F(FullConfig, DecisionHeadersAreLowerCasedWithDefaults) {
  const DecisionHeadersDef& headers = listener().route_table.decision_headers;
  EXPECT_TRUE(headers.enabled);
  EXPECT_EQ(headers.cluster_header, "x-pool");
  EXPECT_EQ(headers.bucket_header, "x-turnout-bucket");
}

TEST_F(FullConfig, DomainsCompileToKinds) {
  const std::vector<DomainMatch>& domains = host(0).domains;
  ASSERT_EQ(domains.size(), 3u);
  EXPECT_EQ(domains[0].kind, DomainMatch::Kind::Exact);
  EXPECT_EQ(domains[0].value, "api.example.com");
  EXPECT_EQ(domains[1].kind, DomainMatch::Kind::Suffix);
  EXPECT_EQ(domains[1].value, ".example.com");
  EXPECT_EQ(domains[2].kind, DomainMatch::Kind::Prefix);
  EXPECT_EQ(domains[2].value, "api.");
  ASSERT_EQ(host(1).domains.size(), 1u);
  EXPECT_EQ(host(1).domains[0].kind, DomainMatch::Kind::Any);
}

TEST_F(FullConfig, MatchersAreCompiled) {
  EXPECT_EQ(beta().path.kind, PathMatch::Kind::Regex);
  ASSERT_NE(beta().path.regex, nullptr);
  EXPECT_TRUE(beta().path.regex->ok());
  EXPECT_EQ(beta().path.regex->pattern(), "/v[0-9]+/.*");

  ASSERT_EQ(beta().headers.size(), 1u);
  EXPECT_EQ(beta().headers[0].name, "x-beta");
  EXPECT_FALSE(beta().headers[0].has_value_match);

  ASSERT_EQ(beta().cookies.size(), 1u);
  EXPECT_EQ(beta().cookies[0].name, "Flag");
  EXPECT_TRUE(beta().cookies[0].has_value_match);
  EXPECT_TRUE(beta().cookies[0].invert);
  EXPECT_EQ(beta().cookies[0].value.kind, StringMatch::Kind::Exact);
  EXPECT_EQ(beta().cookies[0].value.value, "on");

  ASSERT_EQ(beta().query_parameters.size(), 1u);
  EXPECT_EQ(beta().query_parameters[0].name, "Debug");
  EXPECT_EQ(beta().query_parameters[0].value.kind, StringMatch::Kind::Regex);
  ASSERT_NE(beta().query_parameters[0].value.regex, nullptr);
  EXPECT_TRUE(beta().query_parameters[0].value.regex->ok());

  EXPECT_EQ(beta().methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(host(1).routes.at(0).path.kind, PathMatch::Kind::Exact);
  EXPECT_EQ(split().path.kind, PathMatch::Kind::Prefix);
  EXPECT_EQ(split().path.value, "/");
}

TEST_F(FullConfig, SingleClusterRouteOwnsEveryBucket) {
  ASSERT_EQ(beta().shares.size(), 1u);
  EXPECT_EQ(beta().shares[0].cluster_index, 1u);
  EXPECT_EQ(beta().shares[0].weight, 1u);
  EXPECT_EQ(beta().shares[0].bucket_begin, 0u);
  EXPECT_EQ(beta().shares[0].bucket_end, kBucketCount);
  EXPECT_EQ(beta().timeout_ms, 2500u);
  EXPECT_EQ(beta().salt_seed, computeSaltSeed("beta"));
  EXPECT_FALSE(beta().sticky_cookie.enabled);
}

TEST_F(FullConfig, SplitResolvesClustersAndBuckets) {
  ASSERT_EQ(split().shares.size(), 2u);
  EXPECT_EQ(split().shares[0].cluster_index, 0u);
  EXPECT_EQ(split().shares[0].bucket_begin, 0u);
  EXPECT_EQ(split().shares[0].bucket_end, 9500u);
  EXPECT_EQ(split().shares[1].cluster_index, 1u);
  EXPECT_EQ(split().shares[1].bucket_begin, 9500u);
  EXPECT_EQ(split().shares[1].bucket_end, 10000u);
  EXPECT_EQ(split().timeout_ms, 15000u);
  EXPECT_EQ(split().salt_seed, XXH3_64bits("shared", 6));
}

TEST_F(FullConfig, HashPolicyAndStickyCookieAreCompiled) {
  using Kind = HashPolicyRule::Kind;
  ASSERT_EQ(split().hash_policy.size(), 5u);
  EXPECT_EQ(split().hash_policy[0].kind, Kind::Header);
  EXPECT_EQ(split().hash_policy[0].name, "x-user");
  EXPECT_EQ(split().hash_policy[1].kind, Kind::Cookie);
  EXPECT_EQ(split().hash_policy[1].name, "uid");
  EXPECT_EQ(split().hash_policy[2].kind, Kind::QueryParameter);
  EXPECT_EQ(split().hash_policy[2].name, "u");
  EXPECT_EQ(split().hash_policy[3].kind, Kind::SourceIp);
  EXPECT_EQ(split().hash_policy[4].kind, Kind::BucketHeader);
  EXPECT_EQ(split().hash_policy[4].name, "x-turnout-bucket");

  EXPECT_TRUE(split().sticky_cookie.enabled);
  EXPECT_EQ(split().sticky_cookie.name, "tb");
  EXPECT_EQ(split().sticky_cookie.max_age_seconds, 30 * 24 * 3600);
  EXPECT_EQ(split().sticky_cookie.path, "/");
}

TEST_F(FullConfig, ClustersGetEndpointsAndDefaults) {
  ASSERT_EQ(snapshot_->clusters.size(), 2u);
  const ClusterDef& stable = snapshot_->clusters[0];
  EXPECT_EQ(stable.name, "stable");
  ASSERT_EQ(stable.endpoints.size(), 2u);
  EXPECT_EQ(stable.endpoints[0].address.text, "127.0.0.1:9001");
  EXPECT_EQ(stable.endpoints[1].address.text, "[::1]:9002");
  EXPECT_EQ(stable.connect_timeout_ms, 1000u);
  EXPECT_EQ(stable.max_idle_connections_per_endpoint, 1024u);

  const ClusterDef& canary = snapshot_->clusters[1];
  EXPECT_EQ(canary.connect_timeout_ms, 250u);
  EXPECT_EQ(canary.max_idle_connections_per_endpoint, 8u);
}

TEST_F(FullConfig, AccessLogSettingsAreKept) {
  EXPECT_TRUE(snapshot_->access_log.enabled);
  EXPECT_EQ(snapshot_->access_log.format, AccessLogDef::Format::Json);
  EXPECT_EQ(snapshot_->access_log.path, "/var/log/turnout.log");
}

struct BucketCase {
  std::vector<uint32_t> weights;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
};

class BucketRanges : public testing::TestWithParam<BucketCase> {};

TEST_P(BucketRanges, SharesOwnFlooredCumulativeRanges) {
  std::vector<ClusterShare> shares;
  for (uint32_t weight : GetParam().weights) {
    shares.push_back({0, weight, 0, 0});
  }

  assignBucketRanges(&shares);

  ASSERT_EQ(shares.size(), GetParam().ranges.size());
  for (size_t i = 0; i < shares.size(); i++) {
    EXPECT_EQ(shares[i].bucket_begin, GetParam().ranges[i].first) << "share " << i;
    EXPECT_EQ(shares[i].bucket_end, GetParam().ranges[i].second) << "share " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Splits, BucketRanges,
    testing::Values(BucketCase{{1}, {{0, 10000}}}, BucketCase{{95, 5}, {{0, 9500}, {9500, 10000}}},
                    BucketCase{{1, 1, 1}, {{0, 3333}, {3333, 6666}, {6666, 10000}}},
                    BucketCase{{1, 2}, {{0, 3333}, {3333, 10000}}},
                    BucketCase{{0, 100}, {{0, 0}, {0, 10000}}},
                    BucketCase{{100, 0}, {{0, 10000}, {10000, 10000}}},
                    BucketCase{{5, 0, 5}, {{0, 5000}, {5000, 5000}, {5000, 10000}}},
                    BucketCase{{10000, 1}, {{0, 9999}, {9999, 10000}}}));

TEST(BucketRangesMonotone, RaisingCanaryWeightOnlyMovesBucketsToCanary) {
  uint32_t previous_canary_begin = kBucketCount;
  for (uint32_t canary = 0; canary <= 100; canary++) {
    std::vector<ClusterShare> shares = {{0, 100 - canary, 0, 0}, {1, canary, 0, 0}};
    assignBucketRanges(&shares);

    EXPECT_EQ(shares[0].bucket_end, shares[1].bucket_begin);
    EXPECT_LE(shares[1].bucket_begin, previous_canary_begin) << "canary weight " << canary;
    previous_canary_begin = shares[1].bucket_begin;
  }
}

TEST(SnapshotDefaults, DecisionHeadersCanBeDisabledAndAccessLogDashIsStdout) {
  LoadResult result = loadConfigText(R"(
listeners:
- name: a
  address: 127.0.0.1:0
  max_request_headers_bytes: 1024
  max_request_line_bytes: 512
  max_request_headers_count: 7
  allow_bare_lf: true
  idle_timeout: 0.0001s
  route_config:
    decision_headers: {disabled: true}
    virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: ""},
      route: {cluster: c, sticky_cookie: {name: s, ttl: 1.2s, path: /app}}}]}]
clusters: [{name: c}]
access_log: {path: "-", disabled: yes}
)",
                                     "t");

  ASSERT_TRUE(result.errors.empty()) << formatErrors("t", result.errors);
  const ListenerDef& listener = result.snapshot->listeners.at(0);
  EXPECT_FALSE(listener.route_table.decision_headers.enabled);
  EXPECT_EQ(listener.max_request_headers_bytes, 1024u);
  EXPECT_EQ(listener.max_request_line_bytes, 512u);
  EXPECT_EQ(listener.max_request_headers_count, 7u);
  EXPECT_TRUE(listener.allow_bare_lf);
  EXPECT_EQ(listener.idle_timeout_ms, 1u);

  const RouteDef& route = listener.route_table.virtual_hosts.at(0).routes.at(0);
  EXPECT_EQ(route.salt_seed, computeSaltSeed(""));
  EXPECT_EQ(route.sticky_cookie.max_age_seconds, 2);
  EXPECT_EQ(route.sticky_cookie.path, "/app");
  EXPECT_TRUE(result.snapshot->clusters.at(0).endpoints.empty());
  EXPECT_FALSE(result.snapshot->access_log.enabled);
  EXPECT_EQ(result.snapshot->access_log.path, "");
  EXPECT_EQ(result.snapshot->access_log.format, AccessLogDef::Format::Text);
}

TEST(SnapshotUpgrades, RouteOverridesListenerOverridesTheWebSocketDefault) {
  LoadResult result = loadConfigText(R"(
listeners:
- name: a
  address: 127.0.0.1:0
  tunnel_idle_timeout: 90s
  upgrade_configs: [{upgrade_type: H2C}, {upgrade_type: CONNECT}]
  route_config:
    virtual_hosts: [{name: v, domains: ["*"], routes: [
      {name: plain, match: {prefix: /}, route: {cluster: c}},
      {name: off, match: {prefix: /x}, route: {cluster: c,
        upgrade_configs: [{upgrade_type: websocket, enabled: false}]}},
      {name: tunnel, match: {connect_matcher: {}}, route: {cluster: c}}]}]
- name: b
  address: 127.0.0.1:0
  route_config:
    virtual_hosts: [{name: v, domains: ["*"], routes: [
      {name: default, match: {prefix: /}, route: {cluster: c}}]}]
clusters: [{name: c}]
)",
                                     "t");

  ASSERT_TRUE(result.errors.empty()) << formatErrors("t", result.errors);
  const ListenerDef& a = result.snapshot->listeners.at(0);
  const std::vector<RouteDef>& routes = a.route_table.virtual_hosts.at(0).routes;
  using Types = std::vector<std::string>;
  EXPECT_EQ(a.tunnel_idle_timeout_ms, 90000u);
  EXPECT_EQ(routes.at(0).upgrade_types, (Types{"websocket", "h2c", "connect"}));
  EXPECT_EQ(routes.at(1).upgrade_types, (Types{"h2c", "connect"}));
  EXPECT_EQ(routes.at(2).path.kind, PathMatch::Kind::Connect);

  const ListenerDef& b = result.snapshot->listeners.at(1);
  EXPECT_EQ(b.tunnel_idle_timeout_ms, 3600000u);
  EXPECT_EQ(b.route_table.virtual_hosts.at(0).routes.at(0).upgrade_types, (Types{"websocket"}));
}

}  // namespace
}  // namespace turnout
