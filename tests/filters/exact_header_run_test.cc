// Tests that searching a run of exact-header routes by value picks the same route as
// trying every route in turn, and which routes form a run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "config/header_runs.h"
#include "filters/header_index.h"
#include "filters/route_match.h"
#include "tests/filters/route_builder.h"

namespace turnout {
namespace {

using fixtures::exact;
using fixtures::inverted;
using fixtures::prefix;
using fixtures::valueMatch;

RouteDef headerRoute(std::string name, std::string header, std::string value) {
  RouteDef route =
      fixtures::pathRoute(std::move(name), fixtures::pathMatch(PathMatch::Kind::Prefix, "/"));
  route.headers = {valueMatch(std::move(header), exact(std::move(value)))};
  return route;
}

TEST(FindExactHeaderRuns, GroupsConsecutiveRoutesOnOneHeader) {
  std::vector<RouteDef> routes;
  for (int i = 0; i < 5; ++i) {
    routes.push_back(headerRoute("canary-" + std::to_string(i), "x-canary", std::to_string(i)));
  }
  RouteDef prefixed = headerRoute("prefixed", "x-canary", "p");
  prefixed.headers[0].value = prefix("p");
  routes.push_back(prefixed);
  for (int i = 0; i < 3; ++i) {
    routes.push_back(headerRoute("beta-" + std::to_string(i), "x-beta", std::to_string(i)));
  }
  for (int i = 0; i < 4; ++i) {
    routes.push_back(headerRoute("tier-" + std::to_string(i), i % 2 ? "X-Tier" : "x-tier", "t"));
  }
  RouteDef with_cookie = headerRoute("cookie", "x-tier", "c");
  with_cookie.cookies = {valueMatch("session", exact("1"))};
  routes.push_back(with_cookie);

  const std::vector<ExactHeaderRunDef> runs = findExactHeaderRuns(routes);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].begin, 0u);
  EXPECT_EQ(runs[0].end, 5u);
  EXPECT_EQ(runs[0].name, "x-canary");
  EXPECT_EQ(runs[1].begin, 9u);
  EXPECT_EQ(runs[1].end, 13u);
  EXPECT_EQ(runs[1].name, "x-tier");
  EXPECT_EQ(runs[1].entries.size(), 4u);
}

TEST(FindExactHeaderRuns, InvertedOrShortStretchesStayRouteByRoute) {
  std::vector<RouteDef> routes;
  for (int i = 0; i < 6; ++i) {
    routes.push_back(headerRoute("r" + std::to_string(i), "x-canary", std::to_string(i)));
  }
  routes[3].headers[0] = inverted(routes[3].headers[0]);
  EXPECT_TRUE(findExactHeaderRuns(routes).empty());
}


// A route with another path or other methods ends a run, since a run tests them once.
TEST(FindExactHeaderRuns, OtherPathOrMethodsEndARun) {
  std::vector<RouteDef> routes;
  for (int i = 0; i < 12; ++i) {
    routes.push_back(headerRoute("r" + std::to_string(i), "x-canary", std::to_string(i)));
  }
  routes[4].path = fixtures::pathMatch(PathMatch::Kind::Prefix, "/api");
  routes[9].methods = {"GET"};

  // [0, 4) and [5, 9); route 4 stands alone, and 10 and 11 are too few for a run.
  const std::vector<ExactHeaderRunDef> runs = findExactHeaderRuns(routes);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].begin, 0u);
  EXPECT_EQ(runs[0].end, 4u);
  EXPECT_EQ(runs[1].begin, 5u);
  EXPECT_EQ(runs[1].end, 9u);
}

// A seeded random table of runs and other routes (some with another path or methods), and
// random requests: the route chosen with the runs must be the route chosen route by route,
// with and without a header index.
TEST(ExactHeaderRunSearch, PicksTheSameRouteAsTryingEveryRoute) {
  std::mt19937 random(20261204);
  auto pick = [&random](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(random)];
  };
  const std::vector<std::string> values = {"a", "b", "c", "", "a, b", "beta-tester-group"};
  const std::vector<std::string> paths = {"/", "/api", "/api/v2"};
  const std::vector<std::string> names = {"x-group", "X-Group", "x-other"};
  const std::vector<std::string> line_values = {
      "a", "b", "c", "", "a, b", " a ,c", "b,,x", "beta-tester-group", "d"};

  int tables_with_runs = 0;
  for (int table_round = 0; table_round < 40; ++table_round) {
    VirtualHostDef host;
    host.domains = {fixtures::domain("*")};
    const int count = std::uniform_int_distribution<int>(4, 16)(random);
    const std::string run_path = pick(paths);
    const bool all_get = table_round % 4 == 3;
    for (int r = 0; r < count; ++r) {
      RouteDef route =
          headerRoute("r" + std::to_string(r), r % 7 == 6 ? "x-other" : "x-group", pick(values));
      route.path = fixtures::pathMatch(PathMatch::Kind::Prefix, run_path);
      if (r % 9 == 8) {
        route.path = fixtures::pathMatch(PathMatch::Kind::Prefix, pick(paths));
      }
      if (r % 11 == 10 || all_get) {
        route.methods = {"GET"};
      }
      host.routes.push_back(route);
    }
    host.routes.push_back(
        fixtures::pathRoute("fallback", fixtures::pathMatch(PathMatch::Kind::Prefix, "/")));

    RouteTable route_by_route;
    route_by_route.virtual_hosts.push_back(host);
    RouteTable with_runs = route_by_route;
    with_runs.virtual_hosts[0].exact_header_runs = findExactHeaderRuns(host.routes);
    tables_with_runs += with_runs.virtual_hosts[0].exact_header_runs.empty() ? 0 : 1;

    for (int request_round = 0; request_round < 50; ++request_round) {
      std::vector<HeaderView> headers;
      const int lines = std::uniform_int_distribution<int>(0, 3)(random);
      std::vector<std::string> storage;
      storage.reserve(2 * lines);
      for (int l = 0; l < lines; ++l) {
        storage.push_back(pick(names));
        storage.push_back(pick(line_values));
      }
      for (int l = 0; l < lines; ++l) {
        headers.push_back({storage[2 * l], storage[2 * l + 1]});
      }
      const std::string path = pick(paths) + "/x";
      RequestView request =
          fixtures::request(headers, path, "", request_round % 3 == 0 ? "POST" : "GET");

      const RouteDef* expected = matchRoute(route_by_route, request);
      const RouteDef* scanned = matchRoute(with_runs, request);
      const HeaderIndex index(headers);
      request.header_index = &index;
      const RouteDef* indexed = matchRoute(with_runs, request);
      ASSERT_NE(expected, nullptr);
      ASSERT_NE(scanned, nullptr);
      ASSERT_NE(indexed, nullptr);
      EXPECT_EQ(scanned->name, expected->name) << "table " << table_round;
      EXPECT_EQ(indexed->name, expected->name) << "table " << table_round;
    }
  }
  EXPECT_GT(tables_with_runs, 20);
}

}  // namespace
}  // namespace turnout
