// Measures the per-request filter cost: indexing the header lines, route match plus split
// over 1, 10 and 100 routes and over a mixed 10-route table, and serializing a typical
// upstream request head.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "config/header_runs.h"
#include "config/loader.h"
#include "config/route_plan.h"
#include "filters/header_index.h"
#include "filters/header_rewrite.h"
#include "filters/route_match.h"
#include "filters/split.h"

namespace turnout {
namespace {

// Ten lines, as a browser sends them through a gateway.
const std::vector<HeaderView> kBrowserHeaders = {
    {"Host", "shop.example.com"},
    {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
    {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
    {"Accept-Language", "en-GB,en;q=0.5"},
    {"Accept-Encoding", "gzip, deflate, br"},
    {"Cookie", "session=4f1c2b9e; theme=dark; uid=user-48213"},
    {"Connection", "keep-alive"},
    {"X-Forwarded-For", "198.51.100.23"},
    {"X-Route", "route-99"},
    {"X-User", "user-48213"},
};

// `count` routes under one "*.example.com" virtual host; route i needs "x-route:
// route-<i>", so a request for the last route is refused by every route before it. The
// routes get their match plans and header slots as the snapshot compiler gives them. With
// `find_runs`, from 4 routes on the routes form one exact-header run, searched by the
// request's value, as the compiler makes it. Without it, every route is tried in turn, the
// cost of tables whose routes differ in more than one value.
RouteTable makeTable(int count, bool find_runs) {
  VirtualHostDef virtual_host;
  virtual_host.name = "shop";
  virtual_host.domains = {DomainMatch{DomainMatch::Kind::Suffix, ".example.com"}};

  for (int i = 0; i < count; ++i) {
    RouteDef route;
    route.name = "route-" + std::to_string(i);
    route.path = PathMatch{PathMatch::Kind::Prefix, "/", nullptr};
    // Name hashes as the snapshot compiler sets them.
    route.headers = {KeyValueMatch{"x-route", true,
                                   StringMatch{StringMatch::Kind::Exact, route.name, nullptr},
                                   false, headerNameHash("x-route")}};
    route.shares = {ClusterShare{0, 95, 0, 9500}, ClusterShare{1, 5, 9500, kBucketCount}};
    route.hash_policy = {
        HashPolicyRule{HashPolicyRule::Kind::Header, "x-user", headerNameHash("x-user")}};
    route.salt_seed = saltSeed(route.name);
    planRouteMatch(&route);
    virtual_host.routes.push_back(std::move(route));
  }

  if (find_runs) {
    virtual_host.exact_header_runs = findExactHeaderRuns(virtual_host.routes);
  }
  assignHeaderSlots(&virtual_host);
  RouteTable table;
  table.virtual_hosts.push_back(std::move(virtual_host));
  return table;
}

// A browser's request for a shop page, carrying `headers`; the index is set per iteration.
RequestView browserRequest(const std::vector<HeaderView>* headers) {
  RequestView request;
  request.method = "GET";
  request.path = "/cart/items";
  request.query = "page=2&sort=price";
  request.host = "shop.example.com";
  request.client_ip = "198.51.100.23";
  request.headers = headers;
  return request;
}

void matchAndSplit(benchmark::State& state, bool find_runs) {
  const int count = static_cast<int>(state.range(0));
  const RouteTable table = makeTable(count, find_runs);
  std::vector<HeaderView> headers = kBrowserHeaders;
  const std::string wanted = "route-" + std::to_string(count - 1);
  headers[8].value = wanted;

  RequestView request = browserRequest(&headers);

  for (auto _ : state) {
    // The proxy indexes each request's header lines once, before the match (proxy/stream.cc).
    const HeaderIndex index(headers);
    request.header_index = &index;
    const RouteDef* route = matchRoute(table, request);
    if (route == nullptr) {
      state.SkipWithError("no route matched");
      break;
    }
    benchmark::DoNotOptimize(decideSplit(*route, request, 1234));
  }
}
void BM_MatchAndSplit(benchmark::State& state) {
  matchAndSplit(state, true);
}
BENCHMARK(BM_MatchAndSplit)->Arg(1)->Arg(10)->Arg(100);

void BM_MatchAndSplitRouteByRoute(benchmark::State& state) {
  matchAndSplit(state, false);
}
BENCHMARK(BM_MatchAndSplitRouteByRoute)->Arg(1)->Arg(10)->Arg(100);

// Ten routes of the kinds a release config mixes, compiled by the real loader. The browser
// request below fails the first nine, each for a different reason, so every route is tried
// and the split route at the end takes it.
const char kMixedTable[] = R"(
listeners:
- name: edge
  address: "127.0.0.1:8080"
  route_config:
    virtual_hosts:
    - name: shop
      domains: ["*.example.com"]
      routes:
      - {name: beta-toggle, match: {prefix: /, headers: [{name: x-beta, exact_match: "1"}]},
         route: {cluster: canary}}
      - {name: qa-cookie, match: {prefix: /, cookies: [{name: group, exact_match: qa}]},
         route: {cluster: canary}}
      - {name: debug-query,
         match: {prefix: /, query_parameters: [{name: debug, present_match: true}]},
         route: {cluster: canary}}
      - {name: api, match: {prefix: /api/}, route: {cluster: canary}}
      - {name: cart-writes, match: {prefix: /cart, methods: [POST, PUT, DELETE]},
         route: {cluster: stable}}
      - {name: versioned, match: {safe_regex: "/v[0-9]+/.*"}, route: {cluster: canary}}
      - {name: canary-present,
         match: {prefix: /, headers: [{name: x-canary, present_match: true}]},
         route: {cluster: canary}}
      - name: non-browser
        match:
          prefix: /
          headers: [{name: user-agent, prefix_match: Mozilla/, invert_match: true}]
        route: {cluster: stable}
      - {name: health, match: {path: /healthz}, route: {cluster: stable}}
      - name: split
        match: {prefix: /}
        route:
          weighted_clusters: {clusters: [{name: stable, weight: 95}, {name: canary, weight: 5}]}
          hash_policy: [{header: {header_name: x-user}}]
clusters:
- {name: stable, endpoints: [{address: "127.0.0.1:9001"}]}
- {name: canary, endpoints: [{address: "127.0.0.1:9002"}]}
)";

void BM_MatchAndSplitMixed(benchmark::State& state) {
  const LoadResult loaded = loadConfigText(kMixedTable, "route_match_bench");
  if (!loaded.errors.empty()) {
    state.SkipWithError(formatErrors("route_match_bench", loaded.errors).c_str());
    return;
  }
  const RouteTable& table = loaded.snapshot->listeners[0].route_table;

  RequestView request = browserRequest(&kBrowserHeaders);

  // The request must fail every route but the last, or the figure would say less.
  const RouteDef* expected = matchRoute(table, request);
  if (expected == nullptr || expected->name != "split") {
    state.SkipWithError("the request did not reach the split route");
    return;
  }

  for (auto _ : state) {
    const HeaderIndex index(kBrowserHeaders);
    request.header_index = &index;
    const RouteDef* route = matchRoute(table, request);
    if (route != expected) {
      state.SkipWithError("the route changed between iterations");
      break;
    }
    benchmark::DoNotOptimize(decideSplit(*route, request, 1234));
  }
}
BENCHMARK(BM_MatchAndSplitMixed);

void BM_WriteUpstreamRequestHead(benchmark::State& state) {
  DecisionHeadersDef decision;
  UpstreamRequestHead head;
  head.method = "GET";
  head.target = "/cart/items?page=2&sort=price";
  head.headers = kBrowserHeaders;
  head.client_ip = "198.51.100.23";
  head.request_id = "0f6c2a1e-5b7d-4c1f-9a8e-2d3b4c5d6e7f";
  head.decision_headers = &decision;
  head.cluster_name = "canary";
  head.bucket = 9731;

  std::string out;
  for (auto _ : state) {
    // A connection reuses its buffer, so the steady state appends without reallocating.
    out.clear();
    writeUpstreamRequestHead(head, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_WriteUpstreamRequestHead);

}  // namespace
}  // namespace turnout

BENCHMARK_MAIN();
