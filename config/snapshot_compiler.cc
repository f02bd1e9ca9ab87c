// Compiles a validated config into the immutable Snapshot the data path reads.
#include "config/snapshot_compiler.h"

#include <xxhash.h>

#include <algorithm>
#include <unordered_map>

#include "config/address.h"
#include "config/field_syntax.h"
#include "config/header_runs.h"
#include "config/mirror_policy.h"
#include "config/route_plan.h"
#include "config/word_compare.h"

namespace turnout {
namespace {

// Defaults the schema states for fields whose zero value means "unset".
constexpr uint32_t kDefaultMaxRequestHeadersBytes = 65536;
constexpr uint32_t kDefaultMaxIdleConnections = 1024;

// Cluster name to its index in Snapshot::clusters; the first definition wins (the
// validator has refused duplicates anyway).
using ClusterIndex = std::unordered_map<std::string, uint32_t>;

std::shared_ptr<const re2::RE2> compileRegex(const std::string& pattern) {
  return std::make_shared<const re2::RE2>(pattern, RE2::Quiet);
}

StringMatch compileStringMatch(const config::KeyValueMatcher& matcher) {
  StringMatch match;
  using Case = config::KeyValueMatcher::MatchSpecifierCase;
  switch (matcher.match_specifier_case()) {
    case Case::kExactMatch:
      match.kind = StringMatch::Kind::Exact;
      match.value = matcher.exact_match();
      break;
    case Case::kPrefixMatch:
      match.kind = StringMatch::Kind::Prefix;
      match.value = matcher.prefix_match();
      break;
    case Case::kSuffixMatch:
      match.kind = StringMatch::Kind::Suffix;
      match.value = matcher.suffix_match();
      break;
    case Case::kContainsMatch:
      match.kind = StringMatch::Kind::Contains;
      match.value = matcher.contains_match();
      break;
    case Case::kSafeRegexMatch:
      match.kind = StringMatch::Kind::Regex;
      match.value = matcher.safe_regex_match();
      match.regex = compileRegex(match.value);
      break;
    case Case::kPresentMatch:
    case Case::MATCH_SPECIFIER_NOT_SET:
      break;
  }
  return match;
}

// Header names compare case-insensitively, so they are lower-cased and hashed once here
// (the hash is what the per-request header index looks up); cookie and query parameter
// names compare as written.
std::vector<KeyValueMatch> compileKeyValues(
    const google::protobuf::RepeatedPtrField<config::KeyValueMatcher>& matchers,
    bool lower_case_names) {
  std::vector<KeyValueMatch> compiled;
  compiled.reserve(matchers.size());
  for (const config::KeyValueMatcher& matcher : matchers) {
    KeyValueMatch match;
    match.name = lower_case_names ? toLowerAscii(matcher.name()) : matcher.name();
    match.name_hash = lower_case_names ? headerNameHash(match.name) : 0;
    match.has_value_match =
        matcher.match_specifier_case() != config::KeyValueMatcher::kPresentMatch;
    match.value = compileStringMatch(matcher);
    match.invert = matcher.invert_match();
    compiled.push_back(std::move(match));
  }
  return compiled;
}

PathMatch compilePath(const config::RouteMatch& match) {
  PathMatch path;
  using Case = config::RouteMatch::PathSpecifierCase;
  switch (match.path_specifier_case()) {
    case Case::kPrefix:
    case Case::PATH_SPECIFIER_NOT_SET:
      path.kind = PathMatch::Kind::Prefix;
      path.value = match.prefix();
      break;
    case Case::kPath:
      path.kind = PathMatch::Kind::Exact;
      path.value = match.path();
      break;
    case Case::kSafeRegex:
      path.kind = PathMatch::Kind::Regex;
      path.value = match.safe_regex();
      path.regex = compileRegex(path.value);
      break;
    case Case::kConnectMatcher:
      path.kind = PathMatch::Kind::Connect;
      break;
  }
  return path;
}

HashPolicyRule compileHashPolicy(const config::HashPolicy& policy) {
  HashPolicyRule rule;
  using Case = config::HashPolicy::PolicySpecifierCase;
  switch (policy.policy_specifier_case()) {
    case Case::kHeader:
      rule.kind = HashPolicyRule::Kind::Header;
      rule.name = toLowerAscii(policy.header().header_name());
      rule.name_hash = headerNameHash(rule.name);
      break;
    case Case::kCookie:
      rule.kind = HashPolicyRule::Kind::Cookie;
      rule.name = policy.cookie().name();
      break;
    case Case::kQueryParameter:
      rule.kind = HashPolicyRule::Kind::QueryParameter;
      rule.name = policy.query_parameter().name();
      break;
    case Case::kConnectionProperties:
    case Case::POLICY_SPECIFIER_NOT_SET:
      rule.kind = HashPolicyRule::Kind::SourceIp;
      break;
    case Case::kBucketHeader:
      rule.kind = HashPolicyRule::Kind::BucketHeader;
      rule.name = toLowerAscii(policy.bucket_header().header_name());
      rule.name_hash = headerNameHash(rule.name);
      break;
  }
  return rule;
}

// A single `cluster` is a split with one share of weight 1, so the data path has one case.
std::vector<ClusterShare> compileShares(const config::RouteAction& action,
                                        const ClusterIndex& clusters) {
  std::vector<ClusterShare> shares;
  auto indexOf = [&clusters](const std::string& name) {
    auto found = clusters.find(name);
    return found == clusters.end() ? 0u : found->second;
  };

  if (action.cluster_specifier_case() == config::RouteAction::kCluster) {
    shares.push_back({indexOf(action.cluster()), 1, 0, 0});
  } else {
    for (const config::ClusterWeight& weight : action.weighted_clusters().clusters()) {
      shares.push_back({indexOf(weight.name()), static_cast<uint32_t>(weight.weight()), 0, 0});
    }
  }
  assignBucketRanges(&shares);
  return shares;
}

StickyCookieDef compileStickyCookie(const config::RouteAction& action) {
  StickyCookieDef cookie;
  if (!action.has_sticky_cookie()) {
    return cookie;
  }

  const config::StickyCookie& source = action.sticky_cookie();
  cookie.enabled = true;
  cookie.name = source.name();
  if (source.has_ttl()) {
    // Max-Age counts whole seconds; a fraction rounds up so a short ttl stays positive.
    cookie.max_age_seconds = source.ttl().seconds() + (source.ttl().nanos() > 0 ? 1 : 0);
  }
  if (!source.path().empty()) {
    cookie.path = source.path();
  }
  return cookie;
}

uint64_t millisOr(bool present, const google::protobuf::Duration& duration, uint64_t fallback) {
  return present ? static_cast<uint64_t>(durationMillis(duration)) : fallback;
}

RetryPolicyDef compileRetryPolicy(const config::RouteAction& action) {
  RetryPolicyDef compiled;
  if (!action.has_retry_policy()) {
    return compiled;  // One retry on connect failure.
  }
  const config::RetryPolicy& policy = action.retry_policy();
  compiled.num_retries = policy.num_retries();
  compiled.on_connect_failure = policy.retry_on().empty();
  for (const std::string& condition : policy.retry_on()) {
    compiled.on_connect_failure = compiled.on_connect_failure || condition == "connect-failure";
    compiled.on_reset = compiled.on_reset || condition == "reset";
    compiled.on_gateway_error = compiled.on_gateway_error || condition == "gateway-error";
  }
  compiled.per_try_timeout_ms = millisOr(policy.has_per_try_timeout(), policy.per_try_timeout(), 0);
  compiled.base_interval_ms = millisOr(policy.has_base_interval(), policy.base_interval(), 25);
  return compiled;
}

void compileUnhealthyPolicy(const config::RouteAction& action, const ClusterIndex& clusters,
                            RouteDef* compiled) {
  if (action.cluster_specifier_case() != config::RouteAction::kWeightedClusters) {
    return;
  }
  const config::WeightedCluster& split = action.weighted_clusters();
  compiled->strict = split.strict();
  auto found = clusters.find(split.fallback_cluster());
  if (!split.fallback_cluster().empty() && found != clusters.end()) {
    compiled->fallback_cluster_index = static_cast<int32_t>(found->second);
  }
}

using UpgradeConfigs = google::protobuf::RepeatedPtrField<config::UpgradeConfig>;

// The protocols a route tunnels: websocket by default, then the listener's entries, then
// the route's, each overriding what came before for its type.
std::vector<std::string> compileUpgradeTypes(const UpgradeConfigs& listener,
                                             const UpgradeConfigs& route) {
  std::vector<std::pair<std::string, bool>> types = {{"websocket", true}};
  auto apply = [&types](const UpgradeConfigs& configs) {
    for (const config::UpgradeConfig& upgrade : configs) {
      std::string type = toLowerAscii(upgrade.upgrade_type());
      bool enabled = !upgrade.has_enabled() || upgrade.enabled().value();
      auto found = std::find_if(types.begin(), types.end(),
                                [&type](const auto& entry) { return entry.first == type; });
      if (found != types.end()) {
        found->second = enabled;
      } else {
        types.emplace_back(type, enabled);
      }
    }
  };
  apply(listener);
  apply(route);

  std::vector<std::string> enabled;
  for (const auto& [type, on] : types) {
    if (on) {
      enabled.push_back(type);
    }
  }
  return enabled;
}

RouteDef compileRoute(const config::Route& route, const ClusterIndex& clusters,
                      const UpgradeConfigs& listener_upgrades) {
  RouteDef compiled;
  compiled.name = route.name();

  const config::RouteMatch& match = route.match();
  compiled.path = compilePath(match);
  compiled.headers = compileKeyValues(match.headers(), true);
  compiled.cookies = compileKeyValues(match.cookies(), false);
  compiled.query_parameters = compileKeyValues(match.query_parameters(), false);
  compiled.methods.assign(match.methods().begin(), match.methods().end());

  const config::RouteAction& action = route.route();
  compiled.shares = compileShares(action, clusters);
  for (const config::HashPolicy& policy : action.hash_policy()) {
    compiled.hash_policy.push_back(compileHashPolicy(policy));
  }
  compiled.sticky_cookie = compileStickyCookie(action);
  compiled.salt_seed =
      computeSaltSeed(action.hash_salt().empty() ? route.name() : action.hash_salt());
  if (action.has_timeout()) {
    compiled.timeout_ms = static_cast<uint64_t>(durationMillis(action.timeout()));
  }
  compiled.retry_policy = compileRetryPolicy(action);
  compiled.mirrors = compileMirrorPolicies(action, clusters, compiled.timeout_ms);
  compileUnhealthyPolicy(action, clusters, &compiled);
  compiled.upgrade_types = compileUpgradeTypes(listener_upgrades, action.upgrade_configs());
  planRouteMatch(&compiled);
  return compiled;
}

RouteTable compileRouteTable(const config::RouteConfiguration& route_config,
                             const ClusterIndex& clusters,
                             const UpgradeConfigs& listener_upgrades) {
  RouteTable table;
  for (const config::VirtualHost& host : route_config.virtual_hosts()) {
    VirtualHostDef compiled;
    compiled.name = host.name();
    for (const std::string& domain : host.domains()) {
      std::string unused_reason;
      std::optional<DomainMatch> match = parseDomainPattern(domain, &unused_reason);
      if (match) {
        compiled.domains.push_back(std::move(*match));
      }
    }
    for (const config::Route& route : host.routes()) {
      compiled.routes.push_back(compileRoute(route, clusters, listener_upgrades));
    }
    compiled.exact_header_runs = findExactHeaderRuns(compiled.routes);
    assignHeaderSlots(&compiled);
    table.virtual_hosts.push_back(std::move(compiled));
  }

  const config::DecisionHeaders& headers = route_config.decision_headers();
  table.decision_headers.enabled = !headers.disabled();
  if (!headers.cluster_header().empty()) {
    table.decision_headers.cluster_header = toLowerAscii(headers.cluster_header());
  }
  if (!headers.bucket_header().empty()) {
    table.decision_headers.bucket_header = toLowerAscii(headers.bucket_header());
  }
  return table;
}

ListenerDef compileListener(const config::Listener& listener, const ClusterIndex& clusters) {
  ListenerDef compiled;
  compiled.name = listener.name();
  std::string unused_reason;
  compiled.address =
      parseSocketAddress(listener.address(), &unused_reason).value_or(SocketAddress{});
  compiled.route_table =
      compileRouteTable(listener.route_config(), clusters, listener.upgrade_configs());
  if (listener.max_request_headers_bytes() != 0) {
    compiled.max_request_headers_bytes = listener.max_request_headers_bytes();
  } else {
    compiled.max_request_headers_bytes = kDefaultMaxRequestHeadersBytes;
  }
  if (listener.max_request_line_bytes() != 0) {
    compiled.max_request_line_bytes = listener.max_request_line_bytes();
  }
  if (listener.max_request_headers_count() != 0) {
    compiled.max_request_headers_count = listener.max_request_headers_count();
  }
  compiled.allow_bare_lf = listener.allow_bare_lf();
  compiled.max_request_body_bytes = listener.max_request_body_bytes();
  if (listener.has_idle_timeout()) {
    compiled.idle_timeout_ms = static_cast<uint64_t>(durationMillis(listener.idle_timeout()));
  }
  if (listener.has_tunnel_idle_timeout()) {
    compiled.tunnel_idle_timeout_ms =
        static_cast<uint64_t>(durationMillis(listener.tunnel_idle_timeout()));
  }
  return compiled;
}

HealthCheckDef compileHealthCheck(const config::Cluster& cluster) {
  HealthCheckDef compiled;
  if (!cluster.has_health_check()) {
    return compiled;
  }
  const config::HealthCheck& check = cluster.health_check();
  compiled.enabled = true;
  compiled.path = check.path();
  compiled.host = check.host().empty() ? cluster.name() : check.host();
  compiled.interval_ms = millisOr(check.has_interval(), check.interval(), 5000);
  compiled.timeout_ms = millisOr(check.has_timeout(), check.timeout(), 1000);
  compiled.healthy_threshold = check.healthy_threshold() != 0 ? check.healthy_threshold() : 2;
  compiled.unhealthy_threshold =
      check.unhealthy_threshold() != 0 ? check.unhealthy_threshold() : 3;
  compiled.expected_statuses.assign(check.expected_statuses().begin(),
                                    check.expected_statuses().end());
  return compiled;
}

OutlierDetectionDef compileOutlierDetection(const config::Cluster& cluster) {
  OutlierDetectionDef compiled;
  if (!cluster.has_outlier_detection()) {
    return compiled;
  }
  const config::OutlierDetection& outlier = cluster.outlier_detection();
  compiled.enabled = !outlier.disabled();
  compiled.consecutive_5xx = outlier.consecutive_5xx() != 0 ? outlier.consecutive_5xx() : 5;
  compiled.consecutive_gateway_failures = outlier.consecutive_gateway_failures() != 0
                                              ? outlier.consecutive_gateway_failures()
                                              : 3;
  compiled.base_ejection_ms =
      millisOr(outlier.has_base_ejection_time(), outlier.base_ejection_time(), 30000);
  compiled.max_ejection_ms =
      millisOr(outlier.has_max_ejection_time(), outlier.max_ejection_time(), 300000);
  compiled.max_ejection_percent =
      outlier.max_ejection_percent() != 0 ? outlier.max_ejection_percent() : 50;
  return compiled;
}

ClusterDef compileCluster(const config::Cluster& cluster) {
  ClusterDef compiled;
  compiled.name = cluster.name();
  for (const config::Endpoint& endpoint : cluster.endpoints()) {
    std::string unused_reason;
    EndpointDef def;
    def.address = parseSocketAddress(endpoint.address(), &unused_reason).value_or(SocketAddress{});
    compiled.endpoints.push_back(std::move(def));
  }
  if (cluster.has_connect_timeout()) {
    compiled.connect_timeout_ms = static_cast<uint64_t>(durationMillis(cluster.connect_timeout()));
  }
  compiled.max_idle_connections_per_endpoint = cluster.max_idle_connections_per_endpoint() != 0
                                                   ? cluster.max_idle_connections_per_endpoint()
                                                   : kDefaultMaxIdleConnections;
  compiled.health_check = compileHealthCheck(cluster);
  compiled.outlier_detection = compileOutlierDetection(cluster);
  return compiled;
}

AccessLogDef compileAccessLog(const config::AccessLog& access_log) {
  AccessLogDef compiled;
  compiled.enabled = !access_log.disabled();
  compiled.path = access_log.path() == "-" ? "" : access_log.path();
  compiled.format = access_log.format() == config::AccessLog::JSON ? AccessLogDef::Format::Json
                                                                   : AccessLogDef::Format::Text;
  return compiled;
}

}  // namespace

void assignBucketRanges(std::vector<ClusterShare>* shares) {
  uint64_t total = 0;
  for (const ClusterShare& share : *shares) {
    total += share.weight;
  }
  if (total == 0) {
    return;
  }

  // Integer arithmetic on cumulative sums: every proxy computes the same boundaries, and
  // rounding never leaves a gap or an overlap between neighbours.
  uint64_t cumulative = 0;
  for (ClusterShare& share : *shares) {
    share.bucket_begin = static_cast<uint32_t>(kBucketCount * cumulative / total);
    cumulative += share.weight;
    share.bucket_end = static_cast<uint32_t>(kBucketCount * cumulative / total);
  }
}

uint64_t computeSaltSeed(std::string_view salt) {
  return XXH3_64bits(salt.data(), salt.size());
}

std::shared_ptr<Snapshot> compileSnapshot(const config::Bootstrap& config,
                                          const std::string& source, uint64_t content_hash) {
  auto snapshot = std::make_shared<Snapshot>();

  ClusterIndex clusters;
  for (const config::Cluster& cluster : config.clusters()) {
    clusters.emplace(cluster.name(), static_cast<uint32_t>(snapshot->clusters.size()));
    snapshot->clusters.push_back(compileCluster(cluster));
  }
  for (const config::Listener& listener : config.listeners()) {
    snapshot->listeners.push_back(compileListener(listener, clusters));
  }
  snapshot->access_log = compileAccessLog(config.access_log());
  snapshot->mirroring = compileMirroring(config.mirroring());

  snapshot->source = source;
  snapshot->content_hash = content_hash;
  return snapshot;
}

}  // namespace turnout
