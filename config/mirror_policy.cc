// Checks and compiles the request mirror policies of routes and the mirroring limits.
#include "config/mirror_policy.h"

#include <cmath>
#include <unordered_set>

#include "config/field_syntax.h"
#include "config/json_path.h"

namespace turnout {
namespace {

constexpr uint32_t kDefaultMaxConcurrent = 100;
constexpr uint32_t kMaxMaxConcurrent = 100000;
constexpr uint64_t kDefaultMirrorBodyBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxMirrorBodyBytes = uint64_t{1} << 30;
constexpr uint64_t kDefaultCompareBodyBytes = 65536;
constexpr uint64_t kMaxCompareBodyBytes = uint64_t{16} << 20;
constexpr uint64_t kDefaultBufferedBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxBufferedBytes = uint64_t{16} << 30;
constexpr uint32_t kDefaultKeptDiffs = 100;
constexpr uint32_t kMaxKeptDiffs = 10000;
constexpr uint32_t kDefaultDiffBodyBytes = 2048;
constexpr uint32_t kMaxDiffBodyBytes = 65536;

// A Host value the proxy writes as it is: a host name, an IPv4 address or a bracketed
// IPv6 address, with an optional port. Anything else could split the header line.
bool isHostText(const std::string& text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']';
    if (!allowed) {
      return false;
    }
  }
  return true;
}

void checkLimit(uint64_t value, uint64_t high, const std::string& path,
                ValidationContext* context) {
  if (value > high) {
    context->add(path,
                 "must be at most " + std::to_string(high) + ", got " + std::to_string(value));
  }
}

void checkCompare(const config::MirrorCompare& compare, const std::string& path,
                  ValidationContext* context) {
  for (int i = 0; i < compare.headers_size(); i++) {
    if (!isHttpToken(compare.headers(i))) {
      context->add(path + ".headers[" + std::to_string(i) + "]",
                   "\"" + compare.headers(i) + "\" is not a valid header name (RFC 9110 token)");
    }
  }
  if (!config::MirrorCompare::BodyMode_IsValid(compare.body())) {
    context->add(path + ".body", "must be EXACT, JSON or IGNORE");
  }
  bool json = compare.body() == config::MirrorCompare::JSON;
  for (int i = 0; i < compare.ignored_json_paths_size(); i++) {
    std::string item = path + ".ignored_json_paths[" + std::to_string(i) + "]";
    std::string reason;
    if (!json) {
      context->add(item, "needs body: JSON");
    } else if (!parseJsonPath(compare.ignored_json_paths(i), &reason)) {
      context->add(item, "\"" + compare.ignored_json_paths(i) + "\" is no JSON path: " + reason);
    }
  }
  checkLimit(compare.max_body_bytes(), kMaxCompareBodyBytes, path + ".max_body_bytes", context);
}

void checkPolicy(const config::RequestMirrorPolicy& policy, const std::string& path,
                 ValidationContext* context) {
  checkClusterReference(policy.cluster(), path + ".cluster", context);
  if (policy.has_fraction_percent()) {
    double fraction = policy.fraction_percent();
    if (!(fraction >= 0 && fraction <= 100)) {
      context->add(path + ".fraction_percent", "must be in 0..100");
    }
  }
  if (policy.has_timeout()) {
    checkDuration(policy.timeout(), false, path + ".timeout", context);
  }
  checkLimit(policy.max_concurrent(), kMaxMaxConcurrent, path + ".max_concurrent", context);
  checkLimit(policy.max_body_bytes(), kMaxMirrorBodyBytes, path + ".max_body_bytes", context);
  if (!policy.host_rewrite().empty() && !isHostText(policy.host_rewrite())) {
    context->add(path + ".host_rewrite", "\"" + policy.host_rewrite() +
                                             "\" is not a host[:port] (letters, digits, "
                                             "\"-._:[]\")");
  }
  if (policy.has_compare()) {
    checkCompare(policy.compare(), path + ".compare", context);
  }
}

MirrorCompareDef compileCompare(const config::MirrorCompare& compare) {
  MirrorCompareDef compiled;
  compiled.enabled = true;
  for (const std::string& header : compare.headers()) {
    compiled.headers.push_back(toLowerAscii(header));
  }
  switch (compare.body()) {
    case config::MirrorCompare::JSON:
      compiled.body = MirrorCompareDef::Body::Json;
      break;
    case config::MirrorCompare::IGNORE:
      compiled.body = MirrorCompareDef::Body::Ignore;
      break;
    default:
      compiled.body = MirrorCompareDef::Body::Exact;
      break;
  }
  for (const std::string& text : compare.ignored_json_paths()) {
    std::string unused_reason;
    std::optional<JsonPath> path = parseJsonPath(text, &unused_reason);
    if (path) {
      compiled.ignored_json_paths.push_back(std::move(*path));
    }
  }
  compiled.noise_filter = compare.noise_filter();
  if (compare.max_body_bytes() != 0) {
    compiled.max_body_bytes = compare.max_body_bytes();
  }
  return compiled;
}

}  // namespace

void checkMirrorPolicies(const config::RouteAction& action, const std::string& path,
                         ValidationContext* context) {
  if (action.request_mirror_policies_size() > kMaxMirrorPolicies) {
    context->add(path + ".request_mirror_policies",
                 "at most " + std::to_string(kMaxMirrorPolicies) + " policies, got " +
                     std::to_string(action.request_mirror_policies_size()));
  }

  // Counters and comparisons are kept per (route, mirror cluster): one policy per cluster.
  std::unordered_set<std::string> seen;
  for (int i = 0; i < action.request_mirror_policies_size(); i++) {
    const config::RequestMirrorPolicy& policy = action.request_mirror_policies(i);
    std::string item = path + ".request_mirror_policies[" + std::to_string(i) + "]";
    checkPolicy(policy, item, context);
    if (!policy.cluster().empty() && !seen.insert(policy.cluster()).second) {
      context->add(item + ".cluster",
                   "cluster \"" + policy.cluster() + "\" is already mirrored by this route");
    }
  }
}

void checkMirroring(const config::Mirroring& mirroring, ValidationContext* context) {
  checkLimit(mirroring.max_buffered_bytes(), kMaxBufferedBytes, "mirroring.max_buffered_bytes",
             context);
  checkLimit(mirroring.max_kept_diffs(), kMaxKeptDiffs, "mirroring.max_kept_diffs", context);
  checkLimit(mirroring.max_diff_body_bytes(), kMaxDiffBodyBytes, "mirroring.max_diff_body_bytes",
             context);
}

std::vector<MirrorPolicyDef> compileMirrorPolicies(
    const config::RouteAction& action, const std::unordered_map<std::string, uint32_t>& clusters,
    uint64_t route_timeout_ms) {
  std::vector<MirrorPolicyDef> compiled;
  for (const config::RequestMirrorPolicy& policy : action.request_mirror_policies()) {
    MirrorPolicyDef def;
    auto found = clusters.find(policy.cluster());
    def.cluster_index = found == clusters.end() ? 0 : found->second;
    if (policy.has_fraction_percent()) {
      def.bucket_limit = static_cast<uint32_t>(std::llround(policy.fraction_percent() * 100));
    }
    def.timeout_ms = policy.has_timeout() ? static_cast<uint64_t>(durationMillis(policy.timeout()))
                                          : route_timeout_ms;
    def.max_concurrent =
        policy.max_concurrent() != 0 ? policy.max_concurrent() : kDefaultMaxConcurrent;
    def.max_body_bytes =
        policy.max_body_bytes() != 0 ? policy.max_body_bytes() : kDefaultMirrorBodyBytes;
    def.allow_unsafe_methods = policy.allow_unsafe_methods();
    def.host_rewrite = policy.host_rewrite();
    if (policy.has_compare()) {
      def.compare = compileCompare(policy.compare());
    }
    compiled.push_back(std::move(def));
  }
  return compiled;
}

MirroringDef compileMirroring(const config::Mirroring& mirroring) {
  MirroringDef compiled;
  compiled.max_buffered_bytes =
      mirroring.max_buffered_bytes() != 0 ? mirroring.max_buffered_bytes() : kDefaultBufferedBytes;
  compiled.max_kept_diffs =
      mirroring.max_kept_diffs() != 0 ? mirroring.max_kept_diffs() : kDefaultKeptDiffs;
  compiled.max_diff_body_bytes = mirroring.max_diff_body_bytes() != 0
                                     ? mirroring.max_diff_body_bytes()
                                     : kDefaultDiffBodyBytes;
  return compiled;
}

}  // namespace turnout
