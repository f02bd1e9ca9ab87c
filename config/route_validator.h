// Checks one route (its match and its action) for the config validator.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "config/loader.h"
#include "config/turnout.pb.h"

namespace turnout {

// What the checks of one config share: the defined cluster names and the errors so far.
struct ValidationContext {
  std::unordered_set<std::string> cluster_names;
  std::vector<ConfigError> errors;

  void add(std::string path, std::string reason) {
    errors.push_back({std::move(path), std::move(reason)});
  }
};

// Adds to `context` every problem of `route`, whose path is `path` (e.g.
// "listeners[0].route_config.virtual_hosts[0].routes[3]").
void validateRoute(const config::Route& route, const std::string& path, ValidationContext* context);

// Adds an error for each upgrade_type that is no token or is listed twice in `list`.
void checkUpgradeConfigs(const google::protobuf::RepeatedPtrField<config::UpgradeConfig>& list,
                         const std::string& path, ValidationContext* context);

// What `list` says of the lower-case upgrade `type`: enabled, disabled, or nothing.
std::optional<bool> upgradeSetting(
    const google::protobuf::RepeatedPtrField<config::UpgradeConfig>& list,
    std::string_view type);

// Adds an error when `name` is empty or names no cluster defined in the config.
void checkClusterReference(const std::string& name, const std::string& path,
                           ValidationContext* context);

// Adds an error when a duration is negative, or zero where zero is not allowed.
void checkDuration(const google::protobuf::Duration& duration, bool zero_allowed,
                   const std::string& path, ValidationContext* context);

}  // namespace turnout
