// Checks a parsed config against every rule the schema's comments state, collecting all
// problems with their field paths, so a config is either compiled whole or rejected whole.
#pragma once

#include <vector>

#include "config/loader.h"
#include "config/turnout.pb.h"

namespace turnout {

// Every problem in `config`, in the order of the fields (listeners, then clusters); empty
// when the config can be compiled. Paths use the schema's field names, e.g.
// "listeners[0].route_config.virtual_hosts[1].routes[2].route.weighted_clusters". The
// errors carry no line numbers; the loader adds them. Any thread.
std::vector<ConfigError> validateConfig(const config::Bootstrap& config);

}  // namespace turnout
