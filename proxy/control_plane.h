// Everything that changes the running config, gathered apart from the data path: the
// config manager (versions, overrides, history), the listener set, the request counter
// rows, and on the control thread the admin API and the config file watch.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config_manager.h"
#include "proxy/admin_api.h"
#include "proxy/admin_server.h"
#include "proxy/config_watcher.h"
#include "proxy/control_loop.h"
#include "proxy/listener_set.h"
#include "proxy/request_stats.h"
#include "proxy/snapshot_store.h"
#include "proxy/worker.h"

namespace turnout {

class ControlPlane {
 public:
  // `workers` exist (not necessarily started) and, like `mirror_hub`, outlive the control
  // plane.
  ControlPlane(const std::string& config_path, SnapshotStore& store,
               const std::vector<std::unique_ptr<Worker>>& workers, MirrorHub& mirror_hub);
  ~ControlPlane();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Loads the config file and the saved state, binds the listeners (the workers start
  // accepting when they run) and publishes the first version. False when the proxy must
  // not start; the reason is logged.
  bool loadInitial();

  // Opens the admin API and starts the file watch on the control thread. False when an
  // admin setting stops the start-up (an address given in the config does not bind, a
  // non-loopback address without a token, a token that cannot be read); logged.
  bool startControl();

  // The workers run: GET /ready answers 200 from now on.
  void markReady() { ready_.store(true); }

  // SIGHUP: re-reads the config file. Signal thread.
  void reloadOnSignal();

  // The workers are about to drain: GET /ready answers 503 from now on, so that a load
  // balancer stops sending new clients while in-flight requests finish.
  void markStopping() { ready_.store(false); }

  // After the workers stopped: the admin API and the file watch close.
  void stop();

 private:
  bool putIntoService(std::shared_ptr<Snapshot> snapshot, std::string* error);
  bool openAdmin(const config::Admin& admin);
  std::string requestStats() const;

  std::string config_path_;
  SnapshotStore& store_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  ListenerSet listeners_;
  StatsSlots stats_slots_;
  MirrorHub& mirror_hub_;
  std::unique_ptr<ConfigManager> manager_;
  std::atomic<bool> ready_{false};

  // Destroyed in reverse: the loop's last turn still needs the server and the watcher.
  std::unique_ptr<AdminApi> admin_api_;
  std::unique_ptr<AdminServer> admin_server_;
  std::unique_ptr<ConfigWatcher> watcher_;
  std::unique_ptr<ControlLoop> control_loop_;
};

}  // namespace turnout
