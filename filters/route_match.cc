// Chooses the virtual host by Host and the first route whose matchers all succeed.
#include "filters/route_match.h"

#include <algorithm>

#include "filters/cookies.h"
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
  // fixed part: "*.example.com" does not cover ".example.com" nor "example.com".
  switch (domain.kind) {
    case DomainMatch::Kind::Exact:
      return equalsIgnoreCase(host, domain.value) ? DomainScore{4, 0} : DomainScore{};
    case DomainMatch::Kind::Suffix:
      return host.size() > domain.value.size() && endsWithIgnoreCase(host, domain.value)
                 ? DomainScore{3, domain.value.size()}
                 : DomainScore{};
    case DomainMatch::Kind::Prefix:
      return host.size() > domain.value.size() && startsWithIgnoreCase(host, domain.value)
                 ? DomainScore{2, domain.value.size()}
                 : DomainScore{};
    case DomainMatch::Kind::Any:
      return DomainScore{1, 0};
  }
  return DomainScore{};
}

bool pathMatches(const PathMatch& match, std::string_view path) {
  switch (match.kind) {
    case PathMatch::Kind::Prefix:
      return path.starts_with(match.value);
    case PathMatch::Kind::Exact:
      return path == match.value;
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
    if (allowed == method) {
      return true;
    }
  }
  return false;
}

// One header line against a matcher's value test: the whole line, then each element of
// the comma-separated list it may hold.
bool headerLineMatches(const KeyValueMatch& matcher, std::string_view value) {
  if (!matcher.has_value_match) {
    return true;
  }
  if (matcher.value.matches(value)) {
    return true;
  }
  if (value.find(',') == std::string_view::npos) {
    return false;
  }

  Splitter elements(value, ',');
  std::string_view element;
  while (elements.next(&element)) {
    if (matcher.value.matches(trimSpaces(element))) {
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

template <typename Matcher, typename Source>
bool allMatch(const std::vector<KeyValueMatch>& matchers, const Source& source, Matcher matches) {
  for (const KeyValueMatch& matcher : matchers) {
    if (!matches(matcher, source)) {
      return false;
    }
  }
  return true;
}

const std::vector<HeaderView> kNoHeaders;

}  // namespace

const VirtualHostDef* matchVirtualHost(const RouteTable& table, std::string_view host) {
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
  for (const RouteDef& route : virtual_host->routes) {
    if (routeMatches(route, request)) {
      return &route;
    }
  }
  return nullptr;
}

bool routeMatches(const RouteDef& route, const RequestView& request) {
  // A CONNECT target has no path (RFC 9110 9.3.6): only a connect route takes it, and a
  // connect route takes nothing else.
  bool connect_route = route.path.kind == PathMatch::Kind::Connect;
  if (connect_route != (request.method == "CONNECT")) {
    return false;
  }

  // Cheapest tests first: most routes are told apart by method or path.
  if (!methodMatches(route.methods, request.method) || !pathMatches(route.path, request.path)) {
    return false;
  }

  const std::vector<HeaderView>& headers =
      request.headers != nullptr ? *request.headers : kNoHeaders;
  return allMatch(route.headers, headers, headerMatches) &&
         allMatch(route.query_parameters, request.query, queryParameterMatches) &&
         allMatch(route.cookies, headers, cookieMatches);
}

bool headerMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers) {
  bool matched = false;
  for (const HeaderView& header : headers) {
    if (equalsIgnoreCase(header.name, matcher.name) && headerLineMatches(matcher, header.value)) {
      matched = true;
      break;
    }
  }
  return matched != matcher.invert;
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
