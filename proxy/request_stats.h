// Request counters for GET /stats: each worker counts finished streams by (route, cluster)
// and status class in its own fixed array, with one relaxed atomic increment and no lock,
// map or allocation on the request path; the admin thread sums the workers' arrays.
//
// Streams are counted when their response is finished. A stream that ends otherwise (the
// client went away, the upstream reset the connection in the middle of the response) is
// not counted: those show only in the access log.
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

namespace turnout {

// Rows of the counters: one per (route, cluster) pair ever seen by this process. Row 0
// holds the streams that no share took (no route matched, refused before the split) and
// every pair beyond the last row.
inline constexpr uint32_t kStatsSlots = 1024;

// Columns: 1xx and unknown statuses fall into "other".
enum class StatusClass { S2xx, S3xx, S4xx, S5xx, Other };
inline constexpr size_t kStatusClasses = 5;

StatusClass statusClassOf(int status);
const char* statusClassName(StatusClass status_class);

// One worker's counters. Written by its worker thread only, read by any thread.
class RequestCounters {
 public:
  void count(uint32_t slot, int status) {
    size_t column = static_cast<size_t>(statusClassOf(status));
    counts_[slot < kStatsSlots ? slot : 0][column].fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t read(uint32_t slot, StatusClass status_class) const {
    return counts_[slot][static_cast<size_t>(status_class)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::array<std::atomic<uint64_t>, kStatusClasses>, kStatsSlots> counts_{};
};

// Gives each (route, cluster) pair a row, for the life of the process, so that counters
// stay monotonic across reloads (what Prometheus expects of a counter).
class StatsSlots {
 public:
  StatsSlots();

  // Sets ClusterShare::stats_slot in every route of `snapshot`. Control side, before the
  // snapshot is published.
  void assign(Snapshot* snapshot);

  // (route, cluster) of each row, by row. Any thread.
  std::vector<std::pair<std::string, std::string>> labels() const;

 private:
  uint32_t slotFor(const std::string& route, const std::string& cluster);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> slots_;
  std::vector<std::pair<std::string, std::string>> labels_;
};

// The counters of every worker as Prometheus text lines of turnout_requests_total, one per
// (route, cluster, class) with a non-zero count.
std::string renderRequestCounters(const StatsSlots& slots,
                                  const std::vector<const RequestCounters*>& workers);

// A Prometheus label value with '\', '"' and newlines escaped.
std::string prometheusEscape(const std::string& value);

}  // namespace turnout
