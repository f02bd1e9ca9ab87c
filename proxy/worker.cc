// A worker thread: one libuv loop with its own listeners, connections and upstream pools.
#include "proxy/worker.h"

#include <unistd.h>


#include "filters/split.h"
#include "proxy/downstream_connection.h"
#include "proxy/log.h"
#include "proxy/mirror_exchange.h"

namespace turnout {
namespace {

// How often the worker flushes its access log and frees pools that left the config.
constexpr uint64_t kTickMs = 100;

}  // namespace

Worker::Worker(int id, const SnapshotStore& store, const AccessLogSink& sink,
               HealthRegistry& health, MirrorHub* mirror_hub)
    : id_(id),
      snapshots_(store),
      health_(health),
      access_log_(sink),
      random_(std::random_device{}()) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &stop_signal_, &Worker::onStopSignal);
  uv_async_init(&loop_, &tasks_signal_, &Worker::onTasks);
  tasks_signal_.data = this;
  uv_timer_init(&loop_, &tick_);
  uv_timer_init(&loop_, &drain_timer_);
  uv_check_init(&loop_, &check_);
  stop_signal_.data = this;
  tick_.data = this;
  drain_timer_.data = this;
  check_.data = this;
  if (mirror_hub == nullptr) {
    own_mirror_hub_ = std::make_unique<MirrorHub>();
    mirror_hub = own_mirror_hub_.get();
  }
  mirrors_ = std::make_unique<MirrorManager>(*this, *mirror_hub);
}

Worker::~Worker() {
  if (thread_.joinable()) {
    thread_.join();
  } else {
    // The worker never ran (start-up failed after it was made): close its handles and
    // turn the loop until their close callbacks ran, so that uv_loop_close frees it all.
    beginDrain();
    closeEverything();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
}

void Worker::addListener(const std::string& name, int fd) {
  auto listener = std::make_unique<ListenerSocket>();
  listener->name = name;
  listener->fd = fd;
  listener->worker = this;
  uv_tcp_init(&loop_, &listener->handle);
  listener->handle.data = listener.get();
  uv_tcp_open(&listener->handle, fd);
  listeners_.push_back(std::move(listener));
}

void Worker::post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(tasks_mutex_);
  if (tasks_closed_) {
    return;
  }
  tasks_.push_back(std::move(task));
  uv_async_send(&tasks_signal_);
}

void Worker::onTasks(uv_async_t* async) { static_cast<Worker*>(async->data)->runTasks(); }

void Worker::runTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) {
    task();
  }
}

void Worker::startListener(const std::string& name, int fd) {
  // A worker that is stopping takes no new listener; the socket is closed instead.
  if (draining_) {
    close(fd);
    return;
  }
  addListener(name, fd);
  ListenerSocket* listener = listeners_.back().get();
  int status = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), 1024,
                         &Worker::onConnection);
  if (status < 0) {
    TURNOUT_LOG(Error, "worker", "listening on " + name + ": " + uv_strerror(status));
  }
}

void Worker::stopListener(const std::string& name) {
  // The socket leaves the list now (so that a drain does not close it twice) and is freed
  // in its close callback.
  for (size_t i = 0; i < listeners_.size();) {
    if (listeners_[i]->name != name) {
      ++i;
      continue;
    }
    ListenerSocket* listener = listeners_[i].release();
    listeners_.erase(listeners_.begin() + static_cast<std::ptrdiff_t>(i));
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), &Worker::onListenerClosed);
  }
}

void Worker::onListenerClosed(uv_handle_t* handle) {
  delete static_cast<ListenerSocket*>(handle->data);
}

void Worker::countRequest(const RouteDef* route, const SplitDecision* decision, int status,
                          uint64_t millis) {
  uint32_t slot = 0;
  if (route != nullptr && decision != nullptr) {
    for (const ClusterShare& share : route->shares) {
      slot = share.cluster_index == decision->cluster_index ? share.stats_slot : slot;
    }
  }
  counters_.count(slot, status);
  latency_.observe(slot, millis);
}

const MirrorCounters& Worker::mirrorCounters() const { return mirrors_->counters(); }

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  for (auto& listener : listeners_) {
    int status = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), 1024,
                           &Worker::onConnection);
    if (status < 0) {
      TURNOUT_LOG(Error, "worker", "listening on " + listener->name + ": " + uv_strerror(status));
    }
  }
  uv_timer_start(&tick_, &Worker::onTick, kTickMs, kTickMs);
  uv_check_start(&check_, &Worker::onCheck);
  uv_run(&loop_, UV_RUN_DEFAULT);
  access_log_.flush();
}

void Worker::requestStop(uint64_t drain_ms) {
  drain_ms_.store(drain_ms);
  uv_async_send(&stop_signal_);
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::onStopSignal(uv_async_t* async) { static_cast<Worker*>(async->data)->beginDrain(); }

void Worker::beginDrain() {
  if (draining_) {
    return;
  }
  draining_ = true;
  for (auto& listener : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), nullptr);
  }

  // Idle connections close now; busy ones close after their current response.
  DownstreamConnection* connection = connections_;
  while (connection != nullptr) {
    DownstreamConnection* next = connection->next;
    connection->drain();
    connection = next;
  }
  uv_timer_start(&drain_timer_, &Worker::onDrainDeadline, drain_ms_.load(), 0);
}

void Worker::onDrainDeadline(uv_timer_t* timer) {
  static_cast<Worker*>(timer->data)->closeEverything();
}

void Worker::closeEverything() {
  if (closing_) {
    return;
  }
  closing_ = true;
  DownstreamConnection* connection = connections_;
  while (connection != nullptr) {
    DownstreamConnection* next = connection->next;
    connection->closeNow();
    connection = next;
  }
  for (auto& [name, pool] : pools_) {
    pool->closeIdle();
  }
  for (auto& pool : retired_pools_) {
    pool->closeIdle();
  }
  mirrors_->closeAll();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_signal_), nullptr);
  {
    // post() must not signal a closed handle; what is queued now never runs.
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks_closed_ = true;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tasks_signal_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  access_log_.flush();
  graveyard_.clear();
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* listener = static_cast<ListenerSocket*>(server->data);
  Worker* self = listener->worker;
  if (status < 0) {
    TURNOUT_LOG(Warn, "worker", "accepting on " + listener->name + ": " + uv_strerror(status));
    return;
  }
  auto* connection = new DownstreamConnection(*self, listener->name);
  connection->accept(server);
}

void Worker::onTick(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  self->access_log_.flush();

  // A worker picks up a new snapshot with its next request; an idle one picks it up here,
  // so that the idle connections of a cluster that left or changed close within a tick.
  self->snapshot();
  self->sweepRetiredPools();
  self->publishPoolGauges();
  if (self->draining_ && self->connection_count_ == 0) {
    self->closeEverything();
  }
}

void Worker::onCheck(uv_check_t* check) {
  auto* self = static_cast<Worker*>(check->data);
  self->graveyard_.clear();
}

void Worker::deferDelete(std::unique_ptr<Deferred> object) {
  if (object != nullptr) {
    graveyard_.push_back(std::move(object));
  }
}

void Worker::addConnection(DownstreamConnection* connection) {
  connection->next = connections_;
  connection->prev = nullptr;
  if (connections_ != nullptr) {
    connections_->prev = connection;
  }
  connections_ = connection;
  ++connection_count_;
}

void Worker::removeConnection(DownstreamConnection* connection) {
  if (connection->prev != nullptr) {
    connection->prev->next = connection->next;
  } else {
    connections_ = connection->next;
  }
  if (connection->next != nullptr) {
    connection->next->prev = connection->prev;
  }
  --connection_count_;
  if (draining_ && connection_count_ == 0) {
    closeEverything();
  }
}

const SnapshotPtr& Worker::snapshot() {
  uint64_t before = snapshots_.generation();
  const SnapshotPtr& snapshot = snapshots_.current();
  if (snapshots_.generation() != before) {
    rebuildPools(*snapshot);
  }
  return snapshot;
}

void Worker::rebuildPools(const Snapshot& snapshot) {
  std::unordered_map<std::string, std::unique_ptr<ClusterPool>> kept;
  pools_by_index_.clear();
  for (const ClusterDef& cluster : snapshot.clusters) {
    auto found = pools_.find(cluster.name);
    std::unique_ptr<ClusterPool> pool;
    if (found != pools_.end() && found->second->identity() == clusterIdentity(cluster)) {
      pool = std::move(found->second);
      pools_.erase(found);
    } else {
      pool = std::make_unique<ClusterPool>(&loop_, cluster, health_.forCluster(cluster));
    }
    pools_by_index_.push_back(pool.get());
    kept.emplace(cluster.name, std::move(pool));
  }

  // Pools of clusters that left (or changed) serve their in-flight streams to the end and
  // are freed by the tick once their last connection has closed.
  for (auto& [name, pool] : pools_) {
    pool->closeIdle();
    retired_pools_.push_back(std::move(pool));
  }
  pools_ = std::move(kept);
}

void Worker::sweepRetiredPools() {
  for (size_t i = 0; i < retired_pools_.size();) {
    if (retired_pools_[i]->inUse()) {
      ++i;
      continue;
    }
    pool_gauges_.retire(*retired_pools_[i]);
    retired_pools_[i] = std::move(retired_pools_.back());
    retired_pools_.pop_back();
  }
}

void Worker::publishPoolGauges() {
  std::vector<const ClusterPool*> pools;
  for (const auto& [name, pool] : pools_) {
    pools.push_back(pool.get());
  }
  for (const auto& pool : retired_pools_) {
    pools.push_back(pool.get());
  }
  pool_gauges_.publish(pools);
}

uint32_t Worker::randomBucket() { return static_cast<uint32_t>(random_() % kBucketCount); }

void Worker::appendRequestId(std::string* out) {
  uint64_t high = random_();
  uint64_t low = random_();
  // Version 4, variant 10 (RFC 9562 5.4).
  high = (high & ~uint64_t{0xf000}) | 0x4000;
  low = (low & ~(uint64_t{0xc} << 60)) | (uint64_t{0x8} << 60);

  // Written by hand: snprintf cost more than writing the rest of the request head.
  static constexpr char kHex[] = "0123456789abcdef";
  char text[36];
  size_t at = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20) {
      text[at++] = '-';
    }
    uint64_t word = nibble < 16 ? high : low;
    text[at++] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xf];
  }
  out->append(text, sizeof(text));
}

}  // namespace turnout
