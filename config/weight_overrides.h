// The weight overrides: weights set through the admin API, kept as a layer over the
// configured splits so that a reload of the file keeps them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/turnout.pb.h"

namespace turnout {

// Pool (cluster) name to weight, for one route's split. Pools of the split that are not
// named get weight 0, so {"green": 100} sends everything to green.
using WeightMap = std::map<std::string, uint32_t>;

// Route name to its weights.
using WeightOverrides = std::map<std::string, WeightMap>;

// Why an override cannot be set.
enum class OverrideCheck {
  Ok,
  UnknownRoute,  // No weighted route has this name (404).
  Invalid,       // A pool is not in the split, a weight is out of range, the sum is 0 (400).
};

// Checks `weights` against the split of the weighted route `route` in `config`; on a
// problem, `*reason` says what it is.
OverrideCheck checkWeightOverride(const config::Bootstrap& config, const std::string& route,
                                  const WeightMap& weights, std::string* reason);

// Writes each override into the split of its route in `config`, keeping the split's
// declared order (so bucket ranges stay contiguous and monotone). An override that no longer
// fits (its route is gone or lost its split, or it names a pool the split no longer has) is
// not applied: it is removed from `*overrides` and described in `*dropped`.
void applyWeightOverrides(WeightOverrides* overrides, config::Bootstrap* config,
                          std::vector<std::string>* dropped);

// Parses a JSON object of pool names to whole weights ({"blue": 0, "green": 100}).
// nullopt with `*error` set when the text is not such an object or a weight is not an
// integer in 0..10000.
std::optional<WeightMap> parseWeightsJson(std::string_view text, std::string* error);

// "blue=0 green=100", for logs and change lists.
std::string describeWeights(const WeightMap& weights);

// Conversions to and from the protobuf form used by the state file and the admin API.
config::WeightOverride toProto(const WeightMap& weights);
WeightMap fromProto(const config::WeightOverride& weights);
void toProto(const WeightOverrides& overrides,
             google::protobuf::Map<std::string, config::WeightOverride>* out);
WeightOverrides fromProto(const google::protobuf::Map<std::string, config::WeightOverride>& in);

}  // namespace turnout
