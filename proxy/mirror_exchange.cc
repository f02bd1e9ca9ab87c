// One copy of a request to a mirror cluster, the comparison it feeds, and the worker's
// list of copies.
#include "proxy/mirror_exchange.h"

#include <cstdio>

#include "filters/text.h"
#include "proxy/access_log.h"
#include "proxy/mirror_tap.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace turnout {
namespace {

// The lines of a difference shown in GET /diffs.
constexpr size_t kMaxDiffLines = 20;

void appendChunk(std::string_view bytes, std::string* out) {
  char size[24];
  int written = snprintf(size, sizeof(size), "%zx\r\n", bytes.size());
  out->append(size, static_cast<size_t>(written));
  out->append(bytes);
  out->append("\r\n");
}

}  // namespace

// ---- MirrorComparison ----

MirrorComparison::MirrorComparison(MirrorManager& manager, Request request, bool noise_filter)
    : manager_(manager), request_(std::move(request)), pending_sides_(noise_filter ? 3 : 2) {}

void MirrorComparison::captureHead(Side side, const UpstreamResponse& response) {
  ResponseSample& kept = sample(side);
  kept.status = response.status;
  kept.headers.clear();
  for (const std::string& name : request_.policy->compare.headers) {
    std::string joined;
    bool found = false;
    for (const HeaderView& header : response.head->headers()) {
      if (equalsIgnoreCase(header.name, name)) {
        joined.append(found ? ", " : "").append(header.value);
        found = true;
      }
    }
    if (found) {
      kept.headers.emplace_back(name, std::move(joined));
    }
  }
}

void MirrorComparison::captureBody(Side side, std::string_view bytes) {
  ResponseSample& kept = sample(side);
  kept.body_bytes += bytes.size();
  const MirrorCompareDef& compare = request_.policy->compare;
  if (compare.body == MirrorCompareDef::Body::Ignore ||
      kept.body.size() >= compare.max_body_bytes) {
    return;
  }
  size_t room = compare.max_body_bytes - kept.body.size();
  kept.body.append(bytes.substr(0, room));
}

void MirrorComparison::finishSide(Side side, bool answered) {
  answered_[static_cast<size_t>(side)] = answered;
  if (--pending_sides_ == 0) {
    manager_.scheduleComparison(shared_from_this());
  }
}

void MirrorComparison::run(MirrorHub& hub) {
  const MirrorPolicyDef& policy = *request_.policy;

  // A copy that failed or was dropped is counted by the copy; a primary without an
  // answer leaves nothing to compare with.
  if (!answered_[static_cast<size_t>(Side::Candidate)]) {
    return;
  }
  if (!answered_[static_cast<size_t>(Side::Primary)]) {
    hub.diffs.recordUncompared(policy.stats_slot);
    return;
  }

  // Without the second answer of the primary's version the noise stays unknown, and every
  // difference counts.
  const ResponseSample* secondary =
      answered_[static_cast<size_t>(Side::Secondary)] ? &sample(Side::Secondary) : nullptr;
  CompareResult result =
      compareResponses(policy.compare, sample(Side::Primary), sample(Side::Candidate), secondary);

  DiffRecord record;
  if (!result.equal()) {
    record.unix_ms = request_.start_unix_ms;
    record.route = request_.route->name.empty() ? "-" : request_.route->name;
    record.cluster = request_.snapshot->clusters[policy.cluster_index].name;
    record.request_id = request_.request_id;
    record.request_line = request_.request_line;
    record.primary_status = sample(Side::Primary).status;
    record.candidate_status = sample(Side::Candidate).status;
    for (DifferenceKind kind :
         {DifferenceKind::Status, DifferenceKind::Header, DifferenceKind::Body}) {
      if (result.differs(kind)) {
        record.kinds.push_back(differenceKindName(kind));
      }
    }
    record.differences = describeDifferences(result, kMaxDiffLines);
    record.primary_body = sample(Side::Primary).body;
    record.primary_body_bytes = sample(Side::Primary).body_bytes;
    record.candidate_body = sample(Side::Candidate).body;
    record.candidate_body_bytes = sample(Side::Candidate).body_bytes;
  }
  hub.diffs.record(policy.stats_slot, result, std::move(record));
}

// ---- MirrorExchange ----

MirrorExchange::MirrorExchange(MirrorManager& manager, MirrorCopy copy, MirrorTap* tap)
    : manager_(manager), copy_(std::move(copy)), tap_(tap) {
  uv_timer_init(manager_.worker().loop(), &timer_);
  timer_.data = this;
  pending_ = std::move(copy_.head);
  manager_.add(this, copy_.policy->stats_slot);
}

MirrorExchange::~MirrorExchange() = default;

void MirrorExchange::start() {
  uv_timer_start(&timer_, &MirrorExchange::onTimer, copy_.policy->timeout_ms, 0);

  // Health decides as for the primary, but a copy never panics onto an unhealthy
  // endpoint: it is better dropped than adding load where the pool is failing.
  pool_ = manager_.worker().clusterPool(copy_.cluster_index);
  pool_->addUser();
  endpoint_ = pool_->pickEndpoint(uv_now(manager_.worker().loop()));
  if (endpoint_ == nullptr) {
    finish(Outcome::Failed, pool_->empty() ? "no_endpoint" : "no_healthy_endpoint",
           MirrorEvent::Failed);
    return;
  }

  bool ready = false;
  upstream_ = endpoint_->acquire(this, false, &ready);
  if (ready) {
    sendHead();
  }
  updateCharge();
}

void MirrorExchange::onUpstreamReady(UpstreamConnection* connection) {
  upstream_ = connection;
  sendHead();
  updateCharge();
}

void MirrorExchange::sendHead() {
  head_sent_ = true;
  upstream_start_ms_ = uv_now(manager_.worker().loop());
  upstream_->outbox().append(pending_);
  std::string().swap(pending_);
  upstream_->startRequest(copy_.head_request, copy_.policy->timeout_ms);
  if (upstream_ != nullptr && request_complete_) {
    upstream_->finishRequest();
  }
}

std::string* MirrorExchange::requestBuffer() {
  return head_sent_ && upstream_ != nullptr ? upstream_->outbox().buffer() : &pending_;
}

void MirrorExchange::teeBody(std::string_view bytes) {
  if (finished_) {
    return;
  }
  bytes_in_ += bytes.size();
  if (copy_.chunked) {
    appendChunk(bytes, requestBuffer());
  } else {
    requestBuffer()->append(bytes);
  }
  if (head_sent_ && upstream_ != nullptr) {
    upstream_->flush();
  }
  updateCharge();
}

void MirrorExchange::requestComplete() {
  if (finished_ || request_complete_) {
    return;
  }
  request_complete_ = true;
  if (copy_.chunked) {
    requestBuffer()->append("0\r\n\r\n");
  }
  if (head_sent_ && upstream_ != nullptr) {
    upstream_->finishRequest();
    upstream_->flush();
  }
  updateCharge();
}

void MirrorExchange::updateCharge() {
  if (finished_) {
    return;
  }
  uint64_t held = pending_.size();
  if (head_sent_ && upstream_ != nullptr) {
    held += upstream_->outbox().queuedBytes() + upstream_->outbox().buffer()->size();
  }
  std::atomic<uint64_t>& total = manager_.hub().buffered_bytes;
  if (held >= charged_) {
    total.fetch_add(held - charged_, std::memory_order_relaxed);
  } else {
    total.fetch_sub(charged_ - held, std::memory_order_relaxed);
  }
  charged_ = held;

  // Past a budget the copy goes, never the primary: the client must not wait for it.
  if (held > copy_.policy->max_body_bytes) {
    finish(Outcome::Dropped, "mirror_request_budget", MirrorEvent::DroppedRequestBudget);
  } else if (held > 0 &&
             total.load(std::memory_order_relaxed) > copy_.snapshot->mirroring.max_buffered_bytes) {
    finish(Outcome::Dropped, "mirror_proxy_budget", MirrorEvent::DroppedProxyBudget);
  }
}

void MirrorExchange::onUpstreamHeaders(const UpstreamResponse& response) {
  status_ = response.status;
  if (copy_.comparison != nullptr) {
    copy_.comparison->captureHead(copy_.side, response);
  }
}

void MirrorExchange::onUpstreamBody(std::string_view bytes) {
  bytes_out_ += bytes.size();
  if (copy_.comparison != nullptr) {
    copy_.comparison->captureBody(copy_.side, bytes);
  }
}

void MirrorExchange::onUpstreamComplete() {
  upstream_ = nullptr;
  finish(Outcome::Answered, "", MirrorEvent::Answered);
}

void MirrorExchange::onUpstreamFailure(UpstreamFailure failure, bool response_seen) {
  upstream_ = nullptr;
  finish(Outcome::Failed, upstreamFailureName(failure), MirrorEvent::Failed);
}

void MirrorExchange::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<MirrorExchange*>(timer->data);
  self->finish(Outcome::Failed, "mirror_timeout", MirrorEvent::Failed);
}

void MirrorExchange::streamGone() {
  tap_ = nullptr;
  if (!request_complete_) {
    finish(Outcome::Dropped, "mirror_client_gone", MirrorEvent::DroppedClientGone);
  }
}

void MirrorExchange::abort() {
  finish(Outcome::Dropped, "worker_stopping", MirrorEvent::Failed);
}

void MirrorExchange::finish(Outcome outcome, std::string_view error, MirrorEvent event) {
  if (finished_) {
    return;
  }
  finished_ = true;
  uv_timer_stop(&timer_);
  if (upstream_ != nullptr) {
    upstream_->abandon();
    upstream_ = nullptr;
  }
  manager_.hub().buffered_bytes.fetch_sub(charged_, std::memory_order_relaxed);
  charged_ = 0;
  std::string().swap(pending_);

  // Only the candidate copy counts: the noise copy goes to the primary's own cluster.
  if (copy_.side == MirrorComparison::Side::Candidate) {
    manager_.counters().count(copy_.policy->stats_slot, event);
  }
  if (copy_.comparison != nullptr) {
    copy_.comparison->finishSide(copy_.side, outcome == Outcome::Answered);
    copy_.comparison.reset();
  }
  if (tap_ != nullptr) {
    tap_->forget(this);
    tap_ = nullptr;
  }
  writeAccessLog(error);
  manager_.remove(this, copy_.policy->stats_slot);
  if (pool_ != nullptr) {
    pool_->removeUser();
    pool_ = nullptr;
  }

  // Freed once libuv is done with the timer, after the callback that ended the copy.
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &MirrorExchange::onTimerClosed);
}

void MirrorExchange::onTimerClosed(uv_handle_t* handle) {
  delete static_cast<MirrorExchange*>(handle->data);
}

void MirrorExchange::writeAccessLog(std::string_view error) {
  AccessLog& log = manager_.worker().accessLog();
  if (!log.enabled()) {
    return;
  }
  uint64_t now = uv_now(manager_.worker().loop());
  AccessRecord record;
  record.start_unix_ms = copy_.start_unix_ms;
  record.request_id = copy_.request_id;
  record.method = copy_.method;
  record.path = copy_.target;
  record.status = status_;
  record.route = copy_.route->name.empty() ? std::string_view("-") : copy_.route->name;
  record.cluster = copy_.snapshot->clusters[copy_.cluster_index].name;
  if (endpoint_ != nullptr) {
    record.endpoint = endpoint_->address().text;
  }
  record.bucket = copy_.bucket;
  record.bytes_in = bytes_in_;
  record.bytes_out = bytes_out_;
  if (head_sent_) {
    record.upstream_ms = static_cast<int64_t>(now - upstream_start_ms_);
  }
  record.total_ms = static_cast<int64_t>(now - copy_.start_loop_ms);
  record.error = error;
  record.shadow = true;
  log.append(record);
}

// ---- MirrorManager ----

MirrorManager::MirrorManager(Worker& worker, MirrorHub& hub) : worker_(worker), hub_(hub) {
  uv_idle_init(worker_.loop(), &idle_);
  idle_.data = this;
}

MirrorManager::~MirrorManager() = default;

void MirrorManager::add(MirrorExchange* exchange, uint32_t slot) {
  exchange->prev = nullptr;
  exchange->next = exchanges_;
  if (exchanges_ != nullptr) {
    exchanges_->prev = exchange;
  }
  exchanges_ = exchange;
  ++in_flight_[slot < kMirrorSlots ? slot : 0];
}

void MirrorManager::remove(MirrorExchange* exchange, uint32_t slot) {
  if (exchange->prev != nullptr) {
    exchange->prev->next = exchange->next;
  } else {
    exchanges_ = exchange->next;
  }
  if (exchange->next != nullptr) {
    exchange->next->prev = exchange->prev;
  }
  exchange->prev = exchange->next = nullptr;
  --in_flight_[slot < kMirrorSlots ? slot : 0];
}

void MirrorManager::scheduleComparison(MirrorComparisonPtr comparison) {
  if (closed_) {
    return;
  }
  waiting_.push_back(std::move(comparison));
  if (waiting_.size() == 1) {
    uv_idle_start(&idle_, &MirrorManager::onIdle);
  }
}

void MirrorManager::onIdle(uv_idle_t* idle) {
  auto* self = static_cast<MirrorManager*>(idle->data);
  uv_idle_stop(idle);
  std::vector<MirrorComparisonPtr> waiting;
  waiting.swap(self->waiting_);
  for (const MirrorComparisonPtr& comparison : waiting) {
    comparison->run(self->hub_);
  }
}

void MirrorManager::closeAll() {
  if (closed_) {
    return;
  }
  closed_ = true;
  while (exchanges_ != nullptr) {
    exchanges_->abort();
  }
  waiting_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
}

}  // namespace turnout
