// Checks the parts of a config that the control side reads: the admin API settings, the
// runtime settings, and the route names that the admin API uses to address a split.
#pragma once

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/turnout.pb.h"

namespace turnout {

// Every problem with `config.admin`, `config.runtime` and the names of weighted routes.
// A route with weighted_clusters and a name must be the only route of that name in the
// whole config (all listeners, all virtual hosts): PUT /routes/{name}/weights addresses it
// by that name alone. Runs beside validateConfig (config/validator.h); any thread.
std::vector<ConfigError> validateRuntimeRules(const config::Bootstrap& config);

// Where each weighted route sits: its name and the path of its weighted_clusters, in config
// order. Routes without a name are left out: the admin API cannot address them.
struct WeightedRouteRef {
  std::string name;
  std::string path;  // e.g. "listeners[0].route_config.virtual_hosts[0].routes[1]"
  int listener = 0;
  int virtual_host = 0;
  int route = 0;
};

std::vector<WeightedRouteRef> listWeightedRoutes(const config::Bootstrap& config);

// The admin address when the config sets none.
inline constexpr const char* kDefaultAdminAddress = "127.0.0.1:9901";

}  // namespace turnout
