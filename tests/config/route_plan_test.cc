// Tests what planRouteMatch() and assignHeaderSlots() derive from a route's matchers.
#include "config/route_plan.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/word_compare.h"

namespace turnout {
namespace {

KeyValueMatch headerMatcher(std::string name, bool invert = false) {
  KeyValueMatch matcher;
  matcher.name = std::move(name);
  matcher.has_value_match = true;
  matcher.value.value = "1";
  matcher.invert = invert;
  return matcher;
}

RouteDef prefixRoute(std::string prefix) {
  RouteDef route;
  route.path.kind = PathMatch::Kind::Prefix;
  route.path.value = std::move(prefix);
  return route;
}

RouteDef regexRoute(const std::string& pattern) {
  RouteDef route;
  route.path.kind = PathMatch::Kind::Regex;
  route.path.value = pattern;
  route.path.regex = std::make_shared<const re2::RE2>(pattern);
  planRouteMatch(&route);
  return route;
}

uint64_t bitOf(std::string_view name) {
  return headerNameBit(headerNameHash(name));
}

TEST(PlanRouteMatch, OnlyPrefixSlashOrEmptySkipsThePathTest) {
  RouteDef any = prefixRoute("");
  RouteDef slash = prefixRoute("/");
  RouteDef api = prefixRoute("/api");
  RouteDef exact = prefixRoute("/");
  exact.path.kind = PathMatch::Kind::Exact;
  for (RouteDef* route : {&any, &slash, &api, &exact}) {
    planRouteMatch(route);
  }
  EXPECT_EQ(any.plan.path, RouteMatchPlan::Path::Any);
  EXPECT_EQ(slash.plan.path, RouteMatchPlan::Path::OriginForm);
  EXPECT_EQ(api.plan.path, RouteMatchPlan::Path::Test);
  EXPECT_EQ(exact.plan.path, RouteMatchPlan::Path::Test);
}

TEST(PlanRouteMatch, AnyMethodOnlyWithoutAList) {
  RouteDef route = prefixRoute("/");
  planRouteMatch(&route);
  EXPECT_TRUE(route.plan.any_method);
  route.methods = {"GET"};
  planRouteMatch(&route);
  EXPECT_FALSE(route.plan.any_method);
}

// An inverted matcher succeeds without its key, so it requires nothing.
TEST(PlanRouteMatch, RequiresTheHeadersOfMatchersThatAreNotInverted) {
  RouteDef route = prefixRoute("/");
  route.headers = {headerMatcher("X-Beta"), headerMatcher("x-internal", true)};
  route.headers[0].name_hash = 0;  // Hashed by the planner, in any case.
  planRouteMatch(&route);
  EXPECT_EQ(route.plan.required_header_bits, bitOf("x-beta"));
  EXPECT_FALSE(route.plan.needs_query);

  route.cookies = {headerMatcher("group", true)};
  route.query_parameters = {headerMatcher("debug", true)};
  planRouteMatch(&route);
  EXPECT_EQ(route.plan.required_header_bits, bitOf("x-beta"));
  EXPECT_FALSE(route.plan.needs_query);

  route.cookies.push_back(headerMatcher("session"));
  route.query_parameters.push_back(headerMatcher("page"));
  planRouteMatch(&route);
  EXPECT_EQ(route.plan.required_header_bits, bitOf("x-beta") | bitOf("cookie"));
  EXPECT_TRUE(route.plan.needs_query);
}

TEST(PlanRouteMatch, RegexPathGetsTheLiteralPrefixOfItsMatches) {
  EXPECT_EQ(regexRoute("/v[0-9]+/.*").plan.path_prefix, "/v");
  EXPECT_EQ(regexRoute("/api/(users|orders)/[0-9]+").plan.path_prefix, "/api/");
  EXPECT_EQ(regexRoute("(/a|/b).*").plan.path_prefix, "/");
  EXPECT_EQ(regexRoute(".*\\.png").plan.path_prefix, "");
  EXPECT_EQ(regexRoute("(?i)/api/.*").plan.path_prefix, "/");
  EXPECT_EQ(prefixRoute("/api").plan.path_prefix, "");
}

std::vector<uint8_t> slotsOf(const RouteDef& route) {
  std::vector<uint8_t> slots;
  for (const KeyValueMatch& matcher : route.headers) {
    slots.push_back(matcher.slot);
  }
  return slots;
}

// A slot is worth filling only when a second matcher reads it; names compare in any case.
TEST(AssignHeaderSlots, OneSlotPerNameTestedTwice) {
  VirtualHostDef host;
  host.routes.push_back(prefixRoute("/"));
  host.routes[0].headers = {headerMatcher("x-route"), headerMatcher("x-once")};
  host.routes.push_back(prefixRoute("/"));
  host.routes[1].headers = {headerMatcher("x-tier"), headerMatcher("X-Route")};
  host.routes.push_back(prefixRoute("/"));
  host.routes[2].headers = {headerMatcher("X-TIER", true)};

  assignHeaderSlots(&host);
  EXPECT_EQ(slotsOf(host.routes[0]), (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(slotsOf(host.routes[1]), (std::vector<uint8_t>{2, 1}));
  EXPECT_EQ(slotsOf(host.routes[2]), (std::vector<uint8_t>{2}));
}

// Names whose hashes agree still get slots of their own.
TEST(AssignHeaderSlots, CollidingNamesGetDifferentSlots) {
  ASSERT_EQ(headerNameHash("x-canary-a-group-name"), headerNameHash("x-canary-b-group-name"));
  VirtualHostDef host;
  for (const char* name : {"x-canary-a-group-name", "x-canary-b-group-name"}) {
    for (int copy = 0; copy < 2; ++copy) {
      host.routes.push_back(prefixRoute("/"));
      host.routes.back().headers = {headerMatcher(name)};
    }
  }
  assignHeaderSlots(&host);
  EXPECT_EQ(host.routes[0].headers[0].slot, 1);
  EXPECT_EQ(host.routes[1].headers[0].slot, 1);
  EXPECT_EQ(host.routes[2].headers[0].slot, 2);
  EXPECT_EQ(host.routes[3].headers[0].slot, 2);
}

TEST(AssignHeaderSlots, NamesPastTheLastSlotGetNone) {
  VirtualHostDef host;
  for (size_t name = 0; name < kHeaderSlots + 2; ++name) {
    host.routes.push_back(prefixRoute("/"));
    host.routes.back().headers = {headerMatcher("x-flag-" + std::to_string(name)),
                                  headerMatcher("x-flag-" + std::to_string(name), true)};
  }
  assignHeaderSlots(&host);
  EXPECT_EQ(host.routes[kHeaderSlots - 1].headers[1].slot, kHeaderSlots);
  EXPECT_EQ(host.routes[kHeaderSlots].headers[0].slot, 0);
  EXPECT_EQ(host.routes[kHeaderSlots + 1].headers[1].slot, 0);
}

// The snapshot compiler plans every route and gives the slots.
TEST(PlanRouteMatch, SnapshotCompilerPlansEveryRoute) {
  const LoadResult loaded = loadConfigText(R"(
listeners:
- name: edge
  address: "127.0.0.1:8080"
  route_config:
    virtual_hosts:
    - name: all
      domains: ["*"]
      routes:
      - {name: a, match: {prefix: /, headers: [{name: X-Beta, exact_match: "1"}]},
         route: {cluster: stable}}
      - {name: b, match: {safe_regex: "/v[0-9]+", headers: [{name: x-beta, present_match: true}]},
         route: {cluster: stable}}
clusters:
- {name: stable, endpoints: [{address: "127.0.0.1:9001"}]}
)",
                                           "test");
  ASSERT_TRUE(loaded.errors.empty()) << formatErrors("test", loaded.errors);
  const std::vector<RouteDef>& routes =
      loaded.snapshot->listeners[0].route_table.virtual_hosts[0].routes;
  EXPECT_EQ(routes[0].plan.path, RouteMatchPlan::Path::OriginForm);
  EXPECT_EQ(routes[0].plan.required_header_bits, bitOf("x-beta"));
  EXPECT_EQ(routes[1].plan.path_prefix, "/v");
  EXPECT_EQ(routes[0].headers[0].slot, 1);
  EXPECT_EQ(routes[1].headers[0].slot, 1);
}

}  // namespace
}  // namespace turnout
