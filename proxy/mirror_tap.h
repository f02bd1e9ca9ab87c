// The primary stream's side of a parallel run: decides which mirror policies of the route
// take this request, starts their copies, tees the request body into them, and hands the
// primary answer to their comparisons.
//
// A Stream holds one MirrorTap and calls it at a handful of points; with no mirror policy
// on the route each call is one test of an empty vector. The tap never pauses or fails
// the primary: a copy that cannot keep up is dropped by the copy itself. Worker loop only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/mirror_exchange.h"

namespace turnout {

class Stream;

class MirrorTap {
 public:
  MirrorTap() = default;
  ~MirrorTap();

  MirrorTap(const MirrorTap&) = delete;
  MirrorTap& operator=(const MirrorTap&) = delete;

  // The primary has its route, split decision, cluster and request id: start the copies
  // the route's policies ask for.
  void start(Stream& stream);

  // The request body as the client sent it (decoded), and its end.
  void onRequestBody(std::string_view bytes) {
    if (!exchanges_.empty()) {
      tee(bytes);
    }
  }
  void onRequestComplete() {
    if (!exchanges_.empty()) {
      completeRequests();
    }
  }

  // The primary answer: its head, its body and its end.
  void onPrimaryHeaders(const UpstreamResponse& response) {
    for (const MirrorComparisonPtr& comparison : comparisons_) {
      comparison->captureHead(MirrorComparison::Side::Primary, response);
    }
  }
  void onPrimaryBody(std::string_view bytes) {
    for (const MirrorComparisonPtr& comparison : comparisons_) {
      comparison->captureBody(MirrorComparison::Side::Primary, bytes);
    }
  }
  void onPrimaryComplete() {
    if (!comparisons_.empty()) {
      finishPrimary(true);
    }
  }

  // A copy ended; it is no longer teed.
  void forget(MirrorExchange* exchange);

 private:
  void tee(std::string_view bytes);
  void completeRequests();
  void finishPrimary(bool answered);
  void startPolicy(Stream& stream, const MirrorPolicyDef& policy);
  void launch(Stream& stream, const MirrorPolicyDef& policy, uint32_t cluster_index,
              MirrorComparison::Side side, const MirrorComparisonPtr& comparison);
  static std::string buildHead(const Stream& stream, const MirrorPolicyDef& policy,
                               const std::string& cluster_name);

  std::vector<MirrorExchange*> exchanges_;        // Copies still taking the request.
  std::vector<MirrorComparisonPtr> comparisons_;  // Waiting for the primary answer.
};

}  // namespace turnout
