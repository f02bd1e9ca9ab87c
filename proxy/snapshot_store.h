// Publishes the running Snapshot to every worker without a lock on the hot path.
//
// The control thread calls publish(); a worker calls current() once per request. current()
// compares a generation counter (one atomic load) with the worker's cached copy and takes
// the mutex only when a new snapshot was published since the worker last looked.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "config/snapshot.h"

namespace turnout {

class SnapshotStore {
 public:
  // Makes `snapshot` the running one. Any thread.
  void publish(SnapshotPtr snapshot);

  // The running snapshot. Any thread; takes the mutex.
  SnapshotPtr load() const;

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  SnapshotPtr snapshot_;
  std::atomic<uint64_t> generation_{0};
};

// A worker's cached view of a SnapshotStore. One per worker; worker thread only.
class SnapshotCache {
 public:
  explicit SnapshotCache(const SnapshotStore& store) : store_(store) {}

  // The running snapshot; refreshed from the store when its generation moved.
  const SnapshotPtr& current() {
    uint64_t generation = store_.generation();
    if (generation != generation_) {
      snapshot_ = store_.load();
      generation_ = generation;
    }
    return snapshot_;
  }

  uint64_t generation() const { return generation_; }

 private:
  const SnapshotStore& store_;
  SnapshotPtr snapshot_;
  uint64_t generation_ = ~uint64_t{0};
};

}  // namespace turnout
