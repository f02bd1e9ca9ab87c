// The per-worker pools of upstream connections.
#include "proxy/upstream_pool.h"

#include <algorithm>

namespace turnout {

EndpointPool::EndpointPool(uv_loop_t* loop, const SocketAddress& address,
                           uint64_t connect_timeout_ms, uint32_t max_idle,
                           EndpointHealth* health, size_t index)
    : loop_(loop),
      address_(address),
      health_(health),
      index_(index),
      connect_timeout_ms_(connect_timeout_ms),
      max_idle_(max_idle) {}

EndpointPool::~EndpointPool() = default;

UpstreamConnection* EndpointPool::acquire(UpstreamClient* client, bool fresh, bool* ready) {
  ++outstanding_;
  if (!fresh && !idle_.empty()) {
    UpstreamConnection* connection = idle_.back();
    idle_.pop_back();
    connection->attach(client);
    *ready = true;
    return connection;
  }

  connections_.push_back(std::make_unique<UpstreamConnection>(loop_, this));
  ++connections_created_;
  UpstreamConnection* connection = connections_.back().get();
  *ready = false;
  connection->connect(client, connect_timeout_ms_);
  return connection;
}

void EndpointPool::release(UpstreamConnection* connection, bool reusable) {
  if (outstanding_ > 0) {
    --outstanding_;
  }
  if (reusable && idle_.size() < max_idle_) {
    idle_.push_back(connection);
    return;
  }
  connection->close();
}

void EndpointPool::removeIdle(UpstreamConnection* connection) {
  auto it = std::find(idle_.begin(), idle_.end(), connection);
  if (it != idle_.end()) {
    idle_.erase(it);
  }
}

void EndpointPool::destroy(UpstreamConnection* connection) {
  removeIdle(connection);
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [connection](const auto& owned) { return owned.get() == connection; });
  if (it != connections_.end()) {
    // Swap-and-pop: the order of connections_ carries no meaning.
    std::swap(*it, connections_.back());
    connections_.pop_back();
  }
}

void EndpointPool::closeIdle() {
  std::vector<UpstreamConnection*> idle;
  idle.swap(idle_);
  for (UpstreamConnection* connection : idle) {
    connection->close();
  }
}

ClusterPool::ClusterPool(uv_loop_t* loop, const ClusterDef& cluster, ClusterHealthPtr health)
    : name_(cluster.name), identity_(clusterIdentity(cluster)), health_(std::move(health)) {
  for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
    endpoints_.push_back(std::make_unique<EndpointPool>(
        loop, cluster.endpoints[i].address, cluster.connect_timeout_ms,
        cluster.max_idle_connections_per_endpoint, &health_->endpoint(i), i));
  }
}

EndpointPool* ClusterPool::pickEndpoint(uint64_t now_ms, const EndpointPool* avoid,
                                        bool panic) {
  if (endpoints_.empty()) {
    return nullptr;
  }

  // Start the scan at a rotating position so that endpoints tied on outstanding requests
  // take turns.
  size_t count = endpoints_.size();
  size_t start = next_++ % count;
  EndpointPool* best = nullptr;
  EndpointPool* fallback = nullptr;
  for (size_t i = 0; i < count; ++i) {
    EndpointPool* candidate = endpoints_[(start + i) % count].get();
    if (!panic && !candidate->health().available(now_ms)) {
      continue;
    }
    if (candidate == avoid) {
      fallback = candidate;
      continue;
    }
    if (best == nullptr || candidate->outstanding() < best->outstanding()) {
      best = candidate;
    }
  }
  return best != nullptr ? best : fallback;
}

bool ClusterPool::inUse() const {
  if (users_ > 0) {
    return true;
  }
  for (const auto& endpoint : endpoints_) {
    if (endpoint->openCount() > 0 || endpoint->outstanding() > 0) {
      return true;
    }
  }
  return false;
}

bool ClusterPool::anyAvailable(uint64_t now_ms) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->health().available(now_ms)) {
      return true;
    }
  }
  return false;
}

void ClusterPool::closeIdle() {
  for (auto& endpoint : endpoints_) {
    endpoint->closeIdle();
  }
}

}  // namespace turnout
