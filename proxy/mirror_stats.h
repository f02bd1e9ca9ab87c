// What parallel runs count and keep, for GET /stats and GET /diffs: per-worker counters of
// mirrored requests (relaxed atomics, no lock), and one process-wide results store of
// comparisons, with a ring of the last differing answer pairs (mutex-protected: it is
// written once per compared copy, off the primary request's path).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/snapshot.h"
#include "filters/compare.h"

namespace turnout {

// Rows of the mirror counters: one per (route, mirror cluster) pair seen by this process.
// Row 0 takes every pair beyond the last row.
inline constexpr uint32_t kMirrorSlots = 256;

// What happened to one copy of a request (or to the decision to make one).
enum class MirrorEvent {
  Sent,                  // A copy was started.
  SkippedMethod,         // Not a safe method and the policy allows none other.
  SkippedConcurrency,    // The policy's copies in flight on this worker were at max_concurrent.
  DroppedRequestBudget,  // The copy held more than the policy's max_body_bytes.
  DroppedProxyBudget,    // All copies together held more than mirroring.max_buffered_bytes.
  DroppedClientGone,     // The client went away before its request ended.
  Failed,                // Connect failure, reset, bad answer, timeout or no endpoint.
  Answered,              // The copy's whole answer arrived.
};
inline constexpr size_t kMirrorEvents = 8;

// One worker's mirror counters. Written by its worker thread only, read by any thread.
class MirrorCounters {
 public:
  void count(uint32_t slot, MirrorEvent event) {
    counts_[slot < kMirrorSlots ? slot : 0][static_cast<size_t>(event)].fetch_add(
        1, std::memory_order_relaxed);
  }

  uint64_t read(uint32_t slot, MirrorEvent event) const {
    return counts_[slot][static_cast<size_t>(event)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::array<std::atomic<uint64_t>, kMirrorEvents>, kMirrorSlots> counts_{};
};

// One differing answer pair, as GET /diffs shows it.
struct DiffRecord {
  int64_t unix_ms = 0;
  std::string route;
  std::string cluster;  // The mirror cluster.
  std::string request_id;
  std::string request_line;  // "GET /path?query".
  int primary_status = 0;
  int candidate_status = 0;
  std::vector<std::string> kinds;  // "status", "header", "body".
  std::string differences;         // describeDifferences() lines.
  std::string primary_body;        // Both cut at mirroring.max_diff_body_bytes.
  std::string candidate_body;
  uint64_t primary_body_bytes = 0;
  uint64_t candidate_body_bytes = 0;
};

// Comparison results by row, and the last differing pairs. Any thread.
class DiffStore {
 public:
  // Applies the limits of a new snapshot; the oldest pairs go when the ring shrinks.
  void configure(const MirroringDef& limits);

  // Counts one comparison of row `slot`; keeps `record` when the answers differ (its
  // bodies are cut here).
  void record(uint32_t slot, const CompareResult& result, DiffRecord record);

  // Counts a copy that answered but could not be compared: the primary request failed or
  // its client went away.
  void recordUncompared(uint32_t slot);

  // {"diffs": [newest first...], "kept": N, "max_kept": M} as JSON text.
  std::string renderJson() const;

  // Prometheus lines of the per-row results, labelled from `labels` (by row).
  std::string renderPrometheus(
      const std::vector<std::pair<std::string, std::string>>& labels) const;

 private:
  struct Row {
    uint64_t compared = 0;
    uint64_t equal = 0;
    uint64_t different = 0;
    std::array<uint64_t, 3> by_kind{};  // Indexed by DifferenceKind.
    uint64_t noise = 0;                 // Differences the noise filter discounted.
    uint64_t uncompared = 0;
  };

  mutable std::mutex mutex_;
  std::array<Row, kMirrorSlots> rows_{};
  std::deque<DiffRecord> ring_;  // Newest at the back.
  size_t max_kept_ = 100;
  size_t max_body_bytes_ = 2048;
};

// Gives each (route, mirror cluster) pair a row for the life of the process, so counters
// stay monotonic across reloads.
class MirrorSlots {
 public:
  // Sets MirrorPolicyDef::stats_slot in every route of `snapshot`. Control side, before
  // the snapshot is published.
  void assign(Snapshot* snapshot);

  // (route, cluster) of each row, by row. Any thread.
  std::vector<std::pair<std::string, std::string>> labels() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> slots_;
  std::vector<std::pair<std::string, std::string>> labels_{{"-", "-"}};
};

// The process-wide part of mirroring, shared by the workers and the control plane.
struct MirrorHub {
  MirrorSlots slots;
  DiffStore diffs;

  // Request bytes held by every copy in flight, all workers together.
  std::atomic<uint64_t> buffered_bytes{0};

  // Assigns rows and applies the limits of a snapshot about to be published.
  void prepare(Snapshot* snapshot) {
    slots.assign(snapshot);
    diffs.configure(snapshot->mirroring);
  }
};

// Prometheus text of every mirror counter and comparison result: the workers' counters
// summed, then the results store's rows.
std::string renderMirrorStats(const MirrorHub& hub,
                              const std::vector<const MirrorCounters*>& workers);

}  // namespace turnout
