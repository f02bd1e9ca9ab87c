// Chooses the virtual host by Host and the first route whose matchers all succeed.
#include "filters/route_match.h"

#include <algorithm>

#include "config/header_runs.h"
#include "filters/cookies.h"
#include "filters/header_index.h"
#include "filters/query.h"
#include "filters/text.h"

namespace turnout {

namespace {

// How well one domain covers a host; a larger tier wins, then a longer wildcard.
struct DomainScore {
  int tier = 0;  // 0: no match; 1: "*"; 2: prefix wildcard; 3: suffix wildcard; 4: exact.
  size_t length = 0;

  bool betterThan(const DomainScore& other) const {
    return tier != other.tier ? tier > other.tier : length > other.length;
  }
};

DomainScore scoreDomain(const DomainMatch& domain, std::string_view host) {
  // A wildcard stands for at least one character, so the host must be longer than the
  // fixed part: "*.example.com" does not cover ".example.com" nor "example.com". Host
  // names compare as header names do, ASCII case-insensitively (RFC 9110 4.2.3).
  const size_t length = domain.value.size();
  switch (domain.kind) {
    case DomainMatch::Kind::Exact:
      return equalsLowerCaseByWords(host, domain.value) ? DomainScore{4, 0} : DomainScore{};
    case DomainMatch::Kind::Suffix:
      return host.size() > length &&
                     equalsLowerCaseByWords(host.substr(host.size() - length), domain.value)
                 ? DomainScore{3, length}
                 : DomainScore{};
    case DomainMatch::Kind::Prefix:
      return host.size() > length && equalsLowerCaseByWords(host.substr(0, length), domain.value)
                 ? DomainScore{2, length}
                 : DomainScore{};
    case DomainMatch::Kind::Any:
      return DomainScore{1, 0};
  }
  return DomainScore{};
}

bool pathMatches(const PathMatch& match, std::string_view path) {
  switch (match.kind) {
    case PathMatch::Kind::Prefix:
      return path.size() >= match.value.size() &&
             equalsByWords(path.substr(0, match.value.size()), match.value);
    case PathMatch::Kind::Exact:
      return equalsByWords(path, match.value);
    case PathMatch::Kind::Regex:
      return match.regex != nullptr && re2::RE2::FullMatch(path, *match.regex);
    case PathMatch::Kind::Connect:
      return true;  // The method test (routeMatches) already decided.
  }
  return false;
}

bool methodMatches(const std::vector<std::string>& methods, std::string_view method) {
  if (methods.empty()) {
    return true;
  }
  for (const std::string& allowed : methods) {
    if (equalsByWords(allowed, method)) {
      return true;
    }
  }
  return false;
}

// The elements of a comma-separated header line against a matcher's value test. Out of
// line: most lines hold no list, and the common path stays small enough to inline.
[[gnu::noinline]] bool anyListElementMatches(const StringMatch& test, std::string_view value) {
  Splitter elements(value, ',');
  std::string_view element;
  while (elements.next(&element)) {
    if (test.matches(trimSpaces(element))) {
      return true;
    }
  }
  return false;
}

// One header line against a matcher's value test: the whole line, then each element of
// the comma-separated list it may hold.
inline bool headerLineMatches(const KeyValueMatch& matcher, std::string_view value) {
  if (!matcher.has_value_match || matcher.value.matches(value)) {
    return true;
  }
  return containsByte(value, ',') && anyListElementMatches(matcher.value, value);
}

// True when any line the scanner yields passes the matcher (before invert).
inline bool anyHeaderLineMatches(const KeyValueMatch& matcher, HeaderLines& lines) {
  std::string_view value;
  while (lines.next(&value)) {
    if (headerLineMatches(matcher, value)) {
      return true;
    }
  }
  return false;
}

// True when any value the scanner yields passes the matcher's value test (or, for a
// presence matcher, when the scanner yields anything). Invert is left to the caller.
template <typename Scanner>
bool anyValueMatches(const KeyValueMatch& matcher, Scanner scanner) {
  std::string_view value;
  while (scanner.next(&value)) {
    if (!matcher.has_value_match || matcher.value.matches(value)) {
      return true;
    }
  }
  return false;
}

const std::vector<HeaderView> kNoHeaders;

// Hashed once at start-up: cookie matchers find the Cookie lines through the header index.
const uint32_t kCookieNameHash = headerNameHash("cookie");

// What every route's test asks of the request, worked out once per matchRoute() call
// instead of once per route.
struct RequestFacts {
  bool connect = false;      // A CONNECT request: only connect routes take it.
  bool origin_form = false;  // The path starts with '/' (prefix "/" takes it).
  bool has_query = false;
  uint64_t header_bits = ~uint64_t{0};  // HeaderIndex::nameBits(); every bit without one.

  explicit RequestFacts(const RequestView& request)
      : connect(request.method == "CONNECT"),
        origin_form(!request.path.empty() && request.path.front() == '/'),
        has_query(!request.query.empty()) {
    if (request.header_index != nullptr) {
      header_bits = request.header_index->nameBits();
    }
  }
};

// True when the plan alone proves that `route` fails: it needs a header whose name bit
// the request lacks, or a query the request does not have.
inline bool planRefuses(const RouteMatchPlan& plan, const RequestFacts& facts) {
  return (plan.required_header_bits & ~facts.header_bits) != 0 ||
         (plan.needs_query && !facts.has_query);
}

// The path test proper. A regex path refuses a path without its literal prefix before the
// regex runs.
bool pathMatchesAfterPrefix(const PathMatch& match, const RouteMatchPlan& plan,
                            std::string_view path) {
  if (path.size() < plan.path_prefix.size() ||
      !equalsByWords(path.substr(0, plan.path_prefix.size()), plan.path_prefix)) {
    return false;
  }
  return pathMatches(match, path);
}

inline bool pathPassesPlan(const PathMatch& match, const RouteMatchPlan& plan,
                           const RequestFacts& facts, std::string_view path) {
  switch (plan.path) {
    case RouteMatchPlan::Path::Any:
      return true;
    case RouteMatchPlan::Path::OriginForm:
      return facts.origin_form;
    case RouteMatchPlan::Path::Test:
      break;
  }
  return pathMatchesAfterPrefix(match, plan, path);
}

// The method and path tests, the cheapest: most routes are told apart by them. A CONNECT
// target has no path (RFC 9110 9.3.6): only a connect route takes it, and a connect route
// takes nothing else.
inline bool methodAndPathMatch(const RouteDef& route, const RequestView& request,
                               const RequestFacts& facts) {
  const bool connect_route = route.path.kind == PathMatch::Kind::Connect;
  if (connect_route != facts.connect) {
    return false;
  }
  const RouteMatchPlan& plan = route.plan;
  if (!plan.any_method && !methodMatches(route.methods, request.method)) {
    return false;
  }
  return pathPassesPlan(route.path, plan, facts, request.path);
}

// False when no Cookie line holds the bytes of `name`: a cookie of that name can only be in
// a line that does, and most requests lack a toggle cookie, so this spares parsing pairs.
bool cookieNameMayBePresent(const RequestView& request, std::string_view name) {
  HeaderLines lines = headerLines(request, "cookie", kCookieNameHash);
  std::string_view line;
  while (lines.next(&line)) {
    if (line.find(name) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// cookieMatches() after the cheap test for the name's bytes.
bool cookieMatchesRequest(const KeyValueMatch& matcher, const RequestView& request,
                          const std::vector<HeaderView>& headers) {
  if (!cookieNameMayBePresent(request, matcher.name)) {
    return matcher.invert;  // Absent: every test fails, and invert flips that.
  }
  return cookieMatches(matcher, headers);
}

// queryParameterMatches() after the same test on the query.
bool queryParameterMatchesRequest(const KeyValueMatch& matcher, std::string_view query) {
  if (query.find(matcher.name) == std::string_view::npos) {
    return matcher.invert;
  }
  return queryParameterMatches(matcher, query);
}

// The cookie and query parameter matchers, out of line: most routes have none.
[[gnu::noinline]] bool cookiesAndQueryMatch(const RouteDef& route, const RequestView& request) {
  for (const KeyValueMatch& matcher : route.query_parameters) {
    if (!queryParameterMatchesRequest(matcher, request.query)) {
      return false;
    }
  }
  const std::vector<HeaderView>& headers =
      request.headers != nullptr ? *request.headers : kNoHeaders;
  for (const KeyValueMatch& matcher : route.cookies) {
    if (!cookieMatchesRequest(matcher, request, headers)) {
      return false;
    }
  }
  return true;
}

// What one matchRoute() call read of a header name, kept for every route of the virtual
// host that tests the same name (KeyValueMatch::slot). Most headers a route tests are
// absent, or one line holding one value; for those, a route's matcher is answered from
// here without a lookup.
struct HeaderSlot {
  enum class Shape : uint8_t { Absent, OneValue, Other };

  std::string_view value() const { return std::string_view(value_data, value_size); }

  // Left unset until the slot is filled, which is why the value is not a string_view (its
  // constructor would set it): setting sixteen slots per request would cost more than most
  // requests save.
  Shape shape;
  const char* value_data;  // The only line's value, for OneValue.
  size_t value_size;
};

// The slots of one matchRoute() call, each filled on first use. Lives on the stack.
class HeaderSlots {
 public:
  // The slot of `matcher`'s header (matcher.slot must be nonzero), read on first use.
  const HeaderSlot& slotOf(const KeyValueMatch& matcher, const RequestView& request) {
    const unsigned slot = matcher.slot - 1u;
    if ((filled_ & (1u << slot)) == 0) {
      fill(matcher, request, &slots_[slot]);
      filled_ |= 1u << slot;
    }
    return slots_[slot];
  }

 private:
  static_assert(kHeaderSlots <= 32, "filled_ has a bit per slot");

  // One line without a comma is one value (RFC 9110 5.3); anything else is left to the
  // full matcher. Out of line: it runs once per slot, the test above once per matcher.
  [[gnu::noinline]] static void fill(const KeyValueMatch& matcher, const RequestView& request,
                                     HeaderSlot* slot) {
    HeaderLines lines = headerLines(request, matcher.name, matcher.name_hash);
    std::string_view first;
    std::string_view second;
    if (!lines.next(&first)) {
      slot->shape = HeaderSlot::Shape::Absent;
    } else if (lines.next(&second) || containsByte(first, ',')) {
      slot->shape = HeaderSlot::Shape::Other;
    } else {
      slot->shape = HeaderSlot::Shape::OneValue;
      slot->value_data = first.data();
      slot->value_size = first.size();
    }
  }

  uint32_t filled_ = 0;
  HeaderSlot slots_[kHeaderSlots];
};

// One header matcher's answer, invert applied: from its slot when the header is absent or
// has one value, else from every line and list element.
inline bool headerMatcherSucceeds(const KeyValueMatch& matcher, const RequestView& request,
                                  HeaderSlots* slots) {
  if (matcher.slot != 0 && slots != nullptr) {
    const HeaderSlot& slot = slots->slotOf(matcher, request);
    switch (slot.shape) {
      case HeaderSlot::Shape::Absent:
        return matcher.invert;
      case HeaderSlot::Shape::OneValue:
        return (!matcher.has_value_match || matcher.value.matches(slot.value())) != matcher.invert;
      case HeaderSlot::Shape::Other:
        break;
    }
  }
  HeaderLines lines = headerLines(request, matcher.name, matcher.name_hash);
  return anyHeaderLineMatches(matcher, lines) != matcher.invert;
}

// routeMatches(), inline in matchRoute's loop: with ten or a hundred routes tried per
// request, a call per route is a noticeable part of the cost. `slots` may be null.
[[gnu::always_inline]] inline bool allMatchersSucceed(const RouteDef& route,
                                                      const RequestView& request,
                                                      const RequestFacts& facts,
                                                      HeaderSlots* slots) {
  if (planRefuses(route.plan, facts) || !methodAndPathMatch(route, request, facts)) {
    return false;
  }

  for (const KeyValueMatch& matcher : route.headers) {
    if (!headerMatcherSucceeds(matcher, request, slots)) {
      return false;
    }
  }
  if (route.query_parameters.empty() && route.cookies.empty()) {
    return true;
  }
  return cookiesAndQueryMatch(route, request);
}

// `best`, or the first route of the run before it whose value is `value`. Entries are
// ordered by route within one hash, so the first whose value is equal (a hash can be
// shared) is the earliest route for this value.
uint32_t earlierRouteForValue(const ExactHeaderRunDef& run, const std::vector<RouteDef>& routes,
                              std::string_view value, uint32_t best) {
  const uint64_t hash = exactValueHash(value);
  auto entry = std::lower_bound(
      run.entries.begin(), run.entries.end(), hash,
      [](const ExactHeaderRunDef::Entry& e, uint64_t wanted) { return e.value_hash < wanted; });
  for (; entry != run.entries.end() && entry->value_hash == hash && entry->route < best;
       ++entry) {
    if (equalsByWords(value, routes[entry->route].headers.front().value.value)) {
      return entry->route;
    }
  }
  return best;
}

// The first route of the run that matches, or nullptr. All routes of a run share their path
// and methods, tested once here; past that, a route matches exactly when the request offers
// its value, as headerMatches() reads values: the whole value of a line with the run's
// header name, or one element of a comma list in such a line. So each value the request
// offers costs one hash lookup, however many routes the run has, and never a route's full
// test: a head of many repeated values stays linear in its size.
const RouteDef* firstRouteOfRun(const ExactHeaderRunDef& run, const std::vector<RouteDef>& routes,
                                const RequestView& request, const RequestFacts& facts) {
  // Every route of the run needs the run's header, so one plan speaks for them all.
  const RouteDef& first = routes[run.begin];
  if (planRefuses(first.plan, facts) || !methodAndPathMatch(first, request, facts)) {
    return nullptr;
  }

  uint32_t best = run.end;
  HeaderLines lines = headerLines(request, run.name, run.name_hash);
  std::string_view value;
  while (lines.next(&value)) {
    best = earlierRouteForValue(run, routes, value, best);
    if (!containsByte(value, ',')) {
      continue;
    }
    Splitter elements(value, ',');
    std::string_view element;
    while (elements.next(&element)) {
      best = earlierRouteForValue(run, routes, trimSpaces(element), best);
    }
  }
  return best < run.end ? &routes[best] : nullptr;
}

}  // namespace

[[gnu::flatten]] const VirtualHostDef* matchVirtualHost(const RouteTable& table,
                                                        std::string_view host) {
  const VirtualHostDef* best = nullptr;
  DomainScore best_score;
  for (const VirtualHostDef& virtual_host : table.virtual_hosts) {
    for (const DomainMatch& domain : virtual_host.domains) {
      const DomainScore score = scoreDomain(domain, host);
      if (score.betterThan(best_score)) {
        best = &virtual_host;
        best_score = score;
      }
    }
  }
  return best;
}

const RouteDef* matchRoute(const RouteTable& table, const RequestView& request) {
  const VirtualHostDef* virtual_host = matchVirtualHost(table, request.host);
  if (virtual_host == nullptr) {
    return nullptr;
  }
  // Route by route, in order, except that a run of routes told apart by one header's
  // value is searched by that value and then skipped as a whole.
  const RequestFacts facts(request);
  HeaderSlots slots;
  const std::vector<RouteDef>& routes = virtual_host->routes;
  auto run = virtual_host->exact_header_runs.begin();
  const auto last_run = virtual_host->exact_header_runs.end();
  size_t next = 0;
  while (next < routes.size()) {
    if (run != last_run && run->begin == next) {
      const RouteDef* found = firstRouteOfRun(*run, routes, request, facts);
      if (found != nullptr) {
        return found;
      }
      next = run->end;
      ++run;
      continue;
    }
    if (allMatchersSucceed(routes[next], request, facts, &slots)) {
      return &routes[next];
    }
    ++next;
  }
  return nullptr;
}

bool routeMatches(const RouteDef& route, const RequestView& request) {
  return allMatchersSucceed(route, request, RequestFacts(request), nullptr);
}

bool headerMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers) {
  HeaderLines lines(headers, matcher.name);
  return anyHeaderLineMatches(matcher, lines) != matcher.invert;
}

bool headerMatches(const KeyValueMatch& matcher, const HeaderIndex& index) {
  const uint32_t hash = matcher.name_hash != 0 ? matcher.name_hash : headerNameHash(matcher.name);
  HeaderLines lines = index.find(matcher.name, hash);
  return anyHeaderLineMatches(matcher, lines) != matcher.invert;
}

bool cookieMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers) {
  return anyValueMatches(matcher, CookieScanner(headers, matcher.name)) != matcher.invert;
}

bool queryParameterMatches(const KeyValueMatch& matcher, std::string_view query) {
  return anyValueMatches(matcher, QueryScanner(query, matcher.name)) != matcher.invert;
}

bool tunnelsUpgrade(const RouteDef& route, std::string_view upgrade) {
  // RFC 9110 7.8: protocol-name ["/" protocol-version]; a list offers several protocols,
  // and choosing among them is the server's business, so a list is not tunnelled.
  std::string_view protocol = trimSpaces(upgrade);
  if (protocol.empty() || protocol.find(',') != std::string_view::npos) {
    return false;
  }
  protocol = trimSpaces(protocol.substr(0, protocol.find('/')));
  for (const std::string& type : route.upgrade_types) {
    if (type != "connect" && equalsIgnoreCase(type, protocol)) {
      return true;
    }
  }
  return false;
}

bool acceptsConnect(const RouteDef& route) {
  return route.path.kind == PathMatch::Kind::Connect &&
         std::find(route.upgrade_types.begin(), route.upgrade_types.end(), "connect") !=
             route.upgrade_types.end();
}

}  // namespace turnout
