// Active health checks: one thread with its own loop sends an HTTP GET to every endpoint
// of every cluster that asks for it, and flips the endpoint's shared health after enough
// passed or failed checks in a row. Checks run once per process, not once per worker.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "proxy/endpoint_health.h"
#include "proxy/snapshot_store.h"

namespace turnout {

class HealthChecker {
 public:
  HealthChecker(const SnapshotStore& store, HealthRegistry& registry);
  ~HealthChecker();

  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();

  // Stops the checks and joins the thread. Any thread but the checker's own.
  void stop();

  struct Probe;
  struct Target;

 private:
  static void onStop(uv_async_t* async);
  static void onTick(uv_timer_t* timer);

  // Matches the probes to the clusters of the running snapshot.
  void reconcile();
  void closeAll();

  const SnapshotStore& store_;
  HealthRegistry& registry_;
  uv_loop_t loop_;
  uv_async_t stop_signal_;
  uv_timer_t tick_;
  std::thread thread_;
  uint64_t generation_ = ~uint64_t{0};
  std::unordered_map<std::string, std::unique_ptr<Target>> targets_;
};

}  // namespace turnout
