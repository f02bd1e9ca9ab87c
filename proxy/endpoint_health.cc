// The health of every endpoint, shared by all workers.
#include "proxy/endpoint_health.h"

#include <algorithm>

#include "proxy/log.h"

namespace turnout {

std::string clusterIdentity(const ClusterDef& cluster) {
  // Every setting that a pool or a health state was built from: a change to any of them
  // makes a new pool and a fresh health state.
  const HealthCheckDef& check = cluster.health_check;
  const OutlierDetectionDef& outlier = cluster.outlier_detection;
  std::string identity = cluster.name;
  for (uint64_t number :
       {cluster.connect_timeout_ms, uint64_t{cluster.max_idle_connections_per_endpoint},
        uint64_t{check.enabled}, check.interval_ms, check.timeout_ms,
        uint64_t{check.healthy_threshold}, uint64_t{check.unhealthy_threshold},
        uint64_t{outlier.enabled}, uint64_t{outlier.consecutive_5xx},
        uint64_t{outlier.consecutive_gateway_failures}, outlier.base_ejection_ms,
        outlier.max_ejection_ms, uint64_t{outlier.max_ejection_percent}}) {
    identity += '|';
    identity += std::to_string(number);
  }
  identity += '|' + check.path + '|' + check.host;
  for (uint32_t status : check.expected_statuses) {
    identity += ',' + std::to_string(status);
  }
  for (const EndpointDef& endpoint : cluster.endpoints) {
    identity += '|';
    identity += endpoint.address.text;
  }
  return identity;
}

ClusterHealth::ClusterHealth(const ClusterDef& cluster)
    : name_(cluster.name), outlier_(cluster.outlier_detection) {
  for (const EndpointDef& endpoint : cluster.endpoints) {
    endpoints_.push_back(std::make_unique<EndpointHealth>());
    addresses_.push_back(endpoint.address.text);
  }
}

void ClusterHealth::record(size_t index, ExchangeOutcome outcome, uint64_t now_ms) {
  if (!outlier_.enabled || index >= endpoints_.size()) {
    return;
  }
  EndpointHealth& health = *endpoints_[index];
  switch (outcome) {
    case ExchangeOutcome::Success:
      // Stores only when needed: a shared cache line written on every request would make
      // the workers fight over it.
      if (health.consecutive_5xx.load(std::memory_order_relaxed) != 0) {
        health.consecutive_5xx.store(0, std::memory_order_relaxed);
      }
      if (health.consecutive_gateway_failures.load(std::memory_order_relaxed) != 0) {
        health.consecutive_gateway_failures.store(0, std::memory_order_relaxed);
      }
      return;
    case ExchangeOutcome::ServerError: {
      uint32_t count = health.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
      if (count >= outlier_.consecutive_5xx) {
        maybeEject(index, "consecutive 5xx responses", now_ms);
      }
      return;
    }
    case ExchangeOutcome::GatewayFailure: {
      uint32_t count =
          health.consecutive_gateway_failures.fetch_add(1, std::memory_order_relaxed) + 1;
      if (count >= outlier_.consecutive_gateway_failures) {
        maybeEject(index, "consecutive connect failures, resets or timeouts", now_ms);
      }
      return;
    }
  }
}

size_t ClusterHealth::ejectedCount(uint64_t now_ms) const {
  size_t count = 0;
  for (const auto& endpoint : endpoints_) {
    count += endpoint->ejected_until_ms.load(std::memory_order_relaxed) > now_ms ? 1 : 0;
  }
  return count;
}

void ClusterHealth::maybeEject(size_t index, const char* reason, uint64_t now_ms) {
  EndpointHealth& health = *endpoints_[index];
  uint64_t until = health.ejected_until_ms.load(std::memory_order_relaxed);
  if (until > now_ms) {
    return;  // Already out.
  }

  // The cap keeps a burst of failures (often the client's fault, or a shared dependency)
  // from emptying the whole pool; one endpoint may always go.
  size_t cap = std::max<size_t>(1, endpoints_.size() * outlier_.max_ejection_percent / 100);
  if (ejectedCount(now_ms) >= cap) {
    return;
  }

  uint32_t times = health.times_ejected.load(std::memory_order_relaxed);
  uint64_t duration = std::min(outlier_.base_ejection_ms * (times + 1), outlier_.max_ejection_ms);

  // Several workers may cross the threshold together; one of them ejects and logs.
  if (!health.ejected_until_ms.compare_exchange_strong(until, now_ms + duration)) {
    return;
  }
  health.times_ejected.fetch_add(1, std::memory_order_relaxed);
  health.consecutive_5xx.store(0, std::memory_order_relaxed);
  health.consecutive_gateway_failures.store(0, std::memory_order_relaxed);
  TURNOUT_LOG(Warn, "outlier",
              "ejecting endpoint " + addresses_[index] + " of cluster " + name_ + " for " +
                  std::to_string(duration / 1000.0).substr(0, 5) + "s after " + reason);
}

ClusterHealthPtr HealthRegistry::forCluster(const ClusterDef& cluster) {
  std::string identity = clusterIdentity(cluster);
  std::lock_guard<std::mutex> lock(mutex_);
  ClusterHealthPtr health = clusters_[identity].lock();
  if (health == nullptr) {
    health = std::make_shared<ClusterHealth>(cluster);
    clusters_[identity] = health;
  }

  // Forget identities nobody holds any more, so a long run of reloads does not grow the map.
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    it = it->second.expired() ? clusters_.erase(it) : std::next(it);
  }
  return health;
}

}  // namespace turnout
