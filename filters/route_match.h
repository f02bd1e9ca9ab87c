// Picks the virtual host and route for a request: the first route whose match succeeds.
#pragma once

#include <string_view>

#include "config/snapshot.h"
#include "filters/request_view.h"

namespace turnout {

// The virtual host for `host` (any case, port already removed), or nullptr when none of
// the table's domains covers it. Exact domains win over wildcards, longer wildcards over
// shorter ones, "*" last.
const VirtualHostDef* matchVirtualHost(const RouteTable& table, std::string_view host);

// The first route of the matched virtual host whose path, method, header, cookie and
// query matchers all succeed, or nullptr. Any thread; no allocation.
const RouteDef* matchRoute(const RouteTable& table, const RequestView& request);

// True when every matcher of `route` succeeds for `request`.
bool routeMatches(const RouteDef& route, const RequestView& request);

// Header matcher semantics (RFC 9110 5.3): the names compare case-insensitively; a value
// matcher succeeds if it matches the whole value of any one line with that name or any
// one element of a comma-separated list in such a line; an absent header fails every
// value matcher; present succeeds for an empty value; invert flips the final result.
bool headerMatches(const KeyValueMatch& matcher, const std::vector<HeaderView>& headers);

}  // namespace turnout
