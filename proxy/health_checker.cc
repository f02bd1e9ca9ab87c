// Active health checks from one thread of their own.
#include "proxy/health_checker.h"

#include <cstdlib>

#include "proxy/log.h"
#include "proxy/read_buffer.h"

namespace turnout {
namespace {

// How often the checker looks for a new snapshot.
constexpr uint64_t kTickMs = 200;

// The status line must arrive within this many bytes.
constexpr size_t kMaxStatusLineBytes = 1024;

// "HTTP/1.1 200 OK\r\n..." -> 200; 0 when the bytes hold no complete, valid status line.
int parseStatusLine(const std::string& response) {
  size_t end = response.find('\n');
  if (end == std::string::npos || end < 12 || response.compare(0, 7, "HTTP/1.") != 0 ||
      response[8] != ' ') {
    return 0;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (response[i] < '0' || response[i] > '9') {
      return 0;
    }
    status = status * 10 + (response[i] - '0');
  }
  return status;
}

}  // namespace

// One check in flight: its socket and what it has read. Freed in the socket's close
// callback; outlives its probe if the probe is removed mid-check.
struct ProbeCheck {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  std::string request;
  std::string response;
  HealthChecker::Probe* probe = nullptr;
  bool done = false;
};

// The checks of one endpoint.
struct HealthChecker::Probe {
  Target* target = nullptr;
  size_t index = 0;
  uv_timer_t interval_timer;
  uv_timer_t timeout_timer;
  int open_handles = 2;
  ProbeCheck* current = nullptr;
  uint32_t passes_in_row = 0;
  uint32_t failures_in_row = 0;
};

// The probes of one cluster identity.
struct HealthChecker::Target {
  ClusterHealthPtr health;
  HealthCheckDef check;
  std::vector<SocketAddress> addresses;
  std::vector<Probe*> probes;  // Freed in their timers' close callbacks.
};

namespace {

void closeCheck(ProbeCheck* check) {
  uv_close(reinterpret_cast<uv_handle_t*>(&check->tcp),
           [](uv_handle_t* handle) { delete static_cast<ProbeCheck*>(handle->data); });
}

void finishCheck(ProbeCheck* check, bool passed, const std::string& why) {
  if (check->done) {
    return;
  }
  check->done = true;
  HealthChecker::Probe* probe = check->probe;
  closeCheck(check);
  if (probe == nullptr) {
    return;  // The endpoint left the config while the check ran.
  }
  probe->current = nullptr;
  uv_timer_stop(&probe->timeout_timer);

  HealthChecker::Target& target = *probe->target;
  EndpointHealth& health = target.health->endpoint(probe->index);
  const std::string& where = target.health->endpointText(probe->index);
  const std::string& cluster = target.health->clusterName();
  bool healthy = health.active_healthy.load(std::memory_order_relaxed);
  if (passed) {
    probe->failures_in_row = 0;
    ++probe->passes_in_row;
    if (!healthy && probe->passes_in_row >= target.check.healthy_threshold) {
      health.active_healthy.store(true, std::memory_order_relaxed);
      TURNOUT_LOG(Info, "health", "endpoint " + where + " of cluster " + cluster + " is healthy");
    }
    return;
  }
  probe->passes_in_row = 0;
  ++probe->failures_in_row;
  if (healthy && probe->failures_in_row >= target.check.unhealthy_threshold) {
    health.active_healthy.store(false, std::memory_order_relaxed);
    TURNOUT_LOG(Warn, "health",
                "endpoint " + where + " of cluster " + cluster + " is unhealthy: " + why);
  }
}

void onCheckRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
  auto* check = static_cast<ProbeCheck*>(stream->data);
  if (nread < 0) {
    finishCheck(check, false, "connection closed before a status line");
    return;
  }
  check->response.append(buffer->base, static_cast<size_t>(nread));
  int status = parseStatusLine(check->response);
  if (status != 0) {
    bool passed = check->probe == nullptr || check->probe->target->check.passes(status);
    finishCheck(check, passed, "status " + std::to_string(status));
  } else if (check->response.size() > kMaxStatusLineBytes ||
             check->response.find('\n') != std::string::npos) {
    finishCheck(check, false, "not an HTTP/1.x status line");
  }
}

void onCheckConnect(uv_connect_t* request, int status) {
  auto* check = static_cast<ProbeCheck*>(request->data);
  if (check->done) {
    return;
  }
  if (status < 0) {
    finishCheck(check, false, std::string("connect: ") + uv_strerror(status));
    return;
  }
  uv_buf_t buffer =
      uv_buf_init(check->request.data(), static_cast<unsigned>(check->request.size()));
  check->write.data = check;
  uv_write(&check->write, reinterpret_cast<uv_stream_t*>(&check->tcp), &buffer, 1,
           [](uv_write_t* write, int status) {
             if (status < 0) {
               finishCheck(static_cast<ProbeCheck*>(write->data), false, "write failed");
             }
           });
  uv_read_start(reinterpret_cast<uv_stream_t*>(&check->tcp), &allocReadBuffer, &onCheckRead);
}

void startCheck(HealthChecker::Probe* probe) {
  if (probe->current != nullptr) {
    return;  // The previous check is still waiting for its timeout.
  }
  HealthChecker::Target& target = *probe->target;
  auto* check = new ProbeCheck();
  check->probe = probe;
  check->tcp.data = check;
  check->connect.data = check;
  check->request = "GET " + target.check.path + " HTTP/1.1\r\nHost: " + target.check.host +
                   "\r\nUser-Agent: turnout-health-check\r\nConnection: close\r\n\r\n";
  uv_loop_t* loop = probe->interval_timer.loop;
  uv_tcp_init(loop, &check->tcp);
  probe->current = check;
  uv_timer_start(
      &probe->timeout_timer,
      [](uv_timer_t* timer) {
        auto* owner = static_cast<HealthChecker::Probe*>(timer->data);
        if (owner->current != nullptr) {
          finishCheck(owner->current, false, "timed out");
        }
      },
      target.check.timeout_ms, 0);
  int status = uv_tcp_connect(&check->connect, &check->tcp,
                              target.addresses[probe->index].sockaddrPtr(), &onCheckConnect);
  if (status < 0) {
    finishCheck(check, false, std::string("connect: ") + uv_strerror(status));
  }
}

void closeProbe(HealthChecker::Probe* probe) {
  if (probe->current != nullptr) {
    probe->current->probe = nullptr;
    finishCheck(probe->current, false, "removed");
    probe->current = nullptr;
  }
  auto onClosed = [](uv_handle_t* handle) {
    auto* owner = static_cast<HealthChecker::Probe*>(handle->data);
    if (--owner->open_handles == 0) {
      delete owner;
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&probe->interval_timer), onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&probe->timeout_timer), onClosed);
}

}  // namespace

HealthChecker::HealthChecker(const SnapshotStore& store, HealthRegistry& registry)
    : store_(store), registry_(registry) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &stop_signal_, &HealthChecker::onStop);
  uv_timer_init(&loop_, &tick_);
  stop_signal_.data = this;
  tick_.data = this;
}

HealthChecker::~HealthChecker() {
  stop();
  uv_loop_close(&loop_);
}

void HealthChecker::start() {
  thread_ = std::thread([this] {
    reconcile();
    uv_timer_start(&tick_, &HealthChecker::onTick, kTickMs, kTickMs);
    uv_run(&loop_, UV_RUN_DEFAULT);
  });
}

void HealthChecker::stop() {
  if (thread_.joinable()) {
    uv_async_send(&stop_signal_);
    thread_.join();
  }
}

void HealthChecker::onStop(uv_async_t* async) {
  static_cast<HealthChecker*>(async->data)->closeAll();
}

void HealthChecker::onTick(uv_timer_t* timer) {
  auto* self = static_cast<HealthChecker*>(timer->data);
  if (self->store_.generation() != self->generation_) {
    self->reconcile();
  }
}

void HealthChecker::reconcile() {
  generation_ = store_.generation();
  SnapshotPtr snapshot = store_.load();
  std::unordered_map<std::string, std::unique_ptr<Target>> next;
  for (const ClusterDef& cluster : snapshot->clusters) {
    if (!cluster.health_check.enabled) {
      continue;
    }
    std::string identity = clusterIdentity(cluster);
    auto found = targets_.find(identity);
    if (found != targets_.end()) {
      next.emplace(identity, std::move(found->second));
      targets_.erase(found);
      continue;
    }

    auto target = std::make_unique<Target>();
    target->health = registry_.forCluster(cluster);
    target->check = cluster.health_check;
    for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
      target->addresses.push_back(cluster.endpoints[i].address);
      auto* probe = new Probe();
      probe->target = target.get();
      probe->index = i;
      uv_timer_init(&loop_, &probe->interval_timer);
      uv_timer_init(&loop_, &probe->timeout_timer);
      probe->interval_timer.data = probe;
      probe->timeout_timer.data = probe;
      // The first check runs at once, then one per interval.
      uv_timer_start(
          &probe->interval_timer,
          [](uv_timer_t* timer) { startCheck(static_cast<Probe*>(timer->data)); }, 0,
          target->check.interval_ms);
      target->probes.push_back(probe);
    }
    next.emplace(identity, std::move(target));
  }

  // Clusters that left the config (or changed) stop being checked.
  for (auto& [identity, target] : targets_) {
    for (Probe* probe : target->probes) {
      closeProbe(probe);
    }
  }
  targets_ = std::move(next);
}

void HealthChecker::closeAll() {
  for (auto& [identity, target] : targets_) {
    for (Probe* probe : target->probes) {
      closeProbe(probe);
    }
  }
  targets_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_signal_), nullptr);
}

}  // namespace turnout
