// One stream: a request, its routing decision, its upstream exchange and its response.
#include "proxy/stream.h"

#include <algorithm>
#include <array>

#include "filters/header_index.h"
#include "filters/route_match.h"
#include "filters/text.h"
#include "proxy/downstream_connection.h"
#include "proxy/log.h"
#include "proxy/tunnel.h"
#include "proxy/upstream_pool.h"

namespace turnout {
namespace {

// Methods whose repetition the client may not notice (RFC 9110 9.2.2): only these are
// sent again after a reused keep-alive connection turned out to be closed.
bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

LocalReply replyForFailure(UpstreamFailure failure) {
  switch (failure) {
    case UpstreamFailure::ConnectRefused:
      return LocalReply::UpstreamConnectFailed;
    case UpstreamFailure::ConnectTimeout:
      return LocalReply::UpstreamConnectTimeout;
    case UpstreamFailure::Reset:
      return LocalReply::UpstreamReset;
    case UpstreamFailure::BadResponse:
      return LocalReply::UpstreamBadResponse;
    case UpstreamFailure::Timeout:
      return LocalReply::UpstreamTimeout;
  }
  return LocalReply::UpstreamReset;
}

// The host part of a Host value or authority: "[::1]:80" -> "[::1]", "a.com:80" -> "a.com".
std::string_view stripPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

// The chunk-size line for `length` bytes (RFC 9112 7.1), written at the end of `space`.
std::string_view chunkHeader(size_t length, std::array<char, 20>* space) {
  static constexpr char kHex[] = "0123456789abcdef";
  char* end = space->data() + space->size();
  char* at = end;
  *--at = '\n';
  *--at = '\r';
  do {
    *--at = kHex[length & 15];
    length >>= 4;
  } while (length != 0);
  return {at, static_cast<size_t>(end - at)};
}

// Appends one body piece to `out`, framed as a chunk when `chunked`, writing it straight
// through when nothing is queued before it. True when bytes buffered before it went to the
// socket with it (Outbox::appendWritingThrough).
bool appendBody(std::string_view bytes, bool chunked, Outbox* out) {
  if (!chunked) {
    return out->appendWritingThrough({bytes});
  }
  std::array<char, 20> space;
  return out->appendWritingThrough({chunkHeader(bytes.size(), &space), bytes, "\r\n"});
}

}  // namespace

Stream::Stream(DownstreamConnection& connection, Worker& worker, SnapshotPtr snapshot,
               const ListenerDef& listener, const MessageHead& head, const RequestInfo& info)
    : connection_(connection),
      worker_(worker),
      snapshot_(std::move(snapshot)),
      listener_(listener),
      head_(head),
      info_(info) {}

// The backoff timer of a retry. A stream ends before its timer's close callback runs, so
// the timer lives on its own and forgets the stream when the stream goes first.
struct RetryTimer {
  uv_timer_t timer;
  Stream* stream = nullptr;
};

Stream::~Stream() {
  // A stream freed while it still held a connection (a worker closing everything at
  // shutdown) must not leave the connection pointing at it.
  if (upstream_ != nullptr) {
    upstream_->abandon();
  }
  cancelRetryTimer();
  if (pool_ != nullptr) {
    pool_->removeUser();
  }
}

void Stream::cancelRetryTimer() {
  if (retry_timer_ == nullptr) {
    return;
  }
  retry_timer_->stream = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_->timer),
           [](uv_handle_t* handle) { delete static_cast<RetryTimer*>(handle->data); });
  retry_timer_ = nullptr;
}

void Stream::parseTarget() {
  target_ = head_.target();
  std::string_view rest = target_;
  std::string_view authority;

  // authority-form (RFC 9112 3.2.3): CONNECT names host and port only; the host picks
  // the virtual host, and there is no path.
  if (info_.method == "CONNECT") {
    host_ = stripPort(target_);
    return;
  }

  // absolute-form (RFC 9112 3.2.2): the authority replaces Host, the rest is the path, and
  // the upstream gets the origin-form with the authority as its Host.
  if (!rest.empty() && rest.front() != '/' && rest != "*") {
    size_t scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos) {
      rest.remove_prefix(scheme_end + 3);
      size_t path_start = rest.find_first_of("/?");
      authority = rest.substr(0, path_start);
      rest = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
      upstream_host_ = authority;
      upstream_target_.assign(rest.empty() || rest.front() != '/' ? "/" : "");
      upstream_target_.append(rest);
    }
  }

  size_t question = rest.find('?');
  path_ = rest.substr(0, question);
  query_ = question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  if (path_.empty()) {
    path_ = "/";
  }
  host_ = stripPort(authority.empty() ? head_.find("host") : authority);
}

void Stream::start() {
  parseTarget();
  RequestView view;
  view.method = info_.method;
  view.path = path_;
  view.query = query_;
  view.host = host_;
  view.client_ip = info_.client_ip;
  view.headers = &head_.headers();

  // Each header line's name is hashed once here, and the route match and the split look
  // lines up by hash; the index lives on the stack until both are done.
  const HeaderIndex header_index(head_.headers());
  view.header_index = &header_index;

  route_ = matchRoute(listener_.route_table, view);
  if (!decideTunnel()) {
    return;
  }
  if (route_ == nullptr) {
    replyLocally(LocalReply::NoRoute, "no route matches this host and path");
    return;
  }

  // A declared length over the limit is refused before anything goes upstream; a chunked
  // body is counted as it streams (DownstreamConnection::onBody).
  uint64_t max_body = listener_.max_request_body_bytes;
  if (max_body > 0 && info_.has_content_length && info_.content_length > max_body) {
    replyLocally(LocalReply::BodyTooLarge, "request body exceeds max_request_body_bytes");
    return;
  }

  decision_ = decideSplit(*route_, view, worker_.randomBucket());
  if (!chooseCluster()) {
    return;
  }

  std::string_view client_id = head_.find("x-request-id");
  if (!client_id.empty()) {
    request_id_ = client_id;
  } else {
    worker_.appendRequestId(&request_id_);
    generated_request_id_ = true;
  }
  // A copy of a protocol switch could only be a second tunnel, which no parallel run
  // compares: tunnels are not mirrored.
  if (tunnel_request_ == TunnelRequest::None) {
    mirror_tap_.start(*this);
  }
  connectUpstream(false);
}

bool Stream::decideTunnel() {
  // CONNECT is refused unless a connect route takes it; the client may already be sending
  // the tunnel's bytes, so the connection closes after the answer.
  if (info_.method == "CONNECT") {
    if (route_ == nullptr || !acceptsConnect(*route_)) {
      info_.keep_alive = false;
      replyLocally(LocalReply::ConnectNotEnabled,
                   "CONNECT is not enabled for " + std::string(target_) +
                       " (a route needs match.connect_matcher and upgrade_configs CONNECT)");
      return false;
    }
    tunnel_request_ = TunnelRequest::Connect;
    return true;
  }

  // An Upgrade the route tunnels goes upstream with the request. A request with a body is
  // not upgraded: the switch would have to wait for the whole body (RFC 9110 7.8), and a
  // WebSocket handshake has none. Nor is an HTTP/1.0 one, whose Upgrade a server must
  // ignore (RFC 9110 7.8). These go on as plain HTTP with Upgrade dropped, as an Upgrade
  // to a protocol the route does not tunnel does.
  if (route_ != nullptr && !info_.upgrade.empty() && !requestHasBody() &&
      info_.http_minor >= 1 && tunnelsUpgrade(*route_, info_.upgrade)) {
    tunnel_request_ = TunnelRequest::Upgrade;
  }
  return true;
}

bool Stream::chooseCluster() {
  uint64_t now = uv_now(worker_.loop());
  uint32_t index = decision_.cluster_index;
  ClusterPool* pool = worker_.clusterPool(index);
  cluster_ = &snapshot_->clusters[index];
  if (pool->empty()) {
    replyLocally(LocalReply::NoEndpoint, "cluster " + cluster_->name + " has no endpoint");
    return false;
  }

  // The chosen pool has no available endpoint (all unhealthy or ejected). A strict split
  // says so; otherwise the fallback cluster, or the split's other available pools, take
  // the request. When nothing can, the request goes to the chosen pool regardless
  // ("panic"): health is a guess, and the endpoint's own answer says more than a 503.
  bool panic = false;
  if (!pool->anyAvailable(now)) {
    if (route_->strict) {
      replyLocally(LocalReply::NoHealthyEndpoint,
                   "cluster " + cluster_->name + " has no healthy endpoint (strict split)");
      return false;
    }
    int32_t other = route_->fallback_cluster_index >= 0 ? route_->fallback_cluster_index
                                                        : spillTarget(now);
    if (other >= 0 && worker_.clusterPool(static_cast<uint32_t>(other))->anyAvailable(now)) {
      TURNOUT_LOG(Debug, "split",
                  "cluster " + cluster_->name + " has no healthy endpoint; sending bucket " +
                      std::to_string(decision_.bucket) + " to " +
                      snapshot_->clusters[static_cast<uint32_t>(other)].name);
      index = static_cast<uint32_t>(other);
      pool = worker_.clusterPool(index);
      cluster_ = &snapshot_->clusters[index];
    } else {
      panic = true;
    }
  }

  pool_ = pool;
  pool_->addUser();
  endpoint_ = pool_->pickEndpoint(now, nullptr, panic);
  return true;
}

int32_t Stream::spillTarget(uint64_t now_ms) {
  // Only shares with a positive weight and a healthy endpoint take spilled traffic, in
  // proportion to their weights. The bucket picks the point, so a user spills to the
  // same pool every time.
  auto eligible = [&](const ClusterShare& share) {
    return share.cluster_index != decision_.cluster_index && share.weight > 0 &&
           worker_.clusterPool(share.cluster_index)->anyAvailable(now_ms);
  };
  uint64_t total = 0;
  for (const ClusterShare& share : route_->shares) {
    total += eligible(share) ? share.weight : 0;
  }
  if (total == 0) {
    return -1;
  }
  uint64_t point = uint64_t{decision_.bucket} * total / kBucketCount;
  for (const ClusterShare& share : route_->shares) {
    if (!eligible(share)) {
      continue;
    }
    if (point < share.weight) {
      return static_cast<int32_t>(share.cluster_index);
    }
    point -= share.weight;
  }
  return -1;
}

void Stream::connectUpstream(bool fresh) {
  bool ready = false;
  upstream_ = endpoint_->acquire(this, fresh, &ready);
  if (ready) {
    sendHead();
  }
}

void Stream::onUpstreamReady(UpstreamConnection* connection) {
  upstream_ = connection;
  sendHead();
}

void Stream::buildUpstreamHead() {
  UpstreamRequestHead head;
  head.method = info_.method;
  head.target = upstream_target_.empty() ? target_ : std::string_view(upstream_target_);

  // HTTP/1.1 requires Host; an HTTP/1.0 client may have sent none.
  head.host = upstream_host_;
  if (head.host.empty() && !head_.has("host")) {
    head.host = endpoint_->address().text;
  }
  head.headers = head_.headers();
  head.client_ip = info_.client_ip;
  head.request_id = generated_request_id_ ? std::string_view(request_id_) : std::string_view();
  if (info_.chunked) {
    head.framing = RequestFraming::Chunked;
  } else if (info_.has_content_length) {
    head.framing = RequestFraming::ContentLength;
    head.content_length = info_.content_length;
  }
  if (tunnel_request_ == TunnelRequest::Upgrade) {
    head.upgrade = info_.upgrade;
  }
  head.decision_headers = &listener_.route_table.decision_headers;
  head.cluster_name = cluster_->name;
  head.bucket = decision_.bucket;
  writeUpstreamRequestHead(head, upstream_->outbox().buffer());
}

void Stream::sendHead() {
  buildUpstreamHead();
  reused_upstream_ = upstream_->reused();
  if (upstream_start_ms_ == 0) {
    upstream_start_ms_ = uv_now(worker_.loop());
  }
  uint64_t timeout = route_->retry_policy.per_try_timeout_ms != 0
                         ? route_->retry_policy.per_try_timeout_ms
                         : route_->timeout_ms;
  upstream_->startRequest(info_.method == "HEAD", timeout, tunnel_request_);
  if (upstream_ == nullptr) {
    return;
  }

  if (request_complete_) {
    upstream_->finishRequest();
    return;
  }

  // The proxy answers 100-continue itself once it knows where the body goes, and does not
  // forward Expect (RFC 9110 10.1.1): the upstream sees an ordinary request.
  if (info_.expect_continue && !sent_continue_) {
    sent_continue_ = true;
    connection_.outbox().append("HTTP/1.1 100 Continue\r\n\r\n");
    connection_.flushOutput();
  }
  connection_.resumeRequest();
}

void Stream::onRequestBody(std::string_view bytes) {
  bytes_in_ += bytes.size();
  mirror_tap_.onRequestBody(bytes);
  if (upstream_ == nullptr) {
    return;
  }
  appendBody(bytes, info_.chunked, &upstream_->outbox());
}

void Stream::onRequestComplete() {
  request_complete_ = true;
  mirror_tap_.onRequestComplete();
  if (upstream_ == nullptr) {
    return;
  }
  if (info_.chunked) {
    // Trailers are not forwarded: the chunked body ends with an empty last chunk.
    upstream_->outbox().append("0\r\n\r\n");
  }
  upstream_->finishRequest();
  upstream_->flush();
}

void Stream::afterDownstreamRead() {
  if (upstream_ == nullptr) {
    return;
  }
  upstream_->flush();
  if (upstream_ != nullptr && upstream_->outbox().queuedBytes() > kHighWatermarkBytes) {
    connection_.pauseInput();
  }
}

void Stream::onUpstreamDrained() { connection_.resumeInput(); }

void Stream::onUpstreamInformational(const UpstreamResponse& response) {
  // 100 Continue was answered by the proxy already; HTTP/1.0 clients get no 1xx at all
  // (RFC 9110 15.2).
  if (response.status == 100 || info_.http_minor == 0) {
    return;
  }
  DownstreamResponseHead head;
  head.status = response.status;
  head.reason = response.reason;
  head.headers = response.head->headers();
  head.framing = ResponseFraming::NoBody;
  writeDownstreamResponseHead(head, connection_.outbox().buffer());
}

void Stream::onUpstreamHeaders(const UpstreamResponse& response) {
  uint64_t now = uv_now(worker_.loop());
  pool_->record(endpoint_, response.status >= 500 ? ExchangeOutcome::ServerError
                                                  : ExchangeOutcome::Success,
                now);

  // A gateway error may be retried elsewhere when the policy allows it and nothing of the
  // response has reached the client. The connection is dropped, not drained.
  bool gateway_error = response.status == 502 || response.status == 503 || response.status == 504;
  if (gateway_error && route_->retry_policy.on_gateway_error && replayable() &&
      attempts_ < route_->retry_policy.num_retries && pool_->anyAvailable(now)) {
    upstream_->abandon();
    upstream_ = nullptr;
    if (!scheduleRetry()) {
      replyLocally(LocalReply::UpstreamBadResponse, "no endpoint left to retry on");
    }
    return;
  }

  status_ = response.status;
  mirror_tap_.onPrimaryHeaders(response);
  if (response.no_body) {
    response_framing_ = ResponseFraming::NoBody;
  } else if (response.has_content_length) {
    response_framing_ = ResponseFraming::ContentLength;
  } else if (info_.http_minor >= 1) {
    response_framing_ = ResponseFraming::Chunked;
  } else {
    response_framing_ = ResponseFraming::CloseDelimited;
  }

  // A client whose request body has not been read to its end cannot send another request
  // on this connection. After a CONNECT that was not answered with a tunnel, the client
  // may have sent tunnel bytes already: close rather than read them as HTTP.
  keep_alive_ = info_.keep_alive && request_complete_ && !worker_.draining() &&
                response_framing_ != ResponseFraming::CloseDelimited &&
                tunnel_request_ != TunnelRequest::Connect;
  writeResponseHead(response);
}

void Stream::writeResponseHead(const UpstreamResponse& response) {
  std::string cookie;
  HeaderView extra[2];
  size_t extra_count = 0;
  DownstreamResponseHead head;
  if (decision_.set_sticky_cookie) {
    cookie = stickyCookieValue(route_->sticky_cookie, decision_.bucket);
    extra[extra_count++] = HeaderView{"set-cookie", cookie};
  }
  if (!snapshot_->version_header.empty()) {
    extra[extra_count++] = HeaderView{snapshot_->version_header, snapshot_->version_text};
  }
  head.extra_headers = std::span<const HeaderView>(extra, extra_count);
  head.status = response.status;
  head.reason = response.reason;
  head.headers = response.head->headers();
  head.framing = response_framing_;
  head.content_length = response.content_length;
  head.keep_alive = keep_alive_;
  head.client_minor_version = info_.http_minor;

  // RFC 9110 15.2.2: a 101 names the protocol switched to; the endpoint's word counts.
  head.tunnel = response.tunnel;
  if (response.tunnel && tunnel_request_ == TunnelRequest::Upgrade) {
    std::string_view named = response.head->find("upgrade");
    head.upgrade = named.empty() ? info_.upgrade : named;
  }
  unflushed_head_at_ = connection_.outbox().buffer()->size();
  writeDownstreamResponseHead(head, connection_.outbox().buffer());
  response_started_ = true;
}

void Stream::onUpstreamTunnelOpen(UpstreamConnection* connection, std::string_view early) {
  // The exchange is over as a request: count it now; the tunnel's access log line is
  // written when the tunnel ends.
  upstream_ = nullptr;
  finished_ = true;
  upstream_end_ms_ = uv_now(worker_.loop());
  worker_.countRequest(route_, &decision_, status_, upstream_end_ms_ - info_.start_loop_ms);

  TunnelRecord record;
  record.start_unix_ms = info_.start_unix_ms;
  record.start_loop_ms = info_.start_loop_ms;
  record.upstream_start_ms = upstream_start_ms_;
  record.status = status_;
  record.bucket = decision_.bucket;
  record.request_id = request_id_;
  record.method = info_.method;
  record.target = target_;
  record.route = route_->name;
  record.cluster = cluster_->name;
  record.endpoint = endpoint_->address().text;
  auto tunnel = std::make_unique<Tunnel>(connection_, worker_, connection, std::move(record),
                                         listener_.tunnel_idle_timeout_ms);

  // This stream is freed after the current callback; nothing below may touch it.
  connection_.startTunnel(std::move(tunnel), early);
}

void Stream::onUpstreamBody(std::string_view bytes) {
  bytes_out_ += bytes.size();
  mirror_tap_.onPrimaryBody(bytes);
  // A piece of 4 KiB or more takes an unflushed head with it to the socket at once, which
  // saves copying the piece; the head can then no longer be taken back (onUpstreamFailure).
  if (appendBody(bytes, response_framing_ == ResponseFraming::Chunked, &connection_.outbox())) {
    unflushed_head_at_ = kNothingUnflushed;
  }
}

void Stream::afterUpstreamRead() {
  connection_.flushOutput();
  unflushed_head_at_ = kNothingUnflushed;
  if (upstream_ != nullptr && connection_.outbox().queuedBytes() > kHighWatermarkBytes) {
    upstream_->pauseReading();
    response_paused_ = true;
  }
}

void Stream::onDownstreamDrained() {
  if (response_paused_ && upstream_ != nullptr) {
    response_paused_ = false;
    upstream_->resumeReading();
  }
}

void Stream::onUpstreamComplete() {
  upstream_ = nullptr;
  mirror_tap_.onPrimaryComplete();
  upstream_end_ms_ = uv_now(worker_.loop());
  if (response_framing_ == ResponseFraming::Chunked) {
    connection_.outbox().append("0\r\n\r\n");
  }
  finish(keep_alive_ && request_complete_);
}

bool Stream::replayable() const { return !requestHasBody() && isIdempotent(info_.method); }

bool Stream::mayRetryStale(UpstreamFailure failure, bool response_seen) const {
  // A reused keep-alive connection that died before answering is retried once on a new
  // connection, whatever the policy: the endpoint most likely closed it as idle before
  // our request arrived, so the request was never seen.
  return !stale_retried_ && failure == UpstreamFailure::Reset && !response_seen &&
         reused_upstream_ && replayable();
}

bool Stream::mayRetry(UpstreamFailure failure) const {
  const RetryPolicyDef& policy = route_->retry_policy;
  if (attempts_ >= policy.num_retries) {
    return false;
  }
  switch (failure) {
    case UpstreamFailure::ConnectRefused:
    case UpstreamFailure::ConnectTimeout:
      // Nothing reached the endpoint and the body still waits in the client's socket.
      return policy.on_connect_failure;
    case UpstreamFailure::Reset:
    case UpstreamFailure::BadResponse:
      return policy.on_reset && replayable();
    case UpstreamFailure::Timeout:
      return policy.on_gateway_error && replayable();
  }
  return false;
}

bool Stream::scheduleRetry() {
  EndpointPool* previous = endpoint_;
  endpoint_ = pool_->pickEndpoint(uv_now(worker_.loop()), previous);
  if (endpoint_ == nullptr) {
    endpoint_ = previous;
    return false;
  }
  ++attempts_;

  // Full jitter on an exponential backoff, capped at ten base intervals.
  uint64_t base = route_->retry_policy.base_interval_ms;
  uint64_t ceiling = std::min(base << std::min<uint32_t>(attempts_ - 1, 10), base * 10);
  uint64_t delay = ceiling == 0 ? 0 : worker_.randomBucket() % (ceiling + 1);

  retry_timer_ = new RetryTimer();
  retry_timer_->stream = this;
  retry_timer_->timer.data = retry_timer_;
  uv_timer_init(worker_.loop(), &retry_timer_->timer);
  uv_timer_start(
      &retry_timer_->timer,
      [](uv_timer_t* timer) {
        auto* retry = static_cast<RetryTimer*>(timer->data);
        if (retry->stream != nullptr) {
          retry->stream->onRetryTimer();
        }
      },
      delay, 0);
  return true;
}

void Stream::onRetryTimer() {
  cancelRetryTimer();
  if (!finished_) {
    connectUpstream(false);
  }
}

void Stream::onUpstreamFailure(UpstreamFailure failure, bool response_seen) {
  upstream_ = nullptr;
  upstream_end_ms_ = uv_now(worker_.loop());
  if (!response_started_ && mayRetryStale(failure, response_seen)) {
    stale_retried_ = true;
    connectUpstream(true);
    return;
  }

  pool_->record(endpoint_, ExchangeOutcome::GatewayFailure, upstream_end_ms_);

  // A head that failed in the same read as its body, and never left the outbox, is taken
  // back: the client gets a clean 502 instead of a cut connection. A body piece of 4 KiB
  // or more takes the head with it to the socket at once (onUpstreamBody), and from then
  // on only cutting the connection is left.
  if (response_started_ && unflushed_head_at_ != kNothingUnflushed) {
    connection_.outbox().buffer()->resize(unflushed_head_at_);
    unflushed_head_at_ = kNothingUnflushed;
    response_started_ = false;
    bytes_out_ = 0;
  }

  if (!response_started_ && mayRetry(failure) && scheduleRetry()) {
    return;
  }

  if (!response_started_) {
    std::string detail = "while talking to " + endpoint_->address().text;
    replyLocally(replyForFailure(failure), detail);
    return;
  }

  // Part of the response is already with the client: all we can do is cut the connection,
  // so the client sees a truncated response instead of a wrong one.
  error_ = upstreamFailureName(failure);
  finished_ = true;
  writeAccessLog();
  connection_.closeNow();
}

void Stream::replyLocally(LocalReply reply, std::string_view detail) {
  if (upstream_ != nullptr) {
    upstream_->abandon();
    upstream_ = nullptr;
  }
  status_ = localReplyStatus(reply);
  error_ = localReplyCode(reply);
  bool body_consumed = request_complete_ || !requestHasBody();
  bool keep_alive = info_.keep_alive && body_consumed && !worker_.draining();
  std::string* out = connection_.outbox().buffer();
  size_t start = out->size();
  writeLocalReply(reply, detail, keep_alive, out);
  if (info_.method == "HEAD") {
    // RFC 9110 9.3.2: no content in a response to HEAD (the content-length stays, as for a
    // GET); a client would read the body as the start of the next response.
    out->resize(out->find("\r\n\r\n", start) + 4);
  }
  response_started_ = true;
  finish(keep_alive);
}

void Stream::failRequest(LocalReply reply, std::string_view detail) {
  if (finished_) {
    return;
  }
  if (!response_started_) {
    info_.keep_alive = false;
    replyLocally(reply, detail);
    return;
  }
  abort(localReplyCode(reply));
}

void Stream::abort(std::string_view reason) {
  if (finished_) {
    return;
  }
  finished_ = true;
  cancelRetryTimer();
  if (upstream_ != nullptr) {
    upstream_->abandon();
    upstream_ = nullptr;
  }
  if (!response_started_) {
    status_ = 499;  // The client went away before an answer, as nginx logs it.
  }
  error_ = reason;

  // Counted like any other end, with the status the access log shows, so that /stats and
  // the log agree on how many requests there were.
  countRequest();
  writeAccessLog();
}

void Stream::finish(bool keep_alive) {
  if (finished_) {
    return;
  }
  finished_ = true;
  countRequest();
  writeAccessLog();
  connection_.flushOutput();
  connection_.streamFinished(keep_alive);
}

void Stream::countRequest() {
  worker_.countRequest(route_, cluster_ != nullptr ? &decision_ : nullptr, status_,
                       uv_now(worker_.loop()) - info_.start_loop_ms);
}

void Stream::writeAccessLog() {
  AccessLog& log = worker_.accessLog();
  if (!log.enabled()) {
    return;
  }
  uint64_t now = uv_now(worker_.loop());
  AccessRecord record;
  record.start_unix_ms = info_.start_unix_ms;
  record.request_id = request_id_;
  record.method = info_.method;
  record.path = target_;
  record.status = status_;
  record.route = route_ != nullptr ? std::string_view(route_->name) : std::string_view("-");
  record.cluster = cluster_ != nullptr ? std::string_view(cluster_->name) : std::string_view();
  if (endpoint_ != nullptr) {
    record.endpoint = endpoint_->address().text;
  }
  record.bucket = route_ != nullptr && cluster_ != nullptr ? decision_.bucket : -1;
  record.bytes_in = bytes_in_;
  record.bytes_out = bytes_out_;
  if (upstream_start_ms_ != 0) {
    uint64_t end = upstream_end_ms_ != 0 ? upstream_end_ms_ : now;
    record.upstream_ms = static_cast<int64_t>(end - upstream_start_ms_);
  }
  record.total_ms = static_cast<int64_t>(now - info_.start_loop_ms);
  record.error = error_;
  log.append(record);
}

}  // namespace turnout
