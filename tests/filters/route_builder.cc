// Out-of-line parts of the filter test builders.
#include "tests/filters/route_builder.h"

#include <gtest/gtest.h>

#include <optional>

#include "config/field_syntax.h"
#include "config/snapshot_compiler.h"
#include "filters/split.h"

namespace turnout::fixtures {

DomainMatch domain(std::string_view pattern) {
  std::string reason;
  std::optional<DomainMatch> match = parseDomainPattern(pattern, &reason);
  if (!match.has_value()) {
    ADD_FAILURE() << "bad domain pattern " << pattern << ": " << reason;
    return DomainMatch{};
  }
  return *match;
}

std::vector<ClusterShare> sharesForWeights(const std::vector<uint32_t>& weights) {
  std::vector<ClusterShare> shares;
  for (size_t i = 0; i < weights.size(); ++i) {
    ClusterShare share;
    share.cluster_index = static_cast<uint32_t>(i);
    share.weight = weights[i];
    shares.push_back(share);
  }
  assignBucketRanges(&shares);
  return shares;
}

RouteDef splitRoute(std::string name, const std::vector<uint32_t>& weights) {
  RouteDef route = pathRoute(std::move(name), pathMatch(PathMatch::Kind::Prefix, "/"));
  route.shares = sharesForWeights(weights);
  return route;
}

RouteDef pathRoute(std::string name, PathMatch path) {
  RouteDef route;
  route.salt_seed = saltSeed(name);
  route.name = std::move(name);
  route.path = std::move(path);
  route.shares = sharesForWeights({1});
  return route;
}

RequestView request(const std::vector<HeaderView>& headers, std::string_view path,
                    std::string_view query, std::string_view method) {
  RequestView view;
  view.method = method;
  view.path = path;
  view.query = query;
  view.host = "example.com";
  view.client_ip = "192.0.2.7";
  view.headers = &headers;
  return view;
}

}  // namespace turnout::fixtures
