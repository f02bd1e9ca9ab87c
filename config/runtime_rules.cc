// Checks the admin settings, the runtime settings and the names of weighted routes.
#include "config/runtime_rules.h"

#include <unordered_map>

#include "config/address.h"
#include "config/field_syntax.h"

namespace turnout {
namespace {

// Response headers the proxy writes or strips itself (framing and hop-by-hop, RFC 9112 6
// and RFC 9110 7.6.1, and the sticky cookie): a version header of one of these names would
// corrupt the response or be lost.
bool isManagedResponseHeader(const std::string& lower) {
  static const char* const kManaged[] = {
      "content-length", "transfer-encoding", "connection",       "keep-alive", "te",
      "trailer",        "upgrade",           "proxy-connection", "set-cookie"};
  for (const char* managed : kManaged) {
    if (lower == managed) {
      return true;
    }
  }
  return false;
}

void checkAdmin(const config::Admin& admin, std::vector<ConfigError>* errors) {
  if (!admin.address().empty()) {
    std::string reason;
    if (!parseSocketAddress(admin.address(), &reason)) {
      errors->push_back({"admin.address", reason});
    }
  }

  // An environment variable name is any run of characters but '=' and NUL (POSIX); one
  // with '=' could never be set, so it is a typo.
  if (admin.bearer_token_env().find('=') != std::string::npos) {
    errors->push_back({"admin.bearer_token_env", "an environment variable name has no '='"});
  }
}

void checkRuntime(const config::Runtime& runtime, std::vector<ConfigError>* errors) {
  const std::string& header = runtime.version_header();
  if (header.empty()) {
    return;
  }
  if (!isHttpToken(header)) {
    errors->push_back({"runtime.version_header",
                       "\"" + header + "\" is not a valid header name (RFC 9110 token)"});
    return;
  }
  if (isManagedResponseHeader(toLowerAscii(header))) {
    errors->push_back(
        {"runtime.version_header", "\"" + header + "\" is managed by the proxy in responses"});
  }
}

void checkWeightedRouteNames(const config::Bootstrap& config, std::vector<ConfigError>* errors) {
  std::unordered_map<std::string, std::string> first_path;
  for (const WeightedRouteRef& route : listWeightedRoutes(config)) {
    auto [previous, inserted] = first_path.emplace(route.name, route.path);
    if (!inserted) {
      errors->push_back(
          {route.path + ".name", "\"" + route.name + "\" is also the name of the weighted route " +
                                     previous->second +
                                     "; the admin API addresses weighted routes by name, so their "
                                     "names must be unique across the config"});
    }
  }
}

}  // namespace

std::vector<WeightedRouteRef> listWeightedRoutes(const config::Bootstrap& config) {
  std::vector<WeightedRouteRef> routes;
  for (int l = 0; l < config.listeners_size(); ++l) {
    const config::RouteConfiguration& table = config.listeners(l).route_config();
    for (int v = 0; v < table.virtual_hosts_size(); ++v) {
      const config::VirtualHost& host = table.virtual_hosts(v);
      for (int r = 0; r < host.routes_size(); ++r) {
        const config::Route& route = host.routes(r);
        if (route.name().empty() || !route.route().has_weighted_clusters()) {
          continue;
        }
        std::string path = "listeners[" + std::to_string(l) + "].route_config.virtual_hosts[" +
                           std::to_string(v) + "].routes[" + std::to_string(r) + "]";
        routes.push_back({route.name(), std::move(path), l, v, r});
      }
    }
  }
  return routes;
}

std::vector<ConfigError> validateRuntimeRules(const config::Bootstrap& config) {
  std::vector<ConfigError> errors;
  checkAdmin(config.admin(), &errors);
  checkRuntime(config.runtime(), &errors);
  checkWeightedRouteNames(config, &errors);
  return errors;
}

}  // namespace turnout
