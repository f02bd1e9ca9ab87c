// The per-worker pools of upstream connections: one EndpointPool per endpoint, grouped in
// one ClusterPool per cluster. Worker loop only; no locks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "proxy/endpoint_health.h"
#include "proxy/upstream_connection.h"

namespace turnout {

class EndpointPool {
 public:
  EndpointPool(uv_loop_t* loop, const SocketAddress& address, uint64_t connect_timeout_ms,
               uint32_t max_idle, EndpointHealth* health, size_t index);
  ~EndpointPool();

  EndpointPool(const EndpointPool&) = delete;
  EndpointPool& operator=(const EndpointPool&) = delete;

  // A connection for `client`: an idle one when there is one (returned with *ready set;
  // the client may write at once), else a new one that calls onUpstreamReady or
  // onUpstreamFailure later. `fresh` skips the idle ones (a retry after a stale one).
  UpstreamConnection* acquire(UpstreamClient* client, bool fresh, bool* ready);

  // The exchange on `connection` ended. A reusable connection goes idle (the newest is
  // reused first, so the oldest age out), any other is closed.
  void release(UpstreamConnection* connection, bool reusable);

  // Called by a connection that left the idle list without being acquired (it closed).
  void removeIdle(UpstreamConnection* connection);

  // Frees a connection whose handles are closed. Only UpstreamConnection calls this.
  void destroy(UpstreamConnection* connection);

  // Closes every idle connection (worker shutdown).
  void closeIdle();

  const SocketAddress& address() const { return address_; }
  EndpointHealth& health() { return *health_; }
  size_t index() const { return index_; }
  uint32_t outstanding() const { return outstanding_; }
  uint64_t connectionsCreated() const { return connections_created_; }
  size_t idleCount() const { return idle_.size(); }
  size_t openCount() const { return connections_.size(); }

 private:
  uv_loop_t* loop_;
  SocketAddress address_;
  EndpointHealth* health_;  // Owned by the cluster's ClusterHealth, which outlives the pool.
  size_t index_;
  uint64_t connect_timeout_ms_;
  uint32_t max_idle_;
  uint32_t outstanding_ = 0;
  uint64_t connections_created_ = 0;
  std::vector<std::unique_ptr<UpstreamConnection>> connections_;
  std::vector<UpstreamConnection*> idle_;
};

class ClusterPool {
 public:
  ClusterPool(uv_loop_t* loop, const ClusterDef& cluster, ClusterHealthPtr health);

  // The available endpoint (healthy and not ejected) with the fewest outstanding
  // requests; ties go round robin. `avoid` (a retry's previous endpoint) is taken only
  // when it is the one available endpoint. nullptr when none is available. With `panic`
  // health is ignored: every endpoint counts as available.
  EndpointPool* pickEndpoint(uint64_t now_ms, const EndpointPool* avoid = nullptr,
                             bool panic = false);

  // True when at least one endpoint is available.
  bool anyAvailable(uint64_t now_ms) const;

  bool empty() const { return endpoints_.empty(); }

  // Streams holding a pointer into this pool. A pool that left the config is freed only
  // when none does (a stream may wait for a retry with no connection open).
  void addUser() { ++users_; }
  void removeUser() { --users_; }
  bool inUse() const;

  // Counts how an exchange with `endpoint` went, for passive ejection.
  void record(const EndpointPool* endpoint, ExchangeOutcome outcome, uint64_t now_ms) {
    health_->record(endpoint->index(), outcome, now_ms);
  }

  const std::string& name() const { return name_; }

  // Identifies the endpoint set, so a new snapshot can keep a pool whose cluster did not
  // change and replace one whose endpoints did.
  const std::string& identity() const { return identity_; }

  void closeIdle();

  const std::vector<std::unique_ptr<EndpointPool>>& endpoints() const { return endpoints_; }

 private:
  std::string name_;
  std::string identity_;
  ClusterHealthPtr health_;
  uint32_t users_ = 0;
  std::vector<std::unique_ptr<EndpointPool>> endpoints_;
  uint32_t next_ = 0;
};

}  // namespace turnout
