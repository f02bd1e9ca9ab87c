// Works out, once per route, what the route match can decide without reading the route's
// matchers (RouteMatchPlan in config/snapshot.h).
#pragma once

#include "config/snapshot.h"

namespace turnout {

// The length of the bounds asked of RE2::PossibleMatchRange, and so the longest literal
// prefix a regex path is given.
constexpr int kPathRangeBytes = 16;

// Sets route->plan from the route's matchers: the path and method shortcuts, the header
// bits and query the route needs, and the literal prefix of a regex path. Call it again after
// changing a matcher. Header matcher names may be in any case. Any thread.
void planRouteMatch(RouteDef* route);

// Gives the header matchers of `virtual_host`'s routes their slots (KeyValueMatch::slot):
// one per distinct name (compared case-insensitively) that two or more matchers test, in
// order of first use, up to kHeaderSlots; the matchers of other names get none. Any
// thread.
void assignHeaderSlots(VirtualHostDef* virtual_host);

}  // namespace turnout
