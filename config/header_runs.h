// Finds the runs of routes that differ only by the exact value of one header, so that the
// route match can go straight to the routes naming the request's value (ExactHeaderRunDef).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/snapshot.h"

namespace turnout {

// Runs shorter than this are left to the route-by-route match, which is as fast for them.
constexpr size_t kMinExactHeaderRun = 4;

// The hash a run files a route's value under, and the route match looks a request's value
// up with: XXH3-64 of the bytes. Equal hashes do not prove equal values; the route match
// tests every route it finds this way in full.
uint64_t exactValueHash(std::string_view value);

// The runs of `routes`, in order: the longest stretches of at least kMinExactHeaderRun
// routes that each have exactly one header matcher, exact and not inverted, on the same
// header, no cookie or query parameter matcher, and the same path matcher and methods. A
// route of a run thus matches exactly when the run's path and methods do and the request
// offers its value, which the route match tests once per run and once per value.
std::vector<ExactHeaderRunDef> findExactHeaderRuns(const std::vector<RouteDef>& routes);

}  // namespace turnout
