// Derives a route's match plan from its matchers.
#include "config/route_plan.h"

#include <string>
#include <vector>

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

// RE2 bounds the strings that match a regex from its start, as a full match does: every
// such string s has min <= s <= max, so s starts with whatever prefix min and max share.
// An empty max means no upper bound, and then nothing is shared.
std::string regexPathPrefix(const PathMatch& path) {
  if (path.kind != PathMatch::Kind::Regex || path.regex == nullptr || !path.regex->ok()) {
    return "";
  }
  std::string min;
  std::string max;
  if (!path.regex->PossibleMatchRange(&min, &max, kPathRangeBytes)) {
    return "";
  }
  size_t shared = 0;
  while (shared < min.size() && shared < max.size() && min[shared] == max[shared]) {
    ++shared;
  }
  return min.substr(0, shared);
}

// The index of `name` in `names` (compared case-insensitively), appended when missing.
size_t nameIndex(std::vector<const std::string*>* names, const std::string& name) {
  size_t index = 0;
  while (index < names->size() && !equalsIgnoreCaseByWords(*(*names)[index], name)) {
    ++index;
  }
  if (index == names->size()) {
    names->push_back(&name);
  }
  return index;
}

}  // namespace

void planRouteMatch(RouteDef* route) {
  RouteMatchPlan& plan = route->plan;
  plan.path = pathShortcut(route->path);
  plan.any_method = route->methods.empty();
  plan.required_header_bits = requiredHeaderBits(*route);
  plan.needs_query = needsQuery(*route);
  plan.path_prefix = regexPathPrefix(route->path);
}

void assignHeaderSlots(VirtualHostDef* virtual_host) {
  // Count the matchers per distinct name, in order of first use.
  std::vector<const std::string*> names;
  std::vector<size_t> uses;
  for (RouteDef& route : virtual_host->routes) {
    for (KeyValueMatch& matcher : route.headers) {
      matcher.slot = 0;
      const size_t name = nameIndex(&names, matcher.name);
      if (name == uses.size()) {
        uses.push_back(0);
      }
      ++uses[name];
    }
  }

  // A slot pays for its filling only when a second matcher reads it.
  std::vector<uint8_t> slot_of_name(names.size(), 0);
  uint8_t next_slot = 1;
  for (size_t name = 0; name < names.size() && next_slot <= kHeaderSlots; ++name) {
    if (uses[name] >= 2) {
      slot_of_name[name] = next_slot++;
    }
  }
  for (RouteDef& route : virtual_host->routes) {
    for (KeyValueMatch& matcher : route.headers) {
      matcher.slot = slot_of_name[nameIndex(&names, matcher.name)];
    }
  }
}

}  // namespace turnout
