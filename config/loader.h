// Turns config text (YAML or JSON) into a validated, compiled Snapshot, or into the full
// list of what is wrong with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.h"

namespace turnout {

// One problem in a config: the field path (e.g. "listeners[0].route_config.
// virtual_hosts[1].routes[2].route.weighted_clusters") and the reason.
struct ConfigError {
  std::string path;
  std::string reason;
};

struct LoadResult {
  SnapshotPtr snapshot;             // Set when errors is empty.
  std::vector<ConfigError> errors;  // Every problem found, not just the first.
};

// Parses, validates and compiles config text. `source` names where the text came from
// and is carried into the snapshot and prefixed to nothing; callers print it beside the
// errors. YAML is accepted (JSON is a subset of YAML, so both go through one front end).
// Any thread; touches no global state.
LoadResult loadConfigText(std::string_view text, const std::string& source);

// Reads the file and calls loadConfigText. A file that cannot be read is one error with
// an empty path.
LoadResult loadConfigFile(const std::string& path);

// "FILE: PATH: REASON" lines, one per error, for a terminal or a log.
std::string formatErrors(const std::string& source, const std::vector<ConfigError>& errors);

}  // namespace turnout
