// Groups consecutive routes that differ only by one exact header value.
#include "config/header_runs.h"

#include <xxhash.h>

#include <algorithm>

#include "config/field_syntax.h"
#include "config/word_compare.h"

namespace turnout {
namespace {

// The header a route can join a run on, or nullptr when it has other matchers too.
const KeyValueMatch* runMatcher(const RouteDef& route) {
  if (route.headers.size() != 1 || !route.cookies.empty() || !route.query_parameters.empty()) {
    return nullptr;
  }
  const KeyValueMatch& matcher = route.headers.front();
  if (!matcher.has_value_match || matcher.invert ||
      matcher.value.kind != StringMatch::Kind::Exact) {
    return nullptr;
  }
  return &matcher;
}

// True when a and b accept the same methods and paths, as written.
bool samePathAndMethods(const RouteDef& a, const RouteDef& b) {
  return a.path.kind == b.path.kind && a.path.value == b.path.value && a.methods == b.methods;
}

ExactHeaderRunDef makeRun(const std::vector<RouteDef>& routes, size_t begin, size_t end) {
  ExactHeaderRunDef run;
  run.begin = static_cast<uint32_t>(begin);
  run.end = static_cast<uint32_t>(end);
  run.name = toLowerAscii(routes[begin].headers.front().name);
  run.name_hash = headerNameHash(run.name);
  for (size_t r = begin; r < end; ++r) {
    const std::string& value = routes[r].headers.front().value.value;
    run.entries.push_back({exactValueHash(value), static_cast<uint32_t>(r)});
  }
  std::sort(run.entries.begin(), run.entries.end(), [](const auto& a, const auto& b) {
    return a.value_hash != b.value_hash ? a.value_hash < b.value_hash : a.route < b.route;
  });
  return run;
}

}  // namespace

uint64_t exactValueHash(std::string_view value) {
  return XXH3_64bits(value.data(), value.size());
}

std::vector<ExactHeaderRunDef> findExactHeaderRuns(const std::vector<RouteDef>& routes) {
  std::vector<ExactHeaderRunDef> runs;
  size_t begin = 0;
  while (begin < routes.size()) {
    const KeyValueMatch* first = runMatcher(routes[begin]);
    size_t end = begin + 1;

    // Header names are lower-cased by the compiler; tests may build them in any case.
    while (first != nullptr && end < routes.size()) {
      const KeyValueMatch* next = runMatcher(routes[end]);
      if (next == nullptr || !equalsIgnoreCaseByWords(next->name, first->name) ||
          !samePathAndMethods(routes[end], routes[begin])) {
        break;
      }
      ++end;
    }
    if (first != nullptr && end - begin >= kMinExactHeaderRun) {
      runs.push_back(makeRun(routes, begin, end));
    }
    begin = end;
  }
  return runs;
}

}  // namespace turnout
