// A tunnel: raw bytes copied both ways between one client connection and one upstream
// connection, after a protocol switch (a 101 to an Upgrade request, a 2xx to CONNECT).
//
// The Stream whose answer opened the tunnel creates it; the DownstreamConnection owns it
// from then on (its one pointer to tunnel state, so an idle keep-alive connection pays
// nothing for tunnels). The tunnel owns the upstream connection: it never returns to its
// pool, and the tunnel closes it when it ends. A FIN from one side becomes a shutdown of
// the other side's sending half (RFC 9112 9.6 leaves half-closes to the transport); the
// tunnel ends when both sides have sent FIN and every byte is written, or at once on an
// error, the idle timeout or the drain deadline. Worker loop only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace turnout {

class DownstreamConnection;

// What the access log line written at the tunnel's end says about the request that opened
// it; copied, because the stream and its snapshot may be gone by then.
struct TunnelRecord {
  int64_t start_unix_ms = 0;
  uint64_t start_loop_ms = 0;     // The request's start, for the total duration.
  uint64_t upstream_start_ms = 0;  // When the request went upstream.
  int status = 101;
  int64_t bucket = -1;
  std::string request_id;
  std::string method;
  std::string target;
  std::string route;
  std::string cluster;
  std::string endpoint;
};

class Tunnel : public UpstreamClient, public Deferred {
 public:
  // Takes over `upstream` (becomeTunnel). `idle_timeout_ms` is the listener's
  // tunnel_idle_timeout.
  Tunnel(DownstreamConnection& downstream, Worker& worker, UpstreamConnection* upstream,
         TunnelRecord record, uint64_t idle_timeout_ms);
  ~Tunnel() override;

  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Starts copying. `from_client`: bytes the client sent after its request head, read
  // while the answer was awaited; `from_upstream`: bytes the endpoint sent right after its
  // answer's head. Both belong to the tunnel (RFC 9110 7.8, 9.3.6).
  void start(std::string_view from_client, std::string_view from_upstream);

  // --- Called by the downstream connection. ---

  void onClientBytes(std::string_view bytes);

  // The client shut down its sending side (FIN).
  void onClientEnd();

  // The bytes queued towards the client fell below the low watermark.
  void onClientDrained();

  // The connection's timer fired. Ends the tunnel when it has been idle for the whole
  // timeout, else arms the timer for the rest.
  void onIdleTimer();

  // The downstream connection is closing (a write error, the drain deadline, a reset):
  // ends the tunnel with `reason` in its access log line, unless it has ended already.
  void close(std::string_view reason);

  // UpstreamClient: the tunnel's upstream side. A tunnel's connection is connected and
  // parses nothing, so the first four and onUpstreamComplete are never called.
  void onUpstreamReady(UpstreamConnection* connection) override {}
  void onUpstreamFailure(UpstreamFailure failure, bool response_seen) override;
  void onUpstreamInformational(const UpstreamResponse& response) override {}
  void onUpstreamHeaders(const UpstreamResponse& response) override {}
  void onUpstreamBody(std::string_view bytes) override;
  void onUpstreamComplete() override {}
  void afterUpstreamRead() override;
  void onUpstreamDrained() override;
  void onUpstreamEnd() override;

 private:
  // Ends the tunnel once both sides sent FIN and nothing waits to be written.
  void finishIfDone();

  // Writes the access log line, closes the upstream connection and then the client
  // connection (which frees this object after the current callback).
  void finish(std::string_view reason);

  DownstreamConnection& downstream_;
  Worker& worker_;
  UpstreamConnection* upstream_;  // Null once closed.
  TunnelRecord record_;
  uint64_t idle_timeout_ms_;
  uint64_t last_activity_ms_ = 0;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_upstream_ = 0;
  bool client_ended_ = false;    // The client sent FIN.
  bool upstream_ended_ = false;  // The endpoint sent FIN.
  bool upstream_paused_ = false;  // Back-pressure: the client reads slower than it gets.
  bool ended_ = false;
};

}  // namespace turnout
