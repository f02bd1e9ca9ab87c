// Per-cluster figures for GET /stats beside the request counters: latency histograms of
// finished requests, the upstream connections of each pool, and each split's configured
// weights next to the share of requests each cluster really got.
//
// A worker writes its histograms with relaxed atomic increments (no lock on the request
// path) and publishes its pools' connection counts on its 100 ms tick (a mutex the admin
// thread shares, never taken by a request). The admin thread renders.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/snapshot.h"
#include "proxy/request_stats.h"

namespace turnout {

class ClusterPool;

// Upper bounds of the latency buckets, in milliseconds; a last bucket takes the rest.
inline constexpr std::array<uint64_t, 13> kLatencyBoundsMs = {1,   2,   5,    10,   25,   50,   100,
                                                              250, 500, 1000, 2500, 5000, 10000};

// One worker's latency histograms, one per request counter row (route, cluster).
class LatencyCounters {
 public:
  void observe(uint32_t slot, uint64_t millis);

  uint64_t bucket(uint32_t slot, size_t index) const {
    return buckets_[slot][index].load(std::memory_order_relaxed);
  }
  uint64_t sumMillis(uint32_t slot) const { return sum_ms_[slot].load(std::memory_order_relaxed); }

 private:
  std::array<std::array<std::atomic<uint64_t>, kLatencyBoundsMs.size() + 1>, kStatsSlots>
      buckets_{};
  std::array<std::atomic<uint64_t>, kStatsSlots> sum_ms_{};
};

// The connections of one cluster's pool on one worker.
struct PoolGauge {
  uint64_t active = 0;   // Open and serving a request (or connecting).
  uint64_t idle = 0;     // Open and waiting in the pool.
  uint64_t created = 0;  // Ever opened by this worker, pools of earlier configs included.
};

// A worker's latest pool counts by cluster name, published on its tick.
class PoolGauges {
 public:
  // Worker thread: counts `pools` (current and retired) and publishes the result.
  void publish(const std::vector<const ClusterPool*>& pools);

  // Worker thread: a retired pool is about to be freed; its connections stay counted.
  void retire(const ClusterPool& pool);

  // Any thread.
  std::unordered_map<std::string, PoolGauge> read() const;

 private:
  std::unordered_map<std::string, uint64_t> retired_created_;  // Worker thread only.
  mutable std::mutex mutex_;
  std::unordered_map<std::string, PoolGauge> published_;
};

// Prometheus text of the latency histograms, summed over workers and merged by cluster:
// turnout_request_duration_seconds{cluster}.
std::string renderLatency(const StatsSlots& slots,
                          const std::vector<const LatencyCounters*>& workers);

// turnout_upstream_connections{cluster,state="active|idle"} and
// turnout_upstream_connections_created_total{cluster}, summed over workers.
std::string renderPools(const std::vector<const PoolGauges*>& workers);

// turnout_split_weight{route,cluster} (configured, from `snapshot`) and
// turnout_split_observed_ratio{route,cluster} (the share of the route's finished requests
// each cluster served since the start), for the weighted routes of `snapshot`.
std::string renderSplits(const Snapshot& snapshot,
                         const std::vector<const RequestCounters*>& workers);

}  // namespace turnout
