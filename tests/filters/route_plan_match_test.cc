// Tests that the route match's shortcuts (the route's plan, the header index's name bits,
// header slots, the cookie and query name checks) never change which route is chosen.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "config/route_plan.h"
#include "config/word_compare.h"
#include "filters/header_index.h"
#include "filters/route_match.h"
#include "tests/filters/route_builder.h"

namespace turnout {
namespace {

using fixtures::exact;
using fixtures::inverted;
using fixtures::prefix;
using fixtures::presentMatch;
using fixtures::valueMatch;

// `host` as the snapshot compiler leaves it: lower-case hashed header names, a plan per
// route, header slots.
VirtualHostDef planned(VirtualHostDef host) {
  for (RouteDef& route : host.routes) {
    for (KeyValueMatch& matcher : route.headers) {
      matcher.name_hash = headerNameHash(matcher.name);
    }
    planRouteMatch(&route);
  }
  assignHeaderSlots(&host);
  return host;
}

std::string chosen(const VirtualHostDef& host, const RequestView& request) {
  RouteTable table;
  table.virtual_hosts.push_back(host);
  const RouteDef* route = matchRoute(table, request);
  return route == nullptr ? "none" : route->name;
}

RouteDef route(std::string name,
               PathMatch path = fixtures::pathMatch(PathMatch::Kind::Prefix, "/")) {
  return fixtures::pathRoute(std::move(name), std::move(path));
}

// Every kind of matcher, in and out of slots, each route once alone and once beside others.
std::vector<RouteDef> routePool() {
  std::vector<RouteDef> pool;
  auto add = [&pool](RouteDef r) { pool.push_back(std::move(r)); };
  RouteDef r = route("tier-beta");
  r.headers = {valueMatch("x-tier", exact("beta"))};
  add(r);
  r = route("tier-gold-prefix");
  r.headers = {valueMatch("x-tier", prefix("go"))};
  add(r);
  r = route("tier-not-free");
  r.headers = {inverted(valueMatch("x-tier", exact("free")))};
  add(r);
  r = route("tier-present");
  r.headers = {presentMatch("x-tier")};
  add(r);
  r = route("no-beta");
  r.headers = {inverted(presentMatch("x-beta"))};
  add(r);
  r = route("beta-and-tier", fixtures::pathMatch(PathMatch::Kind::Prefix, "/api"));
  r.headers = {valueMatch("x-beta", exact("1")), valueMatch("x-tier", exact("beta"))};
  add(r);
  r = route("group-cookie");
  r.cookies = {valueMatch("group", exact("qa"))};
  add(r);
  r = route("no-group-cookie");
  r.cookies = {inverted(presentMatch("group"))};
  add(r);
  r = route("debug-query");
  r.query_parameters = {presentMatch("debug")};
  add(r);
  r = route("no-debug-query");
  r.query_parameters = {inverted(valueMatch("debug", exact("1")))};
  add(r);
  r = route("writes", fixtures::pathMatch(PathMatch::Kind::Prefix, "/api"));
  r.methods = {"POST", "PUT"};
  add(r);
  r = route("versioned", fixtures::pathMatch(PathMatch::Kind::Regex, "/v[0-9]+(/.*)?"));
  add(r);
  r = route("any-case", fixtures::pathMatch(PathMatch::Kind::Regex, "(?i)/API/v[0-9]+"));
  add(r);
  r = route("health", fixtures::pathMatch(PathMatch::Kind::Exact, "/healthz"));
  add(r);
  r = route("everything", fixtures::pathMatch(PathMatch::Kind::Prefix, ""));
  r.headers = {valueMatch("x-other", exact("b"))};
  add(r);
  r = route("tunnel", fixtures::pathMatch(PathMatch::Kind::Connect, ""));
  r.headers = {inverted(presentMatch("x-tier"))};
  add(r);
  return pool;
}

// A seeded random table drawn from the pool, and random requests: the planned table must
// choose what the unplanned one chooses, with and without a header index, and every route
// must give the same answer alone.
TEST(RoutePlanMatch, ChoosesWhatTheFullTestChooses) {
  std::mt19937 random(20261205);
  // A reference into the pools, which outlive the requests that view them.
  auto pick = [&random](const auto& from) -> const auto& {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(random)];
  };
  const std::vector<RouteDef> pool = routePool();
  const std::vector<std::string> names = {"x-tier", "X-Tier",  "x-beta",  "cookie",
                                          "Cookie", "x-other", "x-unused"};
  const std::vector<std::string> values = {"beta",
                                           "free",
                                           "gold",
                                           "free, beta",
                                           "",
                                           "1",
                                           "b",
                                           "group=qa",
                                           "theme=group; group=qa",
                                           "theme=group",
                                           "a=1; group=\"qa\""};
  const std::vector<std::string> paths = {
      "/", "/api", "/api/x", "/v2", "/v2/a", "/API/v7", "/api/V7", "/healthz", "*", "", "/vx"};
  const std::vector<std::string> queries = {"", "debug", "debug=1", "page=2&debug=0", "xdebug=1"};
  const std::vector<std::string> methods = {"GET", "POST", "CONNECT", "get"};

  std::set<std::string> seen;  // The routes chosen, so that the test covers most kinds.
  for (int table_round = 0; table_round < 60; ++table_round) {
    VirtualHostDef host;
    host.domains = {fixtures::domain("*")};
    const int count = std::uniform_int_distribution<int>(1, 12)(random);
    for (int r = 0; r < count; ++r) {
      host.routes.push_back(pick(pool));
    }
    const VirtualHostDef fast = planned(host);

    for (int request_round = 0; request_round < 60; ++request_round) {
      // Sometimes more lines than the index covers, so that the name bits say nothing.
      const int lines =
          request_round % 15 == 14 ? 70 : std::uniform_int_distribution<int>(0, 4)(random);
      std::vector<std::string> storage;
      for (int l = 0; l < lines; ++l) {
        storage.push_back(l < lines - 4 ? "x-filler" : pick(names));
        storage.push_back(pick(values));
      }
      std::vector<HeaderView> headers;
      for (int l = 0; l < lines; ++l) {
        headers.push_back({storage[2 * l], storage[2 * l + 1]});
      }
      RequestView request = fixtures::request(headers, pick(paths), pick(queries), pick(methods));

      const std::string expected = chosen(host, request);
      EXPECT_EQ(chosen(fast, request), expected) << "table " << table_round << " unindexed";
      const HeaderIndex index(headers);
      request.header_index = &index;
      EXPECT_EQ(chosen(fast, request), expected) << "table " << table_round << " indexed";
      seen.insert(expected);
      for (size_t r = 0; r < host.routes.size(); ++r) {
        EXPECT_EQ(routeMatches(fast.routes[r], request), routeMatches(host.routes[r], request))
            << host.routes[r].name;
      }
    }
  }
  EXPECT_GE(seen.size(), pool.size() - 2);
}

// Two names that share a name bit: the bit of one does not let a route needing the other
// through, and the full test still decides.
TEST(RoutePlanMatch, SharedNameBitFallsBackToTheFullTest) {
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    const std::string candidate = "x-flag-" + std::to_string(i);
    if (headerNameBit(headerNameHash(candidate)) == headerNameBit(headerNameHash("x-beta"))) {
      other = candidate;
    }
  }
  VirtualHostDef host;
  host.domains = {fixtures::domain("*")};
  RouteDef beta = route("beta");
  beta.headers = {presentMatch("x-beta")};
  host.routes = {beta, route("rest")};
  const VirtualHostDef fast = planned(host);

  for (const std::vector<HeaderView>& headers :
       {std::vector<HeaderView>{{other, "1"}}, std::vector<HeaderView>{{"X-Beta", ""}}}) {
    RequestView request = fixtures::request(headers);
    const HeaderIndex index(headers);
    request.header_index = &index;
    EXPECT_EQ(chosen(fast, request), headers[0].name == other ? "rest" : "beta");
  }
}

// A slot holds one value only; two lines or a comma list go to the full matcher.
TEST(RoutePlanMatch, SlotsLeaveListsAndRepeatedLinesToTheFullMatcher) {
  VirtualHostDef host;
  host.domains = {fixtures::domain("*")};
  RouteDef gold = route("gold");
  gold.headers = {valueMatch("x-tier", exact("gold"))};
  RouteDef beta = route("beta");
  beta.headers = {valueMatch("x-tier", exact("beta"))};
  host.routes = {gold, beta, route("rest")};
  const VirtualHostDef fast = planned(host);
  ASSERT_EQ(fast.routes[0].headers[0].slot, 1);

  const std::vector<std::vector<HeaderView>> heads = {{{"x-tier", "free, beta"}},
                                                      {{"x-tier", "free"}, {"X-Tier", "beta"}},
                                                      {{"x-tier", "beta"}},
                                                      {{"x-tier", "free"}}};
  const std::vector<std::string> expected = {"beta", "beta", "beta", "rest"};
  for (size_t i = 0; i < heads.size(); ++i) {
    RequestView request = fixtures::request(heads[i]);
    const HeaderIndex index(heads[i]);
    request.header_index = &index;
    EXPECT_EQ(chosen(fast, request), expected[i]) << i;
  }
}

// The cookie and query checks look for the name's bytes anywhere; bytes inside a value are
// not a cookie or a parameter, and the full scan says so.
TEST(RoutePlanMatch, NameInsideAValueIsNotAKey) {
  VirtualHostDef host;
  host.domains = {fixtures::domain("*")};
  RouteDef cookie = route("cookie");
  cookie.cookies = {presentMatch("group")};
  RouteDef query = route("query");
  query.query_parameters = {presentMatch("debug")};
  host.routes = {cookie, query, route("rest")};
  const VirtualHostDef fast = planned(host);

  const std::vector<HeaderView> headers = {{"Cookie", "theme=group"}};
  RequestView request = fixtures::request(headers, "/", "q=debug");
  const HeaderIndex index(headers);
  request.header_index = &index;
  EXPECT_EQ(chosen(fast, request), "rest");
}

}  // namespace
}  // namespace turnout
