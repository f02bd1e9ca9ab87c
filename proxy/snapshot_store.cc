// Publishes the running Snapshot to every worker.
#include "proxy/snapshot_store.h"

namespace turnout {

void SnapshotStore::publish(SnapshotPtr snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  snapshot_ = std::move(snapshot);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

SnapshotPtr SnapshotStore::load() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

}  // namespace turnout
