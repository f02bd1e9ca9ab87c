// Builds compiled route objects (matchers, routes, splits, virtual hosts) for filter
// tests, the way the snapshot compiler would, without going through the config loader.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/snapshot.h"
#include "filters/request_view.h"

namespace turnout::fixtures {

inline StringMatch stringMatch(StringMatch::Kind kind, std::string value) {
  StringMatch match;
  match.kind = kind;
  match.value = std::move(value);
  if (kind == StringMatch::Kind::Regex) {
    match.regex = std::make_shared<const re2::RE2>(match.value);
  }
  return match;
}

inline StringMatch exact(std::string value) {
  return stringMatch(StringMatch::Kind::Exact, std::move(value));
}
inline StringMatch prefix(std::string value) {
  return stringMatch(StringMatch::Kind::Prefix, std::move(value));
}
inline StringMatch suffix(std::string value) {
  return stringMatch(StringMatch::Kind::Suffix, std::move(value));
}
inline StringMatch contains(std::string value) {
  return stringMatch(StringMatch::Kind::Contains, std::move(value));
}
inline StringMatch regex(std::string pattern) {
  return stringMatch(StringMatch::Kind::Regex, std::move(pattern));
}

// A matcher on the value of `name`.
inline KeyValueMatch valueMatch(std::string name, StringMatch value) {
  KeyValueMatch match;
  match.name = std::move(name);
  match.has_value_match = true;
  match.value = std::move(value);
  return match;
}

// A matcher that only asks whether `name` is there.
inline KeyValueMatch presentMatch(std::string name) {
  KeyValueMatch match;
  match.name = std::move(name);
  return match;
}

inline KeyValueMatch inverted(KeyValueMatch match) {
  match.invert = !match.invert;
  return match;
}

inline PathMatch pathMatch(PathMatch::Kind kind, std::string value) {
  PathMatch match;
  match.kind = kind;
  match.value = std::move(value);
  if (kind == PathMatch::Kind::Regex) {
    match.regex = std::make_shared<const re2::RE2>(match.value);
  }
  return match;
}

// "*.example.com", "api.*", "*" or an exact name, compiled by the config's own parser;
// a pattern it rejects fails the test.
DomainMatch domain(std::string_view pattern);

// Shares for `weights` in declared order (cluster index i), with the bucket ranges the
// snapshot compiler assigns.
std::vector<ClusterShare> sharesForWeights(const std::vector<uint32_t>& weights);

// A route that accepts every request ("/" prefix) and splits by `weights`.
RouteDef splitRoute(std::string name, const std::vector<uint32_t>& weights);

// A one-cluster route named `name` with the given path matcher.
RouteDef pathRoute(std::string name, PathMatch path);

// A request head over `headers`; the views must outlive the returned value.
RequestView request(const std::vector<HeaderView>& headers, std::string_view path = "/",
                    std::string_view query = "", std::string_view method = "GET");

}  // namespace turnout::fixtures
