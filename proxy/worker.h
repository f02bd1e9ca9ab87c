// A worker thread: one libuv loop with its own listening sockets (SO_REUSEPORT), its own
// downstream connections and its own upstream pools, so the request path takes no lock.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "proxy/access_log.h"
#include "proxy/cluster_stats.h"
#include "proxy/mirror_stats.h"
#include "proxy/request_stats.h"
#include "proxy/snapshot_store.h"
#include "proxy/upstream_pool.h"

namespace turnout {

class DownstreamConnection;
class MirrorManager;
struct SplitDecision;

// Anything freed only after the callback that ended it has returned.
class Deferred {
 public:
  virtual ~Deferred() = default;
};

class Worker {
 public:
  // `mirror_hub` is shared by the workers of a process; null gives this worker its own.
  Worker(int id, const SnapshotStore& store, const AccessLogSink& sink,
         HealthRegistry& health, MirrorHub* mirror_hub = nullptr);
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Adds a bound, listening socket of the listener `name`; the worker owns the fd from now
  // on. Before start() only.
  void addListener(const std::string& name, int fd);

  // Runs the loop on a new thread.
  void start();

  // Stops accepting, lets in-flight requests finish for up to `drain_ms`, then closes what
  // is left and ends the loop. Any thread.
  void requestStop(uint64_t drain_ms);

  void join();

  // Runs `task` on the worker's loop, in the order posted. Any thread. Tasks posted before
  // start() run when the loop starts; tasks posted after the loop ended are dropped.
  void post(std::function<void()> task);

  // Request counters of this worker, summed by the admin thread for GET /stats.
  const RequestCounters& counters() const { return counters_; }

  // Mirror counters of this worker, summed by the admin thread for GET /stats.
  const MirrorCounters& mirrorCounters() const;

  // Latency histograms and pool connection counts, for GET /stats.
  const LatencyCounters& latency() const { return latency_; }
  const PoolGauges& poolGauges() const { return pool_gauges_; }

  // --- Worker thread only from here on. ---

  uv_loop_t* loop() { return &loop_; }
  int id() const { return id_; }

  // The running snapshot. When it changed since the last call, the worker's cluster pools
  // are matched to the new clusters first (unchanged clusters keep their warm pools).
  const SnapshotPtr& snapshot();

  // The pool of cluster `index` of the snapshot last returned by snapshot().
  ClusterPool* clusterPool(uint32_t index) { return pools_by_index_[index]; }

  uint32_t randomBucket();

  // Appends a random UUID (version 4) to `out`.
  void appendRequestId(std::string* out);

  AccessLog& accessLog() { return access_log_; }

  // The copies of requests this worker sends to mirror clusters (parallel runs).
  MirrorManager& mirrors() { return *mirrors_; }

  // Frees `object` at the end of this loop iteration.
  void deferDelete(std::unique_ptr<Deferred> object);

  // True once a stop was requested: connections close after their current response.
  bool draining() const { return draining_; }

  // Starts accepting on `fd`, a bound socket of listener `name`, added by a reload; the
  // worker owns the fd from now on. Stops accepting on every socket of listener `name`;
  // its open connections go on. Worker thread only (through post()).
  void startListener(const std::string& name, int fd);
  void stopListener(const std::string& name);

  // Counts a finished stream under its route and the cluster of `decision` (null: no
  // cluster was chosen; route null: no route matched), with its duration in milliseconds.
  void countRequest(const RouteDef* route, const SplitDecision* decision, int status,
                    uint64_t millis);

  void addConnection(DownstreamConnection* connection);
  void removeConnection(DownstreamConnection* connection);

 private:
  struct ListenerSocket {
    std::string name;
    int fd = -1;
    uv_tcp_t handle;
    Worker* worker = nullptr;
  };

  static void onConnection(uv_stream_t* server, int status);
  static void onStopSignal(uv_async_t* async);
  static void onTasks(uv_async_t* async);
  static void onListenerClosed(uv_handle_t* handle);
  static void onTick(uv_timer_t* timer);
  static void onCheck(uv_check_t* check);
  static void onDrainDeadline(uv_timer_t* timer);

  void run();
  void runTasks();
  void beginDrain();
  void closeEverything();
  void rebuildPools(const Snapshot& snapshot);
  void sweepRetiredPools();
  void publishPoolGauges();

  int id_;
  SnapshotCache snapshots_;
  HealthRegistry& health_;
  AccessLog access_log_;
  uv_loop_t loop_;
  uv_async_t stop_signal_;
  uv_async_t tasks_signal_;
  uv_timer_t tick_;
  uv_timer_t drain_timer_;
  uv_check_t check_;
  std::thread thread_;
  std::vector<std::unique_ptr<ListenerSocket>> listeners_;
  std::atomic<uint64_t> drain_ms_{0};
  bool draining_ = false;
  bool closing_ = false;

  std::unordered_map<std::string, std::unique_ptr<ClusterPool>> pools_;
  std::vector<std::unique_ptr<ClusterPool>> retired_pools_;
  std::vector<ClusterPool*> pools_by_index_;

  // Before the graveyard: a stream freed there still tells its copies it is gone.
  std::unique_ptr<MirrorHub> own_mirror_hub_;
  std::unique_ptr<MirrorManager> mirrors_;
  std::vector<std::unique_ptr<Deferred>> graveyard_;
  DownstreamConnection* connections_ = nullptr;  // Intrusive list head.
  size_t connection_count_ = 0;
  std::mt19937_64 random_;

  std::mutex tasks_mutex_;
  std::vector<std::function<void()>> tasks_;
  bool tasks_closed_ = false;
  RequestCounters counters_;
  LatencyCounters latency_;
  PoolGauges pool_gauges_;
};

}  // namespace turnout
