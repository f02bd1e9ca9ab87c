// Picks the virtual host and route for a request: the first route whose match succeeds.
//
// Every function here runs on any thread, allocates nothing and keeps no reference to the
// request after it returns. The full rules, with examples, are in docs/matching.md.
#pragma once

#include <string_view>
#include <vector>

#include "config/snapshot.h"
#include "filters/request_view.h"

namespace turnout {

// The virtual host for `host` (any case, port already removed), or nullptr when none of
// the table's domains covers it. Order of preference, across all virtual hosts:
//   1. an exact domain ("api.example.com");
//   2. the longest suffix wildcard ("*.example.com" covers "a.example.com" and
//      "a.b.example.com", never "example.com" itself);
//   3. the longest prefix wildcard ("api.*" covers "api.example.com", never "api");
//   4. "*".
// Host names compare case-insensitively (RFC 9110 4.2.3). Between equally good domains the
// virtual host declared first wins (the validator rejects a domain used twice).
const VirtualHostDef* matchVirtualHost(const RouteTable& table, std::string_view host);

// The first route of the matched virtual host whose path, method, header, cookie and
// query matchers all succeed, or nullptr (no virtual host, or no route matches). A run of
// routes told apart by one header's exact value (VirtualHostDef::exact_header_runs) is
// searched by the request's values of that header; the route chosen is the same. Routes
// tried in turn use their RouteMatchPlan (config/route_plan.h), the header index's name
// bits and one read per request of each header in a slot; these change the cost, never the
// answer.
const RouteDef* matchRoute(const RouteTable& table, const RequestView& request);

// True when every matcher of `route` succeeds for `request`:
//   - path (the path without the query): prefix, exact, or an RE2 regex that must match
//     the whole path; case-sensitive;
//   - method: one of route.methods, case-sensitive; an empty list accepts any method;
//     CONNECT matches only a route with a connect matcher, and such a route nothing else;
//   - each header, cookie and query parameter matcher, as described below.
// A request with no header vector is treated as having no headers. Header matchers look
// lines up through request.header_index when it is set, and give the same answers.
bool routeMatches(const RouteDef& route, const RequestView& request);

// True when `upgrade`, the value of a request's Upgrade header, names one protocol that
// `route` tunnels (RouteDef::upgrade_types), compared case-insensitively by its
// protocol-name; "websocket" and "WebSocket/13" both name websocket. A list of several
// protocols is never tunnelled.
bool tunnelsUpgrade(const RouteDef& route, std::string_view upgrade);

// True when `route` has a connect matcher and tunnels "connect".
bool acceptsConnect(const RouteDef& route);

// Header matcher semantics (RFC 9110 5.3): the names compare case-insensitively; a value
// matcher succeeds if it matches the whole value of any one line with that name or any
// one element of a comma-separated list in such a line (elements trimmed of spaces and
// tabs); values compare case-sensitively. An absent header fails every value matcher and
// the presence matcher; present succeeds for an empty value; invert flips the final
// result, so an inverted matcher succeeds for an absent header.
//
// The comma split does not know about quoted strings: "a=\"x,y\"" also offers the
// elements `a="x` and `y"`. Matchers written for whole values are unaffected.
bool headerMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers);

// The same answer through a request's header index (filters/header_index.h), for a
// matcher whose name is lower-cased, as the snapshot compiler writes it.
bool headerMatches(const KeyValueMatch& matcher, const HeaderIndex& index);

// Cookie matcher: as for headers, over every value of the cookie named matcher.name
// (case-sensitive) found in any Cookie line (see filters/cookies.h for the grammar); a
// value is never split on commas.
bool cookieMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers);

// Query parameter matcher: as for cookies, over every value of the parameter named
// matcher.name (case-sensitive) in `query` (see filters/query.h: no percent-decoding; a
// bare name is present with an empty value).
bool queryParameterMatches(const KeyValueMatch& matcher, std::string_view query);

}  // namespace turnout
