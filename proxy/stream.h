// One stream: a request from a downstream connection, its routing decision, its exchange
// with an upstream endpoint and the response streamed back.
//
// The DownstreamConnection creates a Stream when a request head is complete, feeds it the
// request body, and is told by it when the response is done. The Stream owns no socket:
// it borrows an UpstreamConnection from a pool and writes into the downstream connection's
// outbox. Worker loop only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/snapshot.h"
#include "filters/header_rewrite.h"
#include "filters/split.h"
#include "proxy/local_reply.h"
#include "proxy/message_head.h"
#include "proxy/mirror_tap.h"
#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace turnout {

class ClusterPool;
class DownstreamConnection;
class EndpointPool;
struct RetryTimer;

// What the downstream parser knew about the request when its head was complete.
struct RequestInfo {
  std::string_view method;
  int http_minor = 1;
  bool keep_alive = true;        // The client allows another request on this connection.
  bool chunked = false;          // Transfer-Encoding: chunked.
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool expect_continue = false;  // Expect: 100-continue on an HTTP/1.1 request with a body.

  // The Upgrade value when the request asks to switch protocols (Upgrade plus a
  // "Connection: upgrade" option, RFC 9110 7.8); empty otherwise and for CONNECT.
  std::string_view upgrade;
  std::string_view client_ip;
  int64_t start_unix_ms = 0;
  uint64_t start_loop_ms = 0;
};

class Stream : public UpstreamClient, public Deferred {
 public:
  Stream(DownstreamConnection& connection, Worker& worker, SnapshotPtr snapshot,
         const ListenerDef& listener, const MessageHead& head, const RequestInfo& info);
  ~Stream() override;

  // Routes the request and either answers it locally or starts the upstream exchange.
  void start();

  // Request body bytes, decoded from the client's framing.
  void onRequestBody(std::string_view bytes);

  // The request ended (llhttp's message complete).
  void onRequestComplete();

  // After a batch of onRequestBody calls from one read: flush towards the upstream.
  void afterDownstreamRead();

  // The downstream outbox fell below the low watermark.
  void onDownstreamDrained();

  // The client is gone (read error, write error or the proxy closing the connection).
  void abort(std::string_view reason);

  // The request turned out bad while its body streamed (malformed chunk, too large):
  // answer `reply` if no response has started, else cut the connection.
  void failRequest(LocalReply reply, std::string_view detail);

  bool requestHasBody() const { return info_.chunked || info_.content_length > 0; }

  // UpstreamClient.
  void onUpstreamReady(UpstreamConnection* connection) override;
  void onUpstreamFailure(UpstreamFailure failure, bool response_seen) override;
  void onUpstreamInformational(const UpstreamResponse& response) override;
  void onUpstreamHeaders(const UpstreamResponse& response) override;
  void onUpstreamBody(std::string_view bytes) override;
  void onUpstreamComplete() override;
  void afterUpstreamRead() override;
  void onUpstreamDrained() override;
  void onUpstreamTunnelOpen(UpstreamConnection* connection, std::string_view early) override;

 private:
  // The tap reads the routing decision and the request head to build the copies.
  friend class MirrorTap;

  void parseTarget();

  // Sets tunnel_request_ from the method, the Upgrade value and the matched route (which
  // may be null). False when the request was answered locally (a refused CONNECT).
  bool decideTunnel();
  bool chooseCluster();
  int32_t spillTarget(uint64_t now_ms);
  bool replayable() const;
  bool mayRetryStale(UpstreamFailure failure, bool response_seen) const;
  bool mayRetry(UpstreamFailure failure) const;
  bool scheduleRetry();
  void onRetryTimer();
  void cancelRetryTimer();
  void buildUpstreamHead();
  void connectUpstream(bool fresh);
  void sendHead();
  // Appends the downstream head of `response` (a tunnel's 101 or 2xx included) to the
  // client's outbox, with the sticky cookie and version header.
  void writeResponseHead(const UpstreamResponse& response);
  void replyLocally(LocalReply reply, std::string_view detail);
  void finish(bool keep_alive);
  void countRequest();  // In the worker's /stats counters, once per stream.
  void writeAccessLog();

  DownstreamConnection& connection_;
  Worker& worker_;
  SnapshotPtr snapshot_;
  const ListenerDef& listener_;
  const MessageHead& head_;
  RequestInfo info_;

  // Routing.
  std::string_view target_;
  std::string_view path_;
  std::string_view query_;
  std::string_view host_;
  std::string upstream_target_;  // The origin-form of an absolute-form target.
  std::string_view upstream_host_;  // Its authority, the upstream's Host.
  const RouteDef* route_ = nullptr;
  SplitDecision decision_;
  const ClusterDef* cluster_ = nullptr;
  ClusterPool* pool_ = nullptr;  // Holds a use (ClusterPool::addUser) while set.
  EndpointPool* endpoint_ = nullptr;
  std::string request_id_;
  bool generated_request_id_ = false;

  // Exchange.
  TunnelRequest tunnel_request_ = TunnelRequest::None;  // Which answer opens a tunnel.
  UpstreamConnection* upstream_ = nullptr;
  ResponseFraming response_framing_ = ResponseFraming::NoBody;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_paused_ = false;
  bool keep_alive_ = true;
  bool stale_retried_ = false;
  bool reused_upstream_ = false;
  bool sent_continue_ = false;
  uint32_t attempts_ = 0;  // Retries made under the route's retry policy.
  RetryTimer* retry_timer_ = nullptr;
  bool finished_ = false;
  int status_ = 0;
  std::string_view error_;
  // Where the response head starts in the downstream outbox while it is not yet flushed.
  static constexpr size_t kNothingUnflushed = ~size_t{0};
  size_t unflushed_head_at_ = kNothingUnflushed;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t upstream_start_ms_ = 0;
  uint64_t upstream_end_ms_ = 0;

  // Copies of this request for the route's mirror policies.
  MirrorTap mirror_tap_;
};

}  // namespace turnout
