// Describes what changed between two configs, one line per change, for the log line and
// the history entry of every new version.
#pragma once

#include <string>
#include <vector>

#include "config/turnout.pb.h"

namespace turnout {

// Lines such as "route release: weights blue=100 green=0 -> blue=0 green=100",
// "cluster canary: added", "listener edge: routes changed". Listeners and clusters are
// matched by name. Empty when the configs are equal. Any thread.
std::vector<std::string> describeChanges(const config::Bootstrap& before,
                                         const config::Bootstrap& after);

}  // namespace turnout
