// Checks one route (its match and its action) for the config validator.
#include "config/route_validator.h"

#include <re2/re2.h>

#include <unordered_map>

#include "config/field_syntax.h"
#include "config/mirror_policy.h"

namespace turnout {
namespace {

// Where a KeyValueMatcher's name comes from decides which names are valid.
enum class KeySource { Header, Cookie, QueryParameter };

// The schema bounds each weight to 0..10000, so that a split reads as basis points.
constexpr int32_t kMaxWeight = 10000;

void checkRegex(const std::string& pattern, const std::string& path, ValidationContext* context) {
  // Quiet: the error is reported here, with its path, rather than logged by RE2.
  RE2 regex(pattern, RE2::Quiet);
  if (!regex.ok()) {
    context->add(path, "invalid RE2 regex: " + regex.error());
  }
}

void checkPathText(const std::string& value, bool empty_allowed, const std::string& path,
                   ValidationContext* context) {
  if (value.empty() && empty_allowed) {
    return;
  }
  if (value.empty() || value.front() != '/') {
    context->add(path, "must start with '/'");
  }
}

void checkKeyName(const std::string& name, KeySource source, const std::string& path,
                  ValidationContext* context) {
  if (name.empty()) {
    context->add(path, "must not be empty");
    return;
  }
  switch (source) {
    case KeySource::Header:
    case KeySource::Cookie:
      if (!isHttpToken(name)) {
        context->add(path, "\"" + name + "\" is not a valid name (RFC 9110 token)");
      }
      return;
    case KeySource::QueryParameter:
      return;
  }
}

void checkKeyValueMatcher(const config::KeyValueMatcher& matcher, KeySource source,
                          const std::string& path, ValidationContext* context) {
  checkKeyName(matcher.name(), source, path + ".name", context);

  using Case = config::KeyValueMatcher::MatchSpecifierCase;
  switch (matcher.match_specifier_case()) {
    case Case::kExactMatch:
    case Case::kPrefixMatch:
    case Case::kSuffixMatch:
    case Case::kContainsMatch:
      return;
    case Case::kSafeRegexMatch:
      checkRegex(matcher.safe_regex_match(), path + ".safe_regex_match", context);
      return;
    case Case::kPresentMatch:
      if (!matcher.present_match()) {
        context->add(path + ".present_match",
                     "must be true (to require absence, add invert_match: true)");
      }
      return;
    case Case::MATCH_SPECIFIER_NOT_SET:
      context->add(path,
                   "one of exact_match, prefix_match, suffix_match, contains_match, "
                   "safe_regex_match or present_match is required");
      return;
  }
}

void checkMatch(const config::RouteMatch& match, const std::string& path,
                ValidationContext* context) {
  using Case = config::RouteMatch::PathSpecifierCase;
  switch (match.path_specifier_case()) {
    case Case::kPrefix:
      checkPathText(match.prefix(), true, path + ".prefix", context);
      break;
    case Case::kPath:
      checkPathText(match.path(), false, path + ".path", context);
      break;
    case Case::kSafeRegex:
      checkRegex(match.safe_regex(), path + ".safe_regex", context);
      break;
    case Case::kConnectMatcher:
      break;
    case Case::PATH_SPECIFIER_NOT_SET:
      context->add(path, "one of prefix, path, safe_regex or connect_matcher is required");
      break;
  }

  for (int i = 0; i < match.headers_size(); i++) {
    std::string item = path + ".headers[" + std::to_string(i) + "]";
    checkKeyValueMatcher(match.headers(i), KeySource::Header, item, context);
  }
  for (int i = 0; i < match.cookies_size(); i++) {
    std::string item = path + ".cookies[" + std::to_string(i) + "]";
    checkKeyValueMatcher(match.cookies(i), KeySource::Cookie, item, context);
  }
  for (int i = 0; i < match.query_parameters_size(); i++) {
    std::string item = path + ".query_parameters[" + std::to_string(i) + "]";
    checkKeyValueMatcher(match.query_parameters(i), KeySource::QueryParameter, item, context);
  }
  for (int i = 0; i < match.methods_size(); i++) {
    if (!isHttpToken(match.methods(i))) {
      context->add(path + ".methods[" + std::to_string(i) + "]",
                   "\"" + match.methods(i) + "\" is not a valid method (RFC 9110 token)");
    }
  }
}

void checkSplit(const config::WeightedCluster& split, const std::string& path,
                ValidationContext* context) {
  if (split.clusters().empty()) {
    context->add(path, "lists no clusters");
    return;
  }

  int64_t sum = 0;
  bool weights_in_range = true;
  std::unordered_map<std::string, int> first_use;
  for (int i = 0; i < split.clusters_size(); i++) {
    const config::ClusterWeight& share = split.clusters(i);
    std::string item = path + ".clusters[" + std::to_string(i) + "]";
    checkClusterReference(share.name(), item + ".name", context);

    auto [previous, inserted] = first_use.emplace(share.name(), i);
    if (!inserted && !share.name().empty()) {
      context->add(item + ".name", "cluster \"" + share.name() +
                                       "\" is already in this split (at clusters[" +
                                       std::to_string(previous->second) + "])");
    }

    if (share.weight() < 0 || share.weight() > kMaxWeight) {
      context->add(item + ".weight", "must be in 0..10000, got " + std::to_string(share.weight()));
      weights_in_range = false;
    }
    sum += share.weight();
  }

  // Only a sum of valid weights says something new; bad weights were reported above.
  if (weights_in_range && sum == 0) {
    context->add(path, "weights sum to 0; at least one weight must be positive");
  }

  if (!split.fallback_cluster().empty()) {
    checkClusterReference(split.fallback_cluster(), path + ".fallback_cluster", context);
    if (split.strict()) {
      context->add(path + ".fallback_cluster", "a strict split has no fallback");
    }
  }
}

void checkRetryPolicy(const config::RetryPolicy& policy, const std::string& path,
                      ValidationContext* context) {
  if (policy.num_retries() > 5) {
    context->add(path + ".num_retries",
                 "must be in 0..5, got " + std::to_string(policy.num_retries()));
  }
  for (int i = 0; i < policy.retry_on_size(); i++) {
    const std::string& condition = policy.retry_on(i);
    if (condition != "connect-failure" && condition != "reset" && condition != "gateway-error") {
      context->add(path + ".retry_on[" + std::to_string(i) + "]",
                   "unknown condition \"" + condition +
                       "\"; one of connect-failure, reset, gateway-error");
    }
  }
  if (policy.has_per_try_timeout()) {
    checkDuration(policy.per_try_timeout(), false, path + ".per_try_timeout", context);
  }
  if (policy.has_base_interval()) {
    checkDuration(policy.base_interval(), true, path + ".base_interval", context);
  }
}

void checkHashPolicy(const config::HashPolicy& policy, const std::string& path,
                     ValidationContext* context) {
  using Case = config::HashPolicy::PolicySpecifierCase;
  switch (policy.policy_specifier_case()) {
    case Case::kHeader:
      checkKeyName(policy.header().header_name(), KeySource::Header, path + ".header.header_name",
                   context);
      return;
    case Case::kCookie:
      checkKeyName(policy.cookie().name(), KeySource::Cookie, path + ".cookie.name", context);
      return;
    case Case::kQueryParameter:
      checkKeyName(policy.query_parameter().name(), KeySource::QueryParameter,
                   path + ".query_parameter.name", context);
      return;
    case Case::kConnectionProperties:
      if (!policy.connection_properties().source_ip()) {
        context->add(path + ".connection_properties.source_ip", "must be true");
      }
      return;
    case Case::kBucketHeader:
      checkKeyName(policy.bucket_header().header_name(), KeySource::Header,
                   path + ".bucket_header.header_name", context);
      return;
    case Case::POLICY_SPECIFIER_NOT_SET:
      context->add(path,
                   "one of header, cookie, query_parameter, connection_properties or "
                   "bucket_header is required");
      return;
  }
}

void checkStickyCookie(const config::StickyCookie& cookie, const std::string& path,
                       ValidationContext* context) {
  if (cookie.name().empty()) {
    context->add(path + ".name", "is required when sticky_cookie is set");
  } else if (!isHttpToken(cookie.name())) {
    context->add(path + ".name",
                 "\"" + cookie.name() + "\" is not a valid cookie name (RFC 6265 token)");
  }

  if (cookie.has_ttl()) {
    checkDuration(cookie.ttl(), true, path + ".ttl", context);
  }

  // The path goes into a Set-Cookie attribute (RFC 6265 4.1.1): no ';', no control bytes.
  const std::string& cookie_path = cookie.path();
  if (cookie_path.empty()) {
    return;
  }
  bool clean = cookie_path.front() == '/';
  for (char c : cookie_path) {
    if (c == ';' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      clean = false;
    }
  }
  if (!clean) {
    context->add(path + ".path", "must start with '/' and contain no ';' or control characters");
  }
}

void checkAction(const config::RouteAction& action, const std::string& path,
                 ValidationContext* context) {
  using Case = config::RouteAction::ClusterSpecifierCase;
  switch (action.cluster_specifier_case()) {
    case Case::kCluster:
      checkClusterReference(action.cluster(), path + ".cluster", context);
      break;
    case Case::kWeightedClusters:
      checkSplit(action.weighted_clusters(), path + ".weighted_clusters", context);
      break;
    case Case::CLUSTER_SPECIFIER_NOT_SET:
      context->add(path, "one of cluster or weighted_clusters is required");
      break;
  }

  for (int i = 0; i < action.hash_policy_size(); i++) {
    checkHashPolicy(action.hash_policy(i), path + ".hash_policy[" + std::to_string(i) + "]",
                    context);
  }
  if (action.has_sticky_cookie()) {
    checkStickyCookie(action.sticky_cookie(), path + ".sticky_cookie", context);
  }
  if (action.has_timeout()) {
    checkDuration(action.timeout(), false, path + ".timeout", context);
  }
  if (action.has_retry_policy()) {
    checkRetryPolicy(action.retry_policy(), path + ".retry_policy", context);
  }
  checkMirrorPolicies(action, path, context);
  checkUpgradeConfigs(action.upgrade_configs(), path + ".upgrade_configs", context);
}

}  // namespace

void checkUpgradeConfigs(const google::protobuf::RepeatedPtrField<config::UpgradeConfig>& list,
                         const std::string& path, ValidationContext* context) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < list.size(); i++) {
    std::string item = path + "[" + std::to_string(i) + "].upgrade_type";
    const std::string& type = list.Get(i).upgrade_type();
    if (!isHttpToken(type)) {
      context->add(item, "\"" + type + "\" is not a protocol name (RFC 9110 token)");
    } else if (!seen.insert(toLowerAscii(type)).second) {
      context->add(item, "\"" + type + "\" is listed twice");
    }
  }
}

std::optional<bool> upgradeSetting(
    const google::protobuf::RepeatedPtrField<config::UpgradeConfig>& list,
    std::string_view type) {
  for (const config::UpgradeConfig& upgrade : list) {
    if (toLowerAscii(upgrade.upgrade_type()) == type) {
      return !upgrade.has_enabled() || upgrade.enabled().value();
    }
  }
  return std::nullopt;
}

void checkClusterReference(const std::string& name, const std::string& path,
                           ValidationContext* context) {
  if (name.empty()) {
    context->add(path, "must not be empty");
  } else if (context->cluster_names.count(name) == 0) {
    context->add(path, "unknown cluster \"" + name + "\" (not defined under clusters)");
  }
}

void validateRoute(const config::Route& route, const std::string& path,
                   ValidationContext* context) {
  if (route.has_match()) {
    checkMatch(route.match(), path + ".match", context);
  } else {
    context->add(path + ".match", "is required");
  }

  if (route.has_route()) {
    checkAction(route.route(), path + ".route", context);
  } else {
    context->add(path + ".route", "is required");
  }
}

void checkDuration(const google::protobuf::Duration& duration, bool zero_allowed,
                   const std::string& path, ValidationContext* context) {
  if (isNegative(duration)) {
    context->add(path, "must not be negative");
  } else if (!zero_allowed && isZero(duration)) {
    context->add(path, "must be positive");
  }
}

}  // namespace turnout
