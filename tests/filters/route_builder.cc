// Out-of-line parts of the filter test builders.
#include "tests/filters/route_builder.h"

#include <cctype>

#include "filters/split.h"

namespace turnout::fixtures {

DomainMatch domain(std::string_view pattern) {
  std::string lower(pattern);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  DomainMatch match;
  if (lower == "*") {
    match.kind = DomainMatch::Kind::Any;
  } else if (lower.starts_with("*")) {
    match.kind = DomainMatch::Kind::Suffix;
    match.value = lower.substr(1);
  } else if (lower.ends_with("*")) {
    match.kind = DomainMatch::Kind::Prefix;
    match.value = lower.substr(0, lower.size() - 1);
  } else {
    match.value = lower;
  }
  return match;
}

std::vector<ClusterShare> sharesForWeights(const std::vector<uint32_t>& weights) {
  uint64_t total = 0;
  for (const uint32_t weight : weights) {
    total += weight;
  }

  std::vector<ClusterShare> shares;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    ClusterShare share;
    share.cluster_index = static_cast<uint32_t>(i);
    share.weight = weights[i];
    share.bucket_begin = static_cast<uint32_t>(kBucketCount * cumulative / total);
    cumulative += weights[i];
    share.bucket_end = static_cast<uint32_t>(kBucketCount * cumulative / total);
    shares.push_back(share);
  }
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
