// The health of every endpoint, shared by all workers: what active checks concluded and
// whether live traffic got an endpoint ejected (passive outlier detection).
//
// Workers read it on every pick and write it after every exchange, so it is all relaxed
// atomics; nothing here takes a lock on the request path. Health is kept per cluster
// *identity* (name and endpoint list): a reload that leaves a cluster unchanged keeps its
// health, one that changes its endpoints starts it fresh.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/snapshot.h"

namespace turnout {

struct EndpointHealth {
  std::atomic<bool> active_healthy{true};
  std::atomic<uint64_t> ejected_until_ms{0};  // Monotonic ms (uv_now); 0: never ejected.
  std::atomic<uint32_t> consecutive_5xx{0};
  std::atomic<uint32_t> consecutive_gateway_failures{0};
  std::atomic<uint32_t> times_ejected{0};

  bool available(uint64_t now_ms) const {
    return active_healthy.load(std::memory_order_relaxed) &&
           ejected_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }
};

// How one exchange with an endpoint went, as passive detection counts it.
enum class ExchangeOutcome {
  Success,         // A response below 500.
  ServerError,     // A 5xx response.
  GatewayFailure,  // Connect failure or timeout, reset, bad response or response timeout.
};

class ClusterHealth {
 public:
  explicit ClusterHealth(const ClusterDef& cluster);

  const std::string& clusterName() const { return name_; }
  size_t size() const { return endpoints_.size(); }
  EndpointHealth& endpoint(size_t index) { return *endpoints_[index]; }
  const std::string& endpointText(size_t index) const { return addresses_[index]; }

  // Counts `outcome` for endpoint `index` and ejects it when a threshold is reached and
  // the ejection cap allows. Any worker thread.
  void record(size_t index, ExchangeOutcome outcome, uint64_t now_ms);

  // Endpoints ejected right now.
  size_t ejectedCount(uint64_t now_ms) const;

 private:
  void maybeEject(size_t index, const char* reason, uint64_t now_ms);

  std::string name_;
  OutlierDetectionDef outlier_;
  std::vector<std::unique_ptr<EndpointHealth>> endpoints_;
  std::vector<std::string> addresses_;
};

using ClusterHealthPtr = std::shared_ptr<ClusterHealth>;

// Hands out the shared ClusterHealth of a cluster identity. Any thread (takes a mutex; only
// called when a snapshot changes, never per request).
class HealthRegistry {
 public:
  ClusterHealthPtr forCluster(const ClusterDef& cluster);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<ClusterHealth>> clusters_;
};

// The identity of a cluster's endpoint set: its name, settings and endpoint addresses.
std::string clusterIdentity(const ClusterDef& cluster);

}  // namespace turnout
