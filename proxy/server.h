// The process: loads the config, binds the listeners, runs the workers, and turns signals
// into reloads (SIGHUP) and graceful stops (SIGTERM, SIGINT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/access_log.h"
#include "proxy/control_plane.h"
#include "proxy/endpoint_health.h"
#include "proxy/health_checker.h"
#include "proxy/snapshot_store.h"
#include "proxy/worker.h"

namespace turnout {

struct ServerOptions {
  std::string config_path;
  int workers = 0;  // 0: one per core.
  uint64_t drain_timeout_ms = 5000;
};

class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) {}

  // Runs until SIGTERM or SIGINT. Returns the process exit code: 0 after a clean stop,
  // 1 when the config is invalid or a listener cannot be bound (the reason is logged).
  int run();

 private:
  int waitForSignals();

  ServerOptions options_;
  SnapshotStore store_;
  AccessLogSink access_log_;
  HealthRegistry health_;
  MirrorHub mirror_hub_;  // Before the workers and the control plane that use it.
  std::unique_ptr<HealthChecker> health_checker_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<ControlPlane> control_;  // After workers_: destroyed first.
};

}  // namespace turnout
