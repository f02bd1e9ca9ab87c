// Builds small config texts for the config tests: a valid config with one part replaced.
#pragma once

#include <string>

namespace turnout::testing_config {

// Two clusters, "stable" (index 0) and "canary" (index 1), one endpoint each.
inline const std::string kClusters =
    "clusters:\n"
    "- {name: stable, endpoints: [{address: '127.0.0.1:9001'}]}\n"
    "- {name: canary, endpoints: [{address: '127.0.0.1:9002'}]}\n";

inline const std::string kRoute = "{name: r, match: {prefix: /}, route: {cluster: stable}}";

inline const std::string kVirtualHost = "{name: all, domains: ['*'], routes: [" + kRoute + "]}";

// The path of the only route in the texts built by withRoute, withMatch and withAction.
inline const std::string kRoutePath = "listeners[0].route_config.virtual_hosts[0].routes[0]";

// `listeners` is a YAML flow sequence.
inline std::string withListeners(const std::string& listeners) {
  return "listeners: " + listeners + "\n" + kClusters;
}

// `clusters` is a YAML flow sequence; the routes send traffic to "stable".
inline std::string withClusters(const std::string& clusters) {
  return "listeners: [{name: main, address: '127.0.0.1:8080', route_config: {virtual_hosts: [" +
         kVirtualHost + "]}}]\nclusters: " + clusters + "\n";
}

// `route_config` is a YAML flow mapping.
inline std::string withRouteConfig(const std::string& route_config) {
  return withListeners("[{name: main, address: '127.0.0.1:8080', route_config: " + route_config +
                       "}]");
}

inline std::string withVirtualHosts(const std::string& hosts) {
  return withRouteConfig("{virtual_hosts: " + hosts + "}");
}

inline std::string withRoutes(const std::string& routes) {
  return withVirtualHosts("[{name: all, domains: ['*'], routes: " + routes + "}]");
}

inline std::string withRoute(const std::string& route) {
  return withRoutes("[" + route + "]");
}

inline std::string withMatch(const std::string& match) {
  return withRoute("{name: r, match: " + match + ", route: {cluster: stable}}");
}

inline std::string withAction(const std::string& action) {
  return withRoute("{name: r, match: {prefix: /}, route: " + action + "}");
}

}  // namespace turnout::testing_config
