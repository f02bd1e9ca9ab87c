// Per-worker request counters and their Prometheus text.
#include "proxy/request_stats.h"

namespace turnout {

StatusClass statusClassOf(int status) {
  switch (status / 100) {
    case 2:
      return StatusClass::S2xx;
    case 3:
      return StatusClass::S3xx;
    case 4:
      return StatusClass::S4xx;
    case 5:
      return StatusClass::S5xx;
    default:
      return StatusClass::Other;
  }
}

const char* statusClassName(StatusClass status_class) {
  switch (status_class) {
    case StatusClass::S2xx:
      return "2xx";
    case StatusClass::S3xx:
      return "3xx";
    case StatusClass::S4xx:
      return "4xx";
    case StatusClass::S5xx:
      return "5xx";
    case StatusClass::Other:
      return "other";
  }
  return "other";
}

StatsSlots::StatsSlots() {
  labels_.emplace_back("-", "-");
}

uint32_t StatsSlots::slotFor(const std::string& route, const std::string& cluster) {
  // Names cannot contain NUL through the config, so it separates the two unambiguously.
  std::string key = route + '\0' + cluster;
  auto found = slots_.find(key);
  if (found != slots_.end()) {
    return found->second;
  }
  if (labels_.size() >= kStatsSlots) {
    return 0;
  }
  uint32_t slot = static_cast<uint32_t>(labels_.size());
  labels_.emplace_back(route, cluster);
  slots_.emplace(std::move(key), slot);
  return slot;
}

void StatsSlots::assign(Snapshot* snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (ListenerDef& listener : snapshot->listeners) {
    for (VirtualHostDef& host : listener.route_table.virtual_hosts) {
      for (RouteDef& route : host.routes) {
        for (ClusterShare& share : route.shares) {
          const std::string& cluster = snapshot->clusters[share.cluster_index].name;
          share.stats_slot = slotFor(route.name.empty() ? "-" : route.name, cluster);
        }
      }
    }
  }
}

std::vector<std::pair<std::string, std::string>> StatsSlots::labels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return labels_;
}

std::string prometheusEscape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string renderRequestCounters(const StatsSlots& slots,
                                  const std::vector<const RequestCounters*>& workers) {
  std::string out =
      "# HELP turnout_requests_total Finished requests by route, cluster and status class.\n"
      "# TYPE turnout_requests_total counter\n";
  std::vector<std::pair<std::string, std::string>> labels = slots.labels();
  for (uint32_t slot = 0; slot < labels.size(); ++slot) {
    for (size_t column = 0; column < kStatusClasses; ++column) {
      auto status_class = static_cast<StatusClass>(column);
      uint64_t sum = 0;
      for (const RequestCounters* counters : workers) {
        sum += counters->read(slot, status_class);
      }
      if (sum == 0) {
        continue;
      }
      out += "turnout_requests_total{route=\"" + prometheusEscape(labels[slot].first) +
             "\",cluster=\"" + prometheusEscape(labels[slot].second) + "\",class=\"" +
             statusClassName(status_class) + "\"} " + std::to_string(sum) + "\n";
    }
  }
  return out;
}

}  // namespace turnout
