// Applies, checks and parses the weight overrides set through the admin API.
#include "config/weight_overrides.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "config/runtime_rules.h"

namespace turnout {
namespace {

// The schema's bound on one weight (config/turnout.proto, ClusterWeight.weight).
constexpr uint32_t kMaxWeight = 10000;

config::WeightedCluster* findSplit(config::Bootstrap* config, const std::string& route) {
  for (const WeightedRouteRef& ref : listWeightedRoutes(*config)) {
    if (ref.name == route) {
      return config->mutable_listeners(ref.listener)
          ->mutable_route_config()
          ->mutable_virtual_hosts(ref.virtual_host)
          ->mutable_routes(ref.route)
          ->mutable_route()
          ->mutable_weighted_clusters();
    }
  }
  return nullptr;
}

const config::WeightedCluster* findSplit(const config::Bootstrap& config,
                                         const std::string& route) {
  for (const WeightedRouteRef& ref : listWeightedRoutes(config)) {
    if (ref.name == route) {
      return &config.listeners(ref.listener)
                  .route_config()
                  .virtual_hosts(ref.virtual_host)
                  .routes(ref.route)
                  .route()
                  .weighted_clusters();
    }
  }
  return nullptr;
}

bool splitHasPool(const config::WeightedCluster& split, const std::string& pool) {
  for (const config::ClusterWeight& entry : split.clusters()) {
    if (entry.name() == pool) {
      return true;
    }
  }
  return false;
}

// The first pool of `weights` that `split` lacks, or "" when it has them all.
std::string missingPool(const config::WeightedCluster& split, const WeightMap& weights) {
  for (const auto& [pool, weight] : weights) {
    if (!splitHasPool(split, pool)) {
      return pool;
    }
  }
  return "";
}

}  // namespace

OverrideCheck checkWeightOverride(const config::Bootstrap& config, const std::string& route,
                                  const WeightMap& weights, std::string* reason) {
  const config::WeightedCluster* split = findSplit(config, route);
  if (split == nullptr) {
    *reason = "no route named \"" + route + "\" with weighted_clusters";
    return OverrideCheck::UnknownRoute;
  }

  std::string missing = missingPool(*split, weights);
  if (!missing.empty()) {
    *reason = "\"" + missing + "\" is not a pool of the split of route \"" + route + "\"";
    return OverrideCheck::Invalid;
  }

  uint64_t sum = 0;
  for (const auto& [pool, weight] : weights) {
    if (weight > kMaxWeight) {
      *reason = "the weight of \"" + pool + "\" must be in 0..10000";
      return OverrideCheck::Invalid;
    }
    sum += weight;
  }
  if (sum == 0) {
    *reason = "the weights sum to 0: at least one pool must get traffic";
    return OverrideCheck::Invalid;
  }
  return OverrideCheck::Ok;
}

void applyWeightOverrides(WeightOverrides* overrides, config::Bootstrap* config,
                          std::vector<std::string>* dropped) {
  for (auto it = overrides->begin(); it != overrides->end();) {
    const std::string& route = it->first;
    const WeightMap& weights = it->second;
    config::WeightedCluster* split = findSplit(config, route);
    std::string missing = split != nullptr ? missingPool(*split, weights) : "";
    if (split == nullptr || !missing.empty()) {
      std::string why = split == nullptr ? "the config has no weighted route of that name"
                                         : "its split has no pool \"" + missing + "\"";
      dropped->push_back("weight override of route " + route + " dropped: " + why);
      it = overrides->erase(it);
      continue;
    }

    // Declared order is kept: only the numbers change.
    for (config::ClusterWeight& entry : *split->mutable_clusters()) {
      auto found = weights.find(entry.name());
      entry.set_weight(found != weights.end() ? static_cast<int32_t>(found->second) : 0);
    }
    ++it;
  }
}

std::optional<WeightMap> parseWeightsJson(std::string_view text, std::string* error) {
  google::protobuf::Struct object;
  auto status = google::protobuf::util::JsonStringToMessage(text, &object);
  if (!status.ok()) {
    *error =
        "the body must be a JSON object of pool names to weights, e.g. "
        "{\"blue\": 0, \"green\": 100}";
    return std::nullopt;
  }

  WeightMap weights;
  for (const auto& [pool, value] : object.fields()) {
    double number = value.number_value();
    bool whole = value.kind_case() == google::protobuf::Value::kNumberValue && number >= 0 &&
                 number <= kMaxWeight && std::floor(number) == number;
    if (!whole) {
      *error = "the weight of \"" + pool + "\" must be a whole number in 0..10000";
      return std::nullopt;
    }
    weights[pool] = static_cast<uint32_t>(number);
  }
  if (weights.empty()) {
    *error = "name at least one pool";
    return std::nullopt;
  }
  return weights;
}

std::string describeWeights(const WeightMap& weights) {
  std::string text;
  for (const auto& [pool, weight] : weights) {
    text += (text.empty() ? "" : " ") + pool + "=" + std::to_string(weight);
  }
  return text;
}

config::WeightOverride toProto(const WeightMap& weights) {
  config::WeightOverride out;
  for (const auto& [pool, weight] : weights) {
    (*out.mutable_weights())[pool] = weight;
  }
  return out;
}

WeightMap fromProto(const config::WeightOverride& weights) {
  return WeightMap(weights.weights().begin(), weights.weights().end());
}

void toProto(const WeightOverrides& overrides,
             google::protobuf::Map<std::string, config::WeightOverride>* out) {
  out->clear();
  for (const auto& [route, weights] : overrides) {
    (*out)[route] = toProto(weights);
  }
}

WeightOverrides fromProto(const google::protobuf::Map<std::string, config::WeightOverride>& in) {
  WeightOverrides overrides;
  for (const auto& [route, weights] : in) {
    overrides[route] = fromProto(weights);
  }
  return overrides;
}

}  // namespace turnout
