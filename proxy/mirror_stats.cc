// Mirror counters, comparison results and the ring of differing pairs.
#include "proxy/mirror_stats.h"

#include "filters/json.h"
#include "proxy/request_stats.h"

namespace turnout {
namespace {

// A counter family: its name, help text, and the events it sums (with their reason label
// when there are several).
struct EventFamily {
  const char* metric;
  const char* help;
  std::vector<std::pair<MirrorEvent, const char*>> events;
};

const std::vector<EventFamily>& eventFamilies() {
  static const std::vector<EventFamily> families = {
      {"turnout_mirror_sent_total",
       "Copies of requests sent to a mirror cluster.",
       {{MirrorEvent::Sent, nullptr}}},
      {"turnout_mirror_skipped_total",
       "Copies not sent, or dropped before their end, by reason.",
       {{MirrorEvent::SkippedMethod, "method"},
        {MirrorEvent::SkippedConcurrency, "concurrency"},
        {MirrorEvent::DroppedRequestBudget, "request_budget"},
        {MirrorEvent::DroppedProxyBudget, "proxy_budget"},
        {MirrorEvent::DroppedClientGone, "client_gone"}}},
      {"turnout_mirror_failed_total",
       "Copies whose exchange failed or timed out.",
       {{MirrorEvent::Failed, nullptr}}},
      {"turnout_mirror_answered_total",
       "Copies answered in full by the mirror cluster.",
       {{MirrorEvent::Answered, nullptr}}},
  };
  return families;
}

std::string header(const char* metric, const char* help, const char* type) {
  return std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
}

std::string labelsOf(const std::pair<std::string, std::string>& row) {
  return "route=\"" + prometheusEscape(row.first) + "\",cluster=\"" + prometheusEscape(row.second) +
         "\"";
}

std::string line(const char* metric, const std::string& labels, uint64_t value) {
  return std::string(metric) + "{" + labels + "} " + std::to_string(value) + "\n";
}

void appendField(const char* name, const std::string& value, std::string* out) {
  out->append(",\"").append(name).append("\":");
  appendJsonString(value, out);
}

void appendNumberField(const char* name, uint64_t value, std::string* out) {
  out->append(",\"").append(name).append("\":").append(std::to_string(value));
}

void appendRecordJson(const DiffRecord& record, std::string* out) {
  out->append("{\"unix_ms\":").append(std::to_string(record.unix_ms));
  appendField("route", record.route, out);
  appendField("cluster", record.cluster, out);
  appendField("request_id", record.request_id, out);
  appendField("request", record.request_line, out);
  appendNumberField("primary_status", static_cast<uint64_t>(record.primary_status), out);
  appendNumberField("candidate_status", static_cast<uint64_t>(record.candidate_status), out);
  out->append(",\"kinds\":[");
  for (size_t i = 0; i < record.kinds.size(); ++i) {
    out->append(i == 0 ? "" : ",");
    appendJsonString(record.kinds[i], out);
  }
  out->append("]");
  appendField("differences", record.differences, out);
  appendField("primary_body", record.primary_body, out);
  appendNumberField("primary_body_bytes", record.primary_body_bytes, out);
  appendField("candidate_body", record.candidate_body, out);
  appendNumberField("candidate_body_bytes", record.candidate_body_bytes, out);
  out->append("}");
}

}  // namespace

void DiffStore::configure(const MirroringDef& limits) {
  std::lock_guard<std::mutex> lock(mutex_);
  max_kept_ = limits.max_kept_diffs;
  max_body_bytes_ = limits.max_diff_body_bytes;
  while (ring_.size() > max_kept_) {
    ring_.pop_front();
  }
}

void DiffStore::record(uint32_t slot, const CompareResult& result, DiffRecord record) {
  slot = slot < kMirrorSlots ? slot : 0;
  std::lock_guard<std::mutex> lock(mutex_);
  Row& row = rows_[slot];
  ++row.compared;
  row.noise += result.noise;
  if (result.equal()) {
    ++row.equal;
    return;
  }
  ++row.different;
  for (DifferenceKind kind :
       {DifferenceKind::Status, DifferenceKind::Header, DifferenceKind::Body}) {
    row.by_kind[static_cast<size_t>(kind)] += result.differs(kind) ? 1 : 0;
  }
  if (max_kept_ == 0) {
    return;
  }
  record.primary_body.resize(std::min(record.primary_body.size(), max_body_bytes_));
  record.candidate_body.resize(std::min(record.candidate_body.size(), max_body_bytes_));
  ring_.push_back(std::move(record));
  if (ring_.size() > max_kept_) {
    ring_.pop_front();
  }
}

void DiffStore::recordUncompared(uint32_t slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++rows_[slot < kMirrorSlots ? slot : 0].uncompared;
}

std::string DiffStore::renderJson() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"kept\":" + std::to_string(ring_.size()) +
                    ",\"max_kept\":" + std::to_string(max_kept_) + ",\"diffs\":[";
  for (auto it = ring_.rbegin(); it != ring_.rend(); ++it) {
    out.append(it == ring_.rbegin() ? "\n" : ",\n");
    appendRecordJson(*it, &out);
  }
  out.append("]}\n");
  return out;
}

std::string DiffStore::renderPrometheus(
    const std::vector<std::pair<std::string, std::string>>& labels) const {
  struct Family {
    const char* metric;
    const char* help;
    uint64_t Row::*field;
  };
  static constexpr Family kFamilies[] = {
      {"turnout_mirror_compared_total", "Copies whose answer was compared with the primary.",
       &Row::compared},
      {"turnout_mirror_equal_total", "Compared copies with no counted difference.", &Row::equal},
      {"turnout_mirror_different_total", "Compared copies with a counted difference.",
       &Row::different},
      {"turnout_mirror_noise_total", "Differences discounted by the noise filter.", &Row::noise},
      {"turnout_mirror_uncompared_total",
       "Answered copies not compared: the primary request failed or was cut.", &Row::uncompared},
  };
  constexpr DifferenceKind kKinds[] = {DifferenceKind::Status, DifferenceKind::Header,
                                       DifferenceKind::Body};

  std::lock_guard<std::mutex> lock(mutex_);
  size_t rows = std::min<size_t>(labels.size(), kMirrorSlots);
  std::string out;
  for (const Family& family : kFamilies) {
    out += header(family.metric, family.help, "counter");
    for (size_t slot = 0; slot < rows; ++slot) {
      if (rows_[slot].compared != 0 || rows_[slot].uncompared != 0) {
        out += line(family.metric, labelsOf(labels[slot]), rows_[slot].*family.field);
      }
    }
  }
  out += header("turnout_mirror_differences_total",
                "Compared copies differing in this part (status, header or body).", "counter");
  for (size_t slot = 0; slot < rows; ++slot) {
    for (DifferenceKind kind : kKinds) {
      if (rows_[slot].compared != 0) {
        out += line("turnout_mirror_differences_total",
                    labelsOf(labels[slot]) + ",kind=\"" + differenceKindName(kind) + "\"",
                    rows_[slot].by_kind[static_cast<size_t>(kind)]);
      }
    }
  }
  return out;
}

void MirrorSlots::assign(Snapshot* snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (ListenerDef& listener : snapshot->listeners) {
    for (VirtualHostDef& host : listener.route_table.virtual_hosts) {
      for (RouteDef& route : host.routes) {
        for (MirrorPolicyDef& policy : route.mirrors) {
          std::string route_name = route.name.empty() ? "-" : route.name;
          const std::string& cluster = snapshot->clusters[policy.cluster_index].name;

          // Names cannot contain NUL through the config, so it separates them unambiguously.
          std::string key = route_name + '\0' + cluster;
          auto found = slots_.find(key);
          if (found != slots_.end()) {
            policy.stats_slot = found->second;
          } else if (labels_.size() < kMirrorSlots) {
            policy.stats_slot = static_cast<uint32_t>(labels_.size());
            labels_.emplace_back(route_name, cluster);
            slots_.emplace(std::move(key), policy.stats_slot);
          }
        }
      }
    }
  }
}

std::vector<std::pair<std::string, std::string>> MirrorSlots::labels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return labels_;
}

std::string renderMirrorStats(const MirrorHub& hub,
                              const std::vector<const MirrorCounters*>& workers) {
  std::vector<std::pair<std::string, std::string>> labels = hub.slots.labels();
  std::string out;
  for (const EventFamily& family : eventFamilies()) {
    out += header(family.metric, family.help, "counter");
    for (uint32_t slot = 0; slot < labels.size(); ++slot) {
      for (const auto& [event, reason] : family.events) {
        uint64_t sum = 0;
        for (const MirrorCounters* counters : workers) {
          sum += counters->read(slot, event);
        }
        if (sum == 0) {
          continue;
        }
        std::string name = labelsOf(labels[slot]);
        out += line(family.metric, reason == nullptr ? name : name + ",reason=\"" + reason + "\"",
                    sum);
      }
    }
  }
  out += hub.diffs.renderPrometheus(labels);
  out +=
      header("turnout_mirror_buffered_bytes", "Request bytes held by copies in flight.", "gauge");
  out += "turnout_mirror_buffered_bytes " +
         std::to_string(hub.buffered_bytes.load(std::memory_order_relaxed)) + "\n";
  return out;
}

}  // namespace turnout
