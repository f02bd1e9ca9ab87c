// Derives a route's match plan from its matchers.
#include "config/route_plan.h"

#include <string>

#include "config/word_compare.h"

namespace turnout {
namespace {

RouteMatchPlan::Path pathShortcut(const PathMatch& path) {
  if (path.kind != PathMatch::Kind::Prefix) {
    return RouteMatchPlan::Path::Test;
  }
  if (path.value.empty()) {
    return RouteMatchPlan::Path::Any;
  }
  return path.value == "/" ? RouteMatchPlan::Path::OriginForm : RouteMatchPlan::Path::Test;
}

// An absent header fails every matcher on it that is not inverted (docs/matching.md,
// "Key/value matchers"), and so does a request without a Cookie line every such cookie
// matcher.
uint64_t requiredHeaderBits(const RouteDef& route) {
  uint64_t bits = 0;
  for (const KeyValueMatch& matcher : route.headers) {
    if (!matcher.invert) {
      const uint32_t hash =
          matcher.name_hash != 0 ? matcher.name_hash : headerNameHash(matcher.name);
      bits |= headerNameBit(hash);
    }
  }
  for (const KeyValueMatch& matcher : route.cookies) {
    if (!matcher.invert) {
      bits |= headerNameBit(headerNameHash("cookie"));
      break;
    }
  }
  return bits;
}

bool needsQuery(const RouteDef& route) {
  for (const KeyValueMatch& matcher : route.query_parameters) {
    if (!matcher.invert) {
      return true;
    }
  }
  return false;
}

// RE2 bounds the strings that match a regex from its start; a full match is one of them.
void boundRegexPath(const PathMatch& path, RouteMatchPlan* plan) {
  plan->path_bounded = false;
  plan->path_min.clear();
  plan->path_max.clear();
  if (path.kind != PathMatch::Kind::Regex || path.regex == nullptr || !path.regex->ok()) {
    return;
  }
  std::string min;
  std::string max;
  if (path.regex->PossibleMatchRange(&min, &max, kPathRangeBytes)) {
    plan->path_bounded = true;
    plan->path_min = std::move(min);
    plan->path_max = std::move(max);
  }
}

}  // namespace

void planRouteMatch(RouteDef* route) {
  RouteMatchPlan& plan = route->plan;
  plan.path = pathShortcut(route->path);
  plan.any_method = route->methods.empty();
  plan.required_header_bits = requiredHeaderBits(*route);
  plan.needs_query = needsQuery(*route);
  boundRegexPath(route->path, &plan);
}

}  // namespace turnout
