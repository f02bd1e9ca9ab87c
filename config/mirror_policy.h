// The request mirror policies of a route and the process-wide mirroring limits: their
// checks for the validator and their compiled form for the snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/route_validator.h"
#include "config/snapshot.h"
#include "config/turnout.pb.h"

namespace turnout {

// A route names at most this many mirror policies: each copy costs a connection.
inline constexpr int kMaxMirrorPolicies = 4;

// Adds to `context` every problem of `action.request_mirror_policies`; `path` is the
// action's path ("...routes[0].route").
void checkMirrorPolicies(const config::RouteAction& action, const std::string& path,
                         ValidationContext* context);

// Adds to `context` every problem of the top-level `mirroring` section.
void checkMirroring(const config::Mirroring& mirroring, ValidationContext* context);

// The compiled policies of a validated action. `clusters` maps cluster names to their
// index in Snapshot::clusters; `route_timeout_ms` is the default timeout of a copy.
std::vector<MirrorPolicyDef> compileMirrorPolicies(
    const config::RouteAction& action, const std::unordered_map<std::string, uint32_t>& clusters,
    uint64_t route_timeout_ms);

MirroringDef compileMirroring(const config::Mirroring& mirroring);

}  // namespace turnout
