// Reads and writes state.json, the file in runtime.state_dir that carries the weight
// overrides and the version history across restarts.
#pragma once

#include <string>

#include "config/turnout.pb.h"

namespace turnout {

// The file's path inside `state_dir`.
std::string stateFilePath(const std::string& state_dir);

// Reads the state of `state_dir`. A missing file is an empty state (true, nothing set);
// an unreadable or malformed one is false with `*error` set.
bool readStateFile(const std::string& state_dir, config::RuntimeState* state, std::string* error);

// Writes `state` whole: to a temporary file in the same directory, flushed to disk, then
// renamed over state.json, so a crash leaves the old file or the new one, never half of
// one. Creates `state_dir` (one level) when missing. False with `*error` on failure.
bool writeStateFile(const std::string& state_dir, const config::RuntimeState& state,
                    std::string* error);

}  // namespace turnout
