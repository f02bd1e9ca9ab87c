// Checks a parsed config against every rule the schema's comments state.
#include "config/validator.h"

#include <unordered_map>

#include "config/address.h"
#include "config/field_syntax.h"
#include "config/mirror_policy.h"
#include "config/route_validator.h"

namespace turnout {
namespace {

constexpr uint32_t kMinRequestHeadersBytes = 1024;
constexpr uint32_t kMaxRequestHeadersBytes = 1024 * 1024;
constexpr uint32_t kMinRequestLineBytes = 64;
constexpr uint32_t kMaxRequestLineBytes = 1024 * 1024;
constexpr uint32_t kMaxRequestHeadersCount = 10000;

std::string indexed(const std::string& path, const char* field, int index) {
  return path + "." + field + "[" + std::to_string(index) + "]";
}

// Records `name` as defined at `where`; reports it when it is empty or already taken.
// Empty names are reported only when `required`.
void checkUniqueName(const std::string& name, bool required, const std::string& where,
                     const std::string& path, std::unordered_map<std::string, std::string>* seen,
                     ValidationContext* context) {
  if (name.empty()) {
    if (required) {
      context->add(path, "must not be empty");
    }
    return;
  }
  auto [previous, inserted] = seen->emplace(name, where);
  if (!inserted) {
    context->add(path, "\"" + name + "\" is already the name of " + previous->second);
  }
}

// Decision headers are written into upstream requests, and client lines of the same name
// are dropped. Naming a framing or hop-by-hop header (RFC 9112 6, RFC 9110 7.6.1) would
// corrupt the message; naming one the proxy writes itself would duplicate or lose it.
void checkDecisionHeaderName(const std::string& name, const std::string& path,
                             ValidationContext* context) {
  static const char* const kManaged[] = {
      "host",         "content-length",  "transfer-encoding", "connection",       "keep-alive",
      "te",           "trailer",         "upgrade",           "proxy-connection", "expect",
      "x-request-id", "x-forwarded-for", "x-forwarded-proto"};
  if (!isHttpToken(name)) {
    context->add(path, "\"" + name + "\" is not a valid header name (RFC 9110 token)");
    return;
  }
  std::string lower = toLowerAscii(name);
  for (const char* managed : kManaged) {
    if (lower == managed) {
      context->add(path, "\"" + name + "\" is managed by the proxy and cannot carry a decision");
      return;
    }
  }
}

void checkDecisionHeaders(const config::DecisionHeaders& headers, const std::string& path,
                          ValidationContext* context) {
  if (headers.disabled()) {
    return;
  }
  if (!headers.cluster_header().empty()) {
    checkDecisionHeaderName(headers.cluster_header(), path + ".cluster_header", context);
  }
  if (!headers.bucket_header().empty()) {
    checkDecisionHeaderName(headers.bucket_header(), path + ".bucket_header", context);
  }

  std::string cluster = headers.cluster_header().empty() ? "x-turnout-cluster"
                                                         : toLowerAscii(headers.cluster_header());
  std::string bucket =
      headers.bucket_header().empty() ? "x-turnout-bucket" : toLowerAscii(headers.bucket_header());
  if (cluster == bucket) {
    context->add(path + ".bucket_header", "must differ from cluster_header");
  }
}

// Reports domains that do not parse and domains already served by another virtual host.
// `owners` maps each compiled domain to the virtual host path that claimed it first.
void checkDomains(const config::VirtualHost& host, const std::string& path,
                  std::unordered_map<std::string, std::string>* owners,
                  ValidationContext* context) {
  if (host.domains().empty()) {
    context->add(path + ".domains", "at least one domain is required");
    return;
  }

  for (int i = 0; i < host.domains_size(); i++) {
    std::string item = indexed(path, "domains", i);
    std::string reason;
    std::optional<DomainMatch> domain = parseDomainPattern(host.domains(i), &reason);
    if (!domain) {
      context->add(item, "\"" + host.domains(i) + "\" is not a valid domain: " + reason);
      continue;
    }

    // Kind and value together identify a pattern: "*.a.com" and ".a.com" differ.
    std::string key = std::to_string(static_cast<int>(domain->kind)) + domain->value;
    auto [previous, inserted] = owners->emplace(key, path);
    if (inserted) {
      continue;
    }
    if (previous->second == path) {
      context->add(item, "\"" + host.domains(i) + "\" is listed twice in this virtual host");
    } else {
      context->add(item, "\"" + host.domains(i) + "\" is also a domain of " + previous->second);
    }
  }
}

void checkVirtualHost(const config::VirtualHost& host, const std::string& path,
                      std::unordered_map<std::string, std::string>* domain_owners,
                      ValidationContext* context) {
  checkDomains(host, path, domain_owners, context);
  if (host.routes().empty()) {
    context->add(path + ".routes", "at least one route is required");
    return;
  }

  std::unordered_map<std::string, std::string> route_names;
  for (int i = 0; i < host.routes_size(); i++) {
    std::string item = indexed(path, "routes", i);
    checkUniqueName(host.routes(i).name(), false, item, item + ".name", &route_names, context);
    validateRoute(host.routes(i), item, context);
  }
}

void checkRouteConfig(const config::RouteConfiguration& route_config, const std::string& path,
                      ValidationContext* context) {
  checkDecisionHeaders(route_config.decision_headers(), path + ".decision_headers", context);
  if (route_config.virtual_hosts().empty()) {
    context->add(path + ".virtual_hosts", "at least one virtual host is required");
    return;
  }

  std::unordered_map<std::string, std::string> names;
  std::unordered_map<std::string, std::string> domain_owners;
  for (int i = 0; i < route_config.virtual_hosts_size(); i++) {
    const config::VirtualHost& host = route_config.virtual_hosts(i);
    std::string item = indexed(path, "virtual_hosts", i);
    checkUniqueName(host.name(), false, item, item + ".name", &names, context);
    checkVirtualHost(host, item, &domain_owners, context);
  }
}

// Two listeners collide when they bind the same port of the same family and either has
// the same address or one of them is the wildcard. With SO_REUSEPORT both binds would
// succeed and the kernel would split connections between them, which nobody intends.
bool listenersCollide(const SocketAddress& a, const SocketAddress& b) {
  if (a.sockaddrPtr()->sa_family != b.sockaddrPtr()->sa_family) {
    return false;
  }
  if (socketPort(a) == 0 || socketPort(a) != socketPort(b)) {
    return false;
  }
  return a.text == b.text || isWildcardAddress(a) || isWildcardAddress(b);
}

void checkListenerAddress(const config::Listener& listener, const std::string& path,
                          std::vector<std::pair<SocketAddress, std::string>>* bound,
                          ValidationContext* context) {
  std::string reason;
  std::optional<SocketAddress> address = parseSocketAddress(listener.address(), &reason);
  if (!address) {
    context->add(path + ".address", reason);
    return;
  }

  for (const auto& [other, other_path] : *bound) {
    if (listenersCollide(*address, other)) {
      context->add(path + ".address",
                   address->text + " collides with " + other_path + " (" + other.text + ")");
      return;
    }
  }
  bound->emplace_back(*address, path);
}

// CONNECT needs both a connect matcher and the "CONNECT" upgrade type, as in Envoy; either
// alone would be a route that silently never tunnels.
void checkConnectRoutes(const config::Listener& listener, const std::string& path,
                        ValidationContext* context) {
  std::optional<bool> on_listener = upgradeSetting(listener.upgrade_configs(), "connect");
  const config::RouteConfiguration& route_config = listener.route_config();
  for (int h = 0; h < route_config.virtual_hosts_size(); h++) {
    const config::VirtualHost& host = route_config.virtual_hosts(h);
    for (int r = 0; r < host.routes_size(); r++) {
      const config::Route& route = host.routes(r);
      std::string route_path = path + ".route_config.virtual_hosts[" + std::to_string(h) +
                               "].routes[" + std::to_string(r) + "]";
      std::optional<bool> on_route = upgradeSetting(route.route().upgrade_configs(), "connect");
      bool connect_route = route.match().has_connect_matcher();
      if (connect_route && !on_route.value_or(on_listener.value_or(false))) {
        context->add(route_path + ".match.connect_matcher",
                     "needs upgrade_configs [{upgrade_type: CONNECT}] on the route or the "
                     "listener");
      } else if (!connect_route && on_route.value_or(false)) {
        context->add(route_path + ".route.upgrade_configs",
                     "CONNECT is only accepted by a route with match.connect_matcher");
      }
    }
  }
}

void checkListeners(const config::Bootstrap& config, ValidationContext* context) {
  if (config.listeners().empty()) {
    context->add("listeners", "at least one listener is required");
    return;
  }

  std::unordered_map<std::string, std::string> names;
  std::vector<std::pair<SocketAddress, std::string>> bound;
  for (int i = 0; i < config.listeners_size(); i++) {
    const config::Listener& listener = config.listeners(i);
    std::string path = "listeners[" + std::to_string(i) + "]";
    checkUniqueName(listener.name(), true, path, path + ".name", &names, context);
    checkListenerAddress(listener, path, &bound, context);

    uint32_t header_bytes = listener.max_request_headers_bytes();
    if (header_bytes != 0 &&
        (header_bytes < kMinRequestHeadersBytes || header_bytes > kMaxRequestHeadersBytes)) {
      context->add(path + ".max_request_headers_bytes",
                   "must be 0 (default) or in 1024..1048576, got " + std::to_string(header_bytes));
    }
    uint32_t line_bytes = listener.max_request_line_bytes();
    if (line_bytes != 0 &&
        (line_bytes < kMinRequestLineBytes || line_bytes > kMaxRequestLineBytes)) {
      context->add(path + ".max_request_line_bytes",
                   "must be 0 (default) or in 64..1048576, got " + std::to_string(line_bytes));
    }
    if (listener.max_request_headers_count() > kMaxRequestHeadersCount) {
      context->add(path + ".max_request_headers_count",
                   "must be at most 10000 (0: default 100), got " +
                       std::to_string(listener.max_request_headers_count()));
    }
    if (listener.has_idle_timeout()) {
      checkDuration(listener.idle_timeout(), false, path + ".idle_timeout", context);
    }
    if (listener.has_tunnel_idle_timeout()) {
      checkDuration(listener.tunnel_idle_timeout(), false, path + ".tunnel_idle_timeout",
                    context);
    }
    checkUpgradeConfigs(listener.upgrade_configs(), path + ".upgrade_configs", context);
    checkRouteConfig(listener.route_config(), path + ".route_config", context);
    checkConnectRoutes(listener, path, context);
  }
}

void checkRange(uint32_t value, uint32_t low, uint32_t high, const std::string& path,
                ValidationContext* context) {
  if (value < low || value > high) {
    context->add(path, "must be in " + std::to_string(low) + ".." + std::to_string(high) +
                           ", got " + std::to_string(value));
  }
}

void checkHealthCheck(const config::HealthCheck& check, const std::string& path,
                      ValidationContext* context) {
  if (check.path().empty() || check.path().front() != '/') {
    context->add(path + ".path", "must start with \"/\"");
  }
  if (check.has_interval() && !isNegative(check.interval())) {
    int64_t interval = durationMillis(check.interval());
    if (interval < 100 || interval > 3600 * 1000) {
      context->add(path + ".interval", "must be in 0.1s..1h");
    }
  } else if (check.has_interval()) {
    checkDuration(check.interval(), false, path + ".interval", context);
  }
  if (check.has_timeout()) {
    checkDuration(check.timeout(), false, path + ".timeout", context);
  }
  if (check.healthy_threshold() != 0) {
    checkRange(check.healthy_threshold(), 1, 100, path + ".healthy_threshold", context);
  }
  if (check.unhealthy_threshold() != 0) {
    checkRange(check.unhealthy_threshold(), 1, 100, path + ".unhealthy_threshold", context);
  }
  for (int i = 0; i < check.expected_statuses_size(); i++) {
    checkRange(check.expected_statuses(i), 100, 599,
               path + ".expected_statuses[" + std::to_string(i) + "]", context);
  }
}

void checkOutlierDetection(const config::OutlierDetection& outlier, const std::string& path,
                           ValidationContext* context) {
  if (outlier.has_base_ejection_time()) {
    checkDuration(outlier.base_ejection_time(), false, path + ".base_ejection_time", context);
  }
  if (outlier.has_max_ejection_time()) {
    checkDuration(outlier.max_ejection_time(), false, path + ".max_ejection_time", context);
    int64_t base = outlier.has_base_ejection_time()
                       ? durationMillis(outlier.base_ejection_time())
                       : 30000;
    if (durationMillis(outlier.max_ejection_time()) < base) {
      context->add(path + ".max_ejection_time", "must be at least base_ejection_time");
    }
  }
  checkRange(outlier.max_ejection_percent(), 0, 100, path + ".max_ejection_percent", context);
}

void checkCluster(const config::Cluster& cluster, const std::string& path,
                  ValidationContext* context) {
  for (int i = 0; i < cluster.endpoints_size(); i++) {
    std::string item = indexed(path, "endpoints", i) + ".address";
    std::string reason;
    std::optional<SocketAddress> address =
        parseSocketAddress(cluster.endpoints(i).address(), &reason);
    if (!address) {
      context->add(item, reason);
    } else if (socketPort(*address) == 0) {
      context->add(item, "port 0 is allowed only for listeners");
    }
  }
  if (cluster.has_connect_timeout()) {
    checkDuration(cluster.connect_timeout(), false, path + ".connect_timeout", context);
  }
  if (cluster.has_health_check()) {
    checkHealthCheck(cluster.health_check(), path + ".health_check", context);
  }
  if (cluster.has_outlier_detection()) {
    checkOutlierDetection(cluster.outlier_detection(), path + ".outlier_detection", context);
  }
}

void checkClusters(const config::Bootstrap& config, ValidationContext* context) {
  std::unordered_map<std::string, std::string> names;
  for (int i = 0; i < config.clusters_size(); i++) {
    std::string path = "clusters[" + std::to_string(i) + "]";
    checkUniqueName(config.clusters(i).name(), true, path, path + ".name", &names, context);
    checkCluster(config.clusters(i), path, context);
  }
}

void checkAccessLog(const config::AccessLog& access_log, ValidationContext* context) {
  // Proto3 enums are open: a number outside the declared values parses but means nothing.
  if (!config::AccessLog::Format_IsValid(access_log.format())) {
    context->add("access_log.format", "must be TEXT or JSON");
  }
}

}  // namespace

std::vector<ConfigError> validateConfig(const config::Bootstrap& config) {
  ValidationContext context;

  // Routes may name clusters defined anywhere in the file, so collect the names first.
  for (const config::Cluster& cluster : config.clusters()) {
    if (!cluster.name().empty()) {
      context.cluster_names.insert(cluster.name());
    }
  }

  checkListeners(config, &context);
  checkClusters(config, &context);
  checkAccessLog(config.access_log(), &context);
  checkMirroring(config.mirroring(), &context);
  return std::move(context.errors);
}

}  // namespace turnout
