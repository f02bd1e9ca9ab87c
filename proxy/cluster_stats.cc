// Latency histograms, pool connection counts and realised splits for GET /stats.
#include "proxy/cluster_stats.h"

#include <cstdio>
#include <map>

#include "proxy/upstream_pool.h"

namespace turnout {
namespace {

std::string seconds(uint64_t millis) {
  char text[32];
  snprintf(text, sizeof(text), "%.3f", static_cast<double>(millis) / 1000.0);
  return text;
}

std::string ratio(double value) {
  char text[32];
  snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

std::string clusterLabel(const std::string& cluster) {
  return "cluster=\"" + prometheusEscape(cluster) + "\"";
}

std::string routeClusterLabels(const std::string& route, const std::string& cluster) {
  return "route=\"" + prometheusEscape(route.empty() ? "-" : route) + "\"," + clusterLabel(cluster);
}

// A histogram merged over workers and over every row of one cluster.
struct Histogram {
  std::array<uint64_t, kLatencyBoundsMs.size() + 1> buckets{};
  uint64_t sum_ms = 0;
};

}  // namespace

void LatencyCounters::observe(uint32_t slot, uint64_t millis) {
  slot = slot < kStatsSlots ? slot : 0;
  size_t index = 0;
  while (index < kLatencyBoundsMs.size() && millis > kLatencyBoundsMs[index]) {
    ++index;
  }
  buckets_[slot][index].fetch_add(1, std::memory_order_relaxed);
  sum_ms_[slot].fetch_add(millis, std::memory_order_relaxed);
}

void PoolGauges::publish(const std::vector<const ClusterPool*>& pools) {
  std::unordered_map<std::string, PoolGauge> counted;
  for (const auto& [name, created] : retired_created_) {
    counted[name].created = created;
  }
  for (const ClusterPool* pool : pools) {
    PoolGauge& gauge = counted[pool->name()];
    for (const auto& endpoint : pool->endpoints()) {
      gauge.idle += endpoint->idleCount();
      gauge.active += endpoint->openCount() - endpoint->idleCount();
      gauge.created += endpoint->connectionsCreated();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  published_ = std::move(counted);
}

void PoolGauges::retire(const ClusterPool& pool) {
  for (const auto& endpoint : pool.endpoints()) {
    retired_created_[pool.name()] += endpoint->connectionsCreated();
  }
}

std::unordered_map<std::string, PoolGauge> PoolGauges::read() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_;
}

std::string renderLatency(const StatsSlots& slots,
                          const std::vector<const LatencyCounters*>& workers) {
  std::vector<std::pair<std::string, std::string>> labels = slots.labels();
  std::map<std::string, Histogram> clusters;
  for (uint32_t slot = 1; slot < labels.size(); ++slot) {
    Histogram& histogram = clusters[labels[slot].second];
    for (const LatencyCounters* counters : workers) {
      for (size_t i = 0; i < histogram.buckets.size(); ++i) {
        histogram.buckets[i] += counters->bucket(slot, i);
      }
      histogram.sum_ms += counters->sumMillis(slot);
    }
  }

  std::string out =
      "# HELP turnout_request_duration_seconds Time from a request's head to the end of its "
      "answer, by the cluster that served it.\n"
      "# TYPE turnout_request_duration_seconds histogram\n";
  for (const auto& [cluster, histogram] : clusters) {
    std::string name = clusterLabel(cluster);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < histogram.buckets.size(); ++i) {
      cumulative += histogram.buckets[i];
      std::string bound = i < kLatencyBoundsMs.size() ? seconds(kLatencyBoundsMs[i]) : "+Inf";
      out += "turnout_request_duration_seconds_bucket{" + name + ",le=\"" + bound + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "turnout_request_duration_seconds_sum{" + name + "} " + seconds(histogram.sum_ms) + "\n";
    out +=
        "turnout_request_duration_seconds_count{" + name + "} " + std::to_string(cumulative) + "\n";
  }
  return out;
}

std::string renderPools(const std::vector<const PoolGauges*>& workers) {
  std::map<std::string, PoolGauge> clusters;
  for (const PoolGauges* gauges : workers) {
    for (const auto& [name, gauge] : gauges->read()) {
      PoolGauge& sum = clusters[name];
      sum.active += gauge.active;
      sum.idle += gauge.idle;
      sum.created += gauge.created;
    }
  }

  std::string out =
      "# HELP turnout_upstream_connections Open upstream connections by cluster and state.\n"
      "# TYPE turnout_upstream_connections gauge\n";
  for (const auto& [cluster, gauge] : clusters) {
    out += "turnout_upstream_connections{" + clusterLabel(cluster) + ",state=\"active\"} " +
           std::to_string(gauge.active) + "\n";
    out += "turnout_upstream_connections{" + clusterLabel(cluster) + ",state=\"idle\"} " +
           std::to_string(gauge.idle) + "\n";
  }
  out +=
      "# HELP turnout_upstream_connections_created_total Upstream connections opened.\n"
      "# TYPE turnout_upstream_connections_created_total counter\n";
  for (const auto& [cluster, gauge] : clusters) {
    out += "turnout_upstream_connections_created_total{" + clusterLabel(cluster) + "} " +
           std::to_string(gauge.created) + "\n";
  }
  return out;
}

std::string renderSplits(const Snapshot& snapshot,
                         const std::vector<const RequestCounters*>& workers) {
  auto requests = [&workers](uint32_t slot) {
    uint64_t sum = 0;
    for (const RequestCounters* counters : workers) {
      for (size_t column = 0; column < kStatusClasses; ++column) {
        sum += counters->read(slot, static_cast<StatusClass>(column));
      }
    }
    return sum;
  };

  std::string weights =
      "# HELP turnout_split_weight Configured weight of each cluster of a weighted route.\n"
      "# TYPE turnout_split_weight gauge\n";
  std::string observed =
      "# HELP turnout_split_observed_ratio Share of the route's finished requests each "
      "cluster served since the start, to set beside the weights.\n"
      "# TYPE turnout_split_observed_ratio gauge\n";
  for (const ListenerDef& listener : snapshot.listeners) {
    for (const VirtualHostDef& host : listener.route_table.virtual_hosts) {
      for (const RouteDef& route : host.routes) {
        if (route.shares.size() < 2) {
          continue;
        }
        uint64_t total = 0;
        for (const ClusterShare& share : route.shares) {
          total += requests(share.stats_slot);
        }
        for (const ClusterShare& share : route.shares) {
          std::string labels =
              routeClusterLabels(route.name, snapshot.clusters[share.cluster_index].name);
          weights += "turnout_split_weight{" + labels + "} " + std::to_string(share.weight) + "\n";
          double share_ratio =
              total == 0 ? 0.0 : static_cast<double>(requests(share.stats_slot)) / total;
          observed += "turnout_split_observed_ratio{" + labels + "} " + ratio(share_ratio) + "\n";
        }
      }
    }
  }
  return weights + observed;
}

}  // namespace turnout
