// Describes what changed between two configs.
#include "config/config_diff.h"

#include <google/protobuf/util/message_differencer.h>

#include <map>

#include "config/runtime_rules.h"

namespace turnout {
namespace {

using google::protobuf::util::MessageDifferencer;

// Named items of a repeated field by name, so that a reordering is not reported as a
// change of every item.
template <typename Item>
std::map<std::string, const Item*> byName(const google::protobuf::RepeatedPtrField<Item>& items) {
  std::map<std::string, const Item*> named;
  for (const Item& item : items) {
    named.emplace(item.name(), &item);
  }
  return named;
}

// "added", "removed" and "changed" lines for the items of one kind. `changed` describes
// an item present on both sides whose content differs; it returns "" for no change.
template <typename Item, typename Describe>
void diffNamed(const char* kind, const google::protobuf::RepeatedPtrField<Item>& before,
               const google::protobuf::RepeatedPtrField<Item>& after, Describe changed,
               std::vector<std::string>* lines) {
  auto old_items = byName(before);
  auto new_items = byName(after);
  for (const auto& [name, item] : old_items) {
    if (new_items.find(name) == new_items.end()) {
      lines->push_back(std::string(kind) + " " + name + ": removed");
    }
  }
  for (const auto& [name, item] : new_items) {
    auto old = old_items.find(name);
    if (old == old_items.end()) {
      lines->push_back(std::string(kind) + " " + name + ": added");
      continue;
    }
    std::string what = changed(*old->second, *item);
    if (!what.empty()) {
      lines->push_back(std::string(kind) + " " + name + ": " + what);
    }
  }
}

std::string describeListener(const config::Listener& before, const config::Listener& after) {
  if (before.address() != after.address()) {
    return "address " + before.address() + " -> " + after.address();
  }
  if (MessageDifferencer::Equals(before, after)) {
    return "";
  }

  // A change of weights alone is described per route; anything else in the routes is
  // summarised, since a full route diff would drown the log line.
  config::Listener a = before;
  config::Listener b = after;
  for (auto* listener : {&a, &b}) {
    for (auto& host : *listener->mutable_route_config()->mutable_virtual_hosts()) {
      for (auto& route : *host.mutable_routes()) {
        for (auto& entry :
             *route.mutable_route()->mutable_weighted_clusters()->mutable_clusters()) {
          entry.clear_weight();
        }
      }
    }
  }
  return MessageDifferencer::Equals(a, b) ? "" : "routes or limits changed";
}

std::string describeCluster(const config::Cluster& before, const config::Cluster& after) {
  if (MessageDifferencer::Equals(before, after)) {
    return "";
  }
  bool same_endpoints = before.endpoints_size() == after.endpoints_size();
  for (int i = 0; same_endpoints && i < before.endpoints_size(); ++i) {
    same_endpoints = before.endpoints(i).address() == after.endpoints(i).address();
  }
  return same_endpoints ? "settings changed" : "endpoints changed";
}

std::string splitText(const config::WeightedCluster& split) {
  std::string text;
  for (const config::ClusterWeight& entry : split.clusters()) {
    text += (text.empty() ? "" : " ") + entry.name() + "=" + std::to_string(entry.weight());
  }
  return text;
}

const config::WeightedCluster* splitOf(const config::Bootstrap& config,
                                       const WeightedRouteRef& ref) {
  return &config.listeners(ref.listener)
              .route_config()
              .virtual_hosts(ref.virtual_host)
              .routes(ref.route)
              .route()
              .weighted_clusters();
}

void diffWeights(const config::Bootstrap& before, const config::Bootstrap& after,
                 std::vector<std::string>* lines) {
  std::map<std::string, std::string> old_splits;
  for (const WeightedRouteRef& ref : listWeightedRoutes(before)) {
    old_splits.emplace(ref.name, splitText(*splitOf(before, ref)));
  }
  for (const WeightedRouteRef& ref : listWeightedRoutes(after)) {
    std::string now = splitText(*splitOf(after, ref));
    auto old = old_splits.find(ref.name);
    if (old != old_splits.end() && old->second != now) {
      lines->push_back("route " + ref.name + ": weights " + old->second + " -> " + now);
    }
  }
}

void diffSection(const char* name, const char* note, const google::protobuf::Message& before,
                 const google::protobuf::Message& after, std::vector<std::string>* lines) {
  if (!MessageDifferencer::Equals(before, after)) {
    lines->push_back(std::string(name) + " " + note);
  }
}

}  // namespace

std::vector<std::string> describeChanges(const config::Bootstrap& before,
                                         const config::Bootstrap& after) {
  std::vector<std::string> lines;
  diffNamed("listener", before.listeners(), after.listeners(), describeListener, &lines);
  diffNamed("cluster", before.clusters(), after.clusters(), describeCluster, &lines);
  diffWeights(before, after, &lines);
  // The access log and the admin API are opened once, at start-up.
  diffSection("access_log", "changed; takes effect after a restart", before.access_log(),
              after.access_log(), &lines);
  diffSection("admin", "changed; takes effect after a restart", before.admin(), after.admin(),
              &lines);
  diffSection("runtime", "changed", before.runtime(), after.runtime(), &lines);
  return lines;
}

}  // namespace turnout
