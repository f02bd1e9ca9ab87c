// Turns config text (YAML or JSON) into a validated, compiled Snapshot, or into the full
// list of what is wrong with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.h"

namespace turnout {
namespace config {
class Bootstrap;  // config/turnout.pb.h
}  // namespace config

// One problem in a config: the field path (e.g. "listeners[0].route_config.
// virtual_hosts[1].routes[2].route.weighted_clusters") and the reason. The path is empty
// for a problem with the whole text (unreadable file, YAML syntax). line and column are
// 1-based and point at the field in the text when it is known, else 0.
struct ConfigError {
  std::string path;
  std::string reason;
  int line = 0;
  int column = 0;
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

// Parses config text into `*bootstrap` without validating it: YAML syntax, unknown fields
// and values of the wrong type, every error with its line. For callers that change the
// message before validating and compiling it (the config manager applies weight overrides);
// loadConfigText is this, then validateConfig, validateRuntimeRules and compileSnapshot.
std::vector<ConfigError> parseConfigText(std::string_view text, config::Bootstrap* bootstrap);

// Fills in the line and column of errors whose paths name fields of `text` (errors found
// by validating the message parseConfigText made from it). Errors that already have a
// line, or whose path is not in the text, are left as they are.
void locateErrors(std::string_view text, std::vector<ConfigError>* errors);

// Reads the file and calls loadConfigText. A file that cannot be read is one error with
// an empty path.
LoadResult loadConfigFile(const std::string& path);

// "SOURCE: PATH: REASON (line L, column C)" lines, one per error, each ending in '\n', for a
// terminal or a log. The path part is left out when it is empty, the position when it is
// unknown.
std::string formatErrors(const std::string& source, const std::vector<ConfigError>& errors);

}  // namespace turnout
