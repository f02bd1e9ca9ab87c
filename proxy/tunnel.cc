// Copies a tunnel's bytes both ways, with back-pressure, half-closes and an idle timeout.
#include "proxy/tunnel.h"

#include "proxy/downstream_connection.h"
#include "proxy/log.h"

namespace turnout {

Tunnel::Tunnel(DownstreamConnection& downstream, Worker& worker, UpstreamConnection* upstream,
               TunnelRecord record, uint64_t idle_timeout_ms)
    : downstream_(downstream),
      worker_(worker),
      upstream_(upstream),
      record_(std::move(record)),
      idle_timeout_ms_(idle_timeout_ms) {
  upstream_->becomeTunnel(this);
}

Tunnel::~Tunnel() {
  // A tunnel freed without having ended (a worker closing everything) must not leave the
  // connection pointing at it.
  if (upstream_ != nullptr) {
    upstream_->abandon();
  }
}

void Tunnel::start(std::string_view from_client, std::string_view from_upstream) {
  last_activity_ms_ = uv_now(worker_.loop());
  downstream_.armTunnelTimer(idle_timeout_ms_);
  TURNOUT_LOG(Debug, "tunnel",
              "opened " + record_.method + " " + record_.target + " to " + record_.endpoint);

  // The answer's head is already in the client's outbox; the endpoint's first bytes go
  // right behind it.
  if (!from_upstream.empty()) {
    onUpstreamBody(from_upstream);
  }
  afterUpstreamRead();
  if (!from_client.empty() && !ended_) {
    onClientBytes(from_client);
  }
}

void Tunnel::onClientBytes(std::string_view bytes) {
  if (upstream_ == nullptr || client_ended_) {
    return;
  }
  last_activity_ms_ = uv_now(worker_.loop());
  bytes_from_client_ += bytes.size();
  upstream_->outbox().appendWritingThrough({bytes});
  upstream_->flush();

  // Stop reading the client while the endpoint has not taken what it already got.
  if (upstream_ != nullptr && upstream_->outbox().queuedBytes() > kHighWatermarkBytes) {
    downstream_.pauseInput();
  }
}

void Tunnel::onClientEnd() {
  if (client_ended_ || ended_) {
    return;
  }
  client_ended_ = true;
  if (upstream_ != nullptr) {
    upstream_->shutdownWrite();  // After the queued bytes: libuv orders the two.
  }
  finishIfDone();
}

void Tunnel::onClientDrained() {
  if (upstream_paused_ && upstream_ != nullptr && !upstream_ended_) {
    upstream_paused_ = false;
    upstream_->resumeReading();
  }
  finishIfDone();
}

void Tunnel::onIdleTimer() {
  if (ended_) {
    return;
  }
  uint64_t idle = uv_now(worker_.loop()) - last_activity_ms_;
  if (idle >= idle_timeout_ms_) {
    finish("tunnel_idle_timeout");
    return;
  }

  // Activity moves a timestamp instead of the timer, so a busy tunnel costs no timer
  // operation per read; the timer catches up here.
  downstream_.armTunnelTimer(idle_timeout_ms_ - idle);
}

void Tunnel::close(std::string_view reason) { finish(reason); }

void Tunnel::onUpstreamFailure(UpstreamFailure failure, bool response_seen) {
  upstream_ = nullptr;  // Already detached and closing.
  finish(upstreamFailureName(failure));
}

void Tunnel::onUpstreamBody(std::string_view bytes) {
  last_activity_ms_ = uv_now(worker_.loop());
  bytes_from_upstream_ += bytes.size();
  downstream_.outbox().appendWritingThrough({bytes});
}

void Tunnel::afterUpstreamRead() {
  downstream_.flushOutput();
  if (upstream_ != nullptr && !upstream_paused_ &&
      downstream_.outbox().queuedBytes() > kHighWatermarkBytes) {
    upstream_paused_ = true;
    upstream_->pauseReading();
  }
}

void Tunnel::onUpstreamDrained() {
  downstream_.resumeInput();
  finishIfDone();
}

void Tunnel::onUpstreamEnd() {
  if (upstream_ended_ || ended_) {
    return;
  }
  upstream_ended_ = true;
  downstream_.flushOutput();
  downstream_.shutdownOutput();
  finishIfDone();
}

void Tunnel::finishIfDone() {
  if (ended_ || !client_ended_ || !upstream_ended_) {
    return;
  }
  bool upstream_flushed = upstream_ == nullptr || upstream_->outbox().queuedBytes() == 0;
  if (upstream_flushed && downstream_.outbox().queuedBytes() == 0) {
    finish("");
  }
}

void Tunnel::finish(std::string_view reason) {
  if (ended_) {
    return;
  }
  ended_ = true;
  if (upstream_ != nullptr) {
    upstream_->abandon();
    upstream_ = nullptr;
  }

  AccessLog& log = worker_.accessLog();
  if (log.enabled()) {
    uint64_t now = uv_now(worker_.loop());
    AccessRecord line;
    line.start_unix_ms = record_.start_unix_ms;
    line.request_id = record_.request_id;
    line.method = record_.method;
    line.path = record_.target;
    line.status = record_.status;
    line.route = record_.route;
    line.cluster = record_.cluster;
    line.endpoint = record_.endpoint;
    line.bucket = record_.bucket;
    line.bytes_in = bytes_from_client_;
    line.bytes_out = bytes_from_upstream_;
    line.upstream_ms = static_cast<int64_t>(now - record_.upstream_start_ms);
    line.total_ms = static_cast<int64_t>(now - record_.start_loop_ms);
    line.error = reason;
    log.append(line);
  }
  downstream_.closeNow();
}

}  // namespace turnout
