// Starts a request's copies for the route's mirror policies and feeds them.
#include "proxy/mirror_tap.h"

#include <algorithm>

#include "filters/header_rewrite.h"
#include "filters/text.h"
#include "proxy/stream.h"

namespace turnout {
namespace {

// Safe methods (RFC 9110 9.2.1): a copy of one changes no state in the mirror cluster.
bool isSafeMethod(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

}  // namespace

MirrorTap::~MirrorTap() {
  if (!comparisons_.empty()) {
    finishPrimary(false);
  }
  for (MirrorExchange* exchange : exchanges_) {
    if (exchange != nullptr) {
      exchange->streamGone();
    }
  }
}

void MirrorTap::start(Stream& stream) {
  for (const MirrorPolicyDef& policy : stream.route_->mirrors) {
    startPolicy(stream, policy);
  }
}

// The request head of a copy: the primary's, built for the copy's cluster, with Host
// rewritten when the policy says so and the shadow mark last (writeUpstreamRequestHead
// drops a client's own).
std::string MirrorTap::buildHead(const Stream& stream, const MirrorPolicyDef& policy,
                                 const std::string& cluster_name) {
  std::vector<HeaderView> headers;
  headers.reserve(stream.head_.headers().size() + 1);
  bool host_seen = false;
  for (const HeaderView& header : stream.head_.headers()) {
    if (!policy.host_rewrite.empty() && equalsIgnoreCase(header.name, "host")) {
      headers.push_back({header.name, policy.host_rewrite});
      host_seen = true;
      continue;
    }
    headers.push_back(header);
  }
  if (!policy.host_rewrite.empty() && !host_seen) {
    headers.push_back({"host", policy.host_rewrite});
  }

  const RequestInfo& info = stream.info_;
  UpstreamRequestHead head;
  head.method = info.method;
  head.target = stream.target_;
  head.headers = headers;
  head.client_ip = info.client_ip;
  head.request_id =
      stream.generated_request_id_ ? std::string_view(stream.request_id_) : std::string_view();
  if (info.chunked) {
    head.framing = RequestFraming::Chunked;
  } else if (info.has_content_length) {
    head.framing = RequestFraming::ContentLength;
    head.content_length = info.content_length;
  }
  head.decision_headers = &stream.listener_.route_table.decision_headers;
  head.cluster_name = cluster_name;
  head.bucket = stream.decision_.bucket;

  std::string out;
  writeUpstreamRequestHead(head, &out);
  out.resize(out.size() - 2);  // Reopens the head: drops the empty line that ends it.
  out.append(kShadowHeader).append(": 1\r\n\r\n");
  return out;
}

void MirrorTap::startPolicy(Stream& stream, const MirrorPolicyDef& policy) {
  // The bucket decides, so a hashed user is mirrored on every request or never.
  if (stream.decision_.bucket >= policy.bucket_limit) {
    return;
  }

  MirrorManager& manager = stream.worker_.mirrors();
  uint32_t slot = policy.stats_slot;
  bool noise_filter = policy.compare.enabled && policy.compare.noise_filter;
  if (!policy.allow_unsafe_methods && !isSafeMethod(stream.info_.method)) {
    manager.counters().count(slot, MirrorEvent::SkippedMethod);
    return;
  }
  if (manager.inFlight(slot) + (noise_filter ? 2 : 1) > policy.max_concurrent) {
    manager.counters().count(slot, MirrorEvent::SkippedConcurrency);
    return;
  }
  const Snapshot& snapshot = *stream.snapshot_;
  if (manager.hub().buffered_bytes.load(std::memory_order_relaxed) >=
      snapshot.mirroring.max_buffered_bytes) {
    manager.counters().count(slot, MirrorEvent::DroppedProxyBudget);
    return;
  }

  MirrorComparisonPtr comparison;
  if (policy.compare.enabled) {
    MirrorComparison::Request request;
    request.snapshot = stream.snapshot_;
    request.route = stream.route_;
    request.policy = &policy;
    request.request_id = stream.request_id_;
    request.request_line = std::string(stream.info_.method) + " " + std::string(stream.target_);
    request.start_unix_ms = stream.info_.start_unix_ms;
    comparison = std::make_shared<MirrorComparison>(manager, std::move(request), noise_filter);
    comparisons_.push_back(comparison);
  }

  manager.counters().count(slot, MirrorEvent::Sent);
  launch(stream, policy, policy.cluster_index, MirrorComparison::Side::Candidate, comparison);
  if (noise_filter) {
    auto primary_cluster = static_cast<uint32_t>(stream.cluster_ - snapshot.clusters.data());
    launch(stream, policy, primary_cluster, MirrorComparison::Side::Secondary, comparison);
  }
}

void MirrorTap::launch(Stream& stream, const MirrorPolicyDef& policy, uint32_t cluster_index,
                       MirrorComparison::Side side, const MirrorComparisonPtr& comparison) {
  MirrorCopy copy;
  copy.snapshot = stream.snapshot_;
  copy.route = stream.route_;
  copy.policy = &policy;
  copy.cluster_index = cluster_index;
  copy.side = side;
  copy.comparison = comparison;
  copy.head = buildHead(stream, policy, stream.snapshot_->clusters[cluster_index].name);
  copy.chunked = stream.info_.chunked;
  copy.head_request = stream.info_.method == "HEAD";
  copy.method = stream.info_.method;
  copy.target = stream.target_;
  copy.request_id = stream.request_id_;
  copy.bucket = stream.decision_.bucket;
  copy.start_unix_ms = stream.info_.start_unix_ms;
  copy.start_loop_ms = stream.info_.start_loop_ms;

  // A request without a body is complete with its head: the copy needs nothing more
  // from the stream. The copy frees itself when it ends (MirrorExchange::finish).
  bool teed = stream.requestHasBody();
  auto* exchange =
      new MirrorExchange(stream.worker_.mirrors(), std::move(copy), teed ? this : nullptr);
  if (teed) {
    exchanges_.push_back(exchange);
  } else {
    exchange->requestComplete();
  }
  exchange->start();
}

void MirrorTap::tee(std::string_view bytes) {
  for (MirrorExchange* exchange : exchanges_) {
    if (exchange != nullptr) {
      exchange->teeBody(bytes);
    }
  }
}

void MirrorTap::completeRequests() {
  for (MirrorExchange* exchange : exchanges_) {
    if (exchange != nullptr) {
      exchange->requestComplete();
    }
  }

  // Complete copies need nothing more from the stream and may outlive it.
  for (MirrorExchange* exchange : exchanges_) {
    if (exchange != nullptr) {
      exchange->streamGone();
    }
  }
  exchanges_.clear();
}

void MirrorTap::finishPrimary(bool answered) {
  for (const MirrorComparisonPtr& comparison : comparisons_) {
    comparison->finishSide(MirrorComparison::Side::Primary, answered);
  }
  comparisons_.clear();
}

void MirrorTap::forget(MirrorExchange* exchange) {
  // Entries are cleared, not erased: forget() may run inside a loop over the entries.
  std::replace(exchanges_.begin(), exchanges_.end(), exchange,
               static_cast<MirrorExchange*>(nullptr));
}

}  // namespace turnout
