// The copies of a request that a parallel run sends to a mirror cluster, and what they
// share with the primary request for the comparison.
//
// A MirrorExchange is one copy: it borrows a connection from the mirror cluster's pool
// (never the primary's connection), writes the request head and the teed body, reads the
// answer, and keeps what its comparison needs. It belongs to the worker, not to the
// primary's Stream, so it can outlive the stream: it ends by itself (answer, failure,
// timeout or drop), writes its access-log line and is freed in its timer's close callback.
// Nothing it does reaches the client or the primary's connection. Worker loop only.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.h"
#include "filters/compare.h"
#include "proxy/mirror_stats.h"
#include "proxy/upstream_connection.h"

namespace turnout {

class ClusterPool;
class EndpointPool;
class MirrorManager;
class MirrorTap;
class Worker;

// The answers one policy compares for one request: the primary's, the candidate copy's,
// and with the noise filter a second copy from the primary's cluster. Shared by the
// stream's tap and the copies; the last side to finish hands it to the manager, which
// runs the comparison after the current callbacks.
class MirrorComparison : public std::enable_shared_from_this<MirrorComparison> {
 public:
  enum class Side { Primary, Candidate, Secondary };

  struct Request {
    SnapshotPtr snapshot;  // Keeps the route and the policy alive.
    const RouteDef* route = nullptr;
    const MirrorPolicyDef* policy = nullptr;
    std::string request_id;
    std::string request_line;
    int64_t start_unix_ms = 0;
  };

  MirrorComparison(MirrorManager& manager, Request request, bool noise_filter);

  // Keeps what the policy compares of an answer's head and body.
  void captureHead(Side side, const UpstreamResponse& response);
  void captureBody(Side side, std::string_view bytes);

  // The side's answer is complete (`answered`) or will never be.
  void finishSide(Side side, bool answered);

  // Compares and records the result. Called by the manager once every side finished.
  void run(MirrorHub& hub);

 private:
  ResponseSample& sample(Side side) { return samples_[static_cast<size_t>(side)]; }

  MirrorManager& manager_;
  Request request_;
  std::array<ResponseSample, 3> samples_;
  std::array<bool, 3> answered_{};
  uint32_t pending_sides_ = 0;
};

using MirrorComparisonPtr = std::shared_ptr<MirrorComparison>;

// Everything one copy needs, built by the tap when the primary starts.
struct MirrorCopy {
  SnapshotPtr snapshot;
  const RouteDef* route = nullptr;
  const MirrorPolicyDef* policy = nullptr;
  uint32_t cluster_index = 0;  // The mirror cluster, or the primary's for a noise copy.
  MirrorComparison::Side side = MirrorComparison::Side::Candidate;
  MirrorComparisonPtr comparison;  // Null: the policy compares nothing.
  std::string head;                // The serialized request head.
  bool chunked = false;            // The body goes chunked (as the client sent it).
  bool head_request = false;
  std::string method;
  std::string target;
  std::string request_id;
  uint32_t bucket = 0;
  int64_t start_unix_ms = 0;
  uint64_t start_loop_ms = 0;
};

class MirrorExchange : public UpstreamClient {
 public:
  MirrorExchange(MirrorManager& manager, MirrorCopy copy, MirrorTap* tap);
  ~MirrorExchange() override;

  MirrorExchange(const MirrorExchange&) = delete;
  MirrorExchange& operator=(const MirrorExchange&) = delete;

  // Picks an endpoint and connects (or takes an idle connection) and starts the timer.
  void start();

  // A piece of the request body as the client sent it (decoded); framed again here.
  void teeBody(std::string_view bytes);

  // The request's last byte was teed.
  void requestComplete();

  // The primary stream is gone. A copy whose request is still incomplete can never end
  // it, so it is dropped.
  void streamGone();

  // Ends the copy at once (worker shutdown).
  void abort();

  // UpstreamClient.
  void onUpstreamReady(UpstreamConnection* connection) override;
  void onUpstreamFailure(UpstreamFailure failure, bool response_seen) override;
  void onUpstreamInformational(const UpstreamResponse& response) override {}
  void onUpstreamHeaders(const UpstreamResponse& response) override;
  void onUpstreamBody(std::string_view bytes) override;
  void onUpstreamComplete() override;
  void afterUpstreamRead() override {}
  void onUpstreamDrained() override { updateCharge(); }

  // Intrusive list of the manager's copies.
  MirrorExchange* prev = nullptr;
  MirrorExchange* next = nullptr;

 private:
  // How a copy ended, for its counters and its access-log line.
  enum class Outcome { Answered, Failed, Dropped };

  static void onTimer(uv_timer_t* timer);
  static void onTimerClosed(uv_handle_t* handle);

  void sendHead();

  // Where request bytes go: the connection's outbox once the head went, else pending_.
  std::string* requestBuffer();
  void updateCharge();
  void finish(Outcome outcome, std::string_view error, MirrorEvent event);
  void writeAccessLog(std::string_view error);

  MirrorManager& manager_;
  MirrorCopy copy_;
  MirrorTap* tap_;
  uv_timer_t timer_;
  ClusterPool* pool_ = nullptr;  // Holds a use (ClusterPool::addUser) while set.
  EndpointPool* endpoint_ = nullptr;
  UpstreamConnection* upstream_ = nullptr;
  std::string pending_;     // Request bytes waiting for the connection.
  uint64_t charged_ = 0;    // Bytes counted in MirrorHub::buffered_bytes.
  bool head_sent_ = false;  // The head went to the connection; the body follows it there.
  bool request_complete_ = false;
  bool finished_ = false;
  int status_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t upstream_start_ms_ = 0;
};

// A worker's copies in flight: their list (closed at shutdown), their count per policy
// row (for max_concurrent), and the comparisons waiting to run.
class MirrorManager {
 public:
  MirrorManager(Worker& worker, MirrorHub& hub);
  ~MirrorManager();

  MirrorManager(const MirrorManager&) = delete;
  MirrorManager& operator=(const MirrorManager&) = delete;

  Worker& worker() { return worker_; }
  MirrorHub& hub() { return hub_; }
  MirrorCounters& counters() { return counters_; }
  const MirrorCounters& counters() const { return counters_; }

  uint32_t inFlight(uint32_t slot) const { return in_flight_[slot < kMirrorSlots ? slot : 0]; }

  void add(MirrorExchange* exchange, uint32_t slot);
  void remove(MirrorExchange* exchange, uint32_t slot);

  // Runs `comparison` once the current callbacks have returned: comparing is never done
  // on the primary's path.
  void scheduleComparison(MirrorComparisonPtr comparison);

  // Ends every copy and drops the waiting comparisons (worker shutdown).
  void closeAll();

 private:
  static void onIdle(uv_idle_t* idle);

  Worker& worker_;
  MirrorHub& hub_;
  MirrorCounters counters_;
  std::array<uint32_t, kMirrorSlots> in_flight_{};
  MirrorExchange* exchanges_ = nullptr;  // Intrusive list head.
  std::vector<MirrorComparisonPtr> waiting_;
  uv_idle_t idle_;
  bool closed_ = false;
};

}  // namespace turnout
