// One keep-alive TCP connection to an upstream endpoint, with its response parser.
//
// An EndpointPool owns every UpstreamConnection. While a stream uses it, the connection
// reports the response to that stream through the UpstreamClient interface; between
// streams it sits idle in the pool, still reading, so that a close by the endpoint is
// noticed and the connection dropped. Worker loop only.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <string_view>

#include "proxy/deadline_timer.h"
#include "proxy/message_head.h"
#include "proxy/outbox.h"

namespace turnout {

// A response head larger than this is a bad response (502).
constexpr size_t kMaxResponseHeadBytes = 64 * 1024;

class EndpointPool;
class UpstreamConnection;

// Why an exchange with an upstream failed. Each maps to one status for the client.
enum class UpstreamFailure {
  ConnectRefused,  // The connect failed: 502.
  ConnectTimeout,  // The connect took longer than the cluster's connect_timeout: 504.
  Reset,           // The endpoint closed or reset before the response ended: 502.
  BadResponse,     // The response was not valid HTTP/1.1: 502.
  Timeout,         // No response head within the route's timeout: 504.
};

const char* upstreamFailureName(UpstreamFailure failure);

// Whether a request may turn its connection into a tunnel, and on which answer.
enum class TunnelRequest {
  None,     // An ordinary exchange: a 101 is a bad response (nothing asked for it).
  Upgrade,  // The request carries Upgrade: a 101 switches protocols (RFC 9110 15.2.2).
  Connect,  // A CONNECT: a 2xx opens the tunnel and has no content (RFC 9110 9.3.6).
};

// The response head as the connection parsed it.
struct UpstreamResponse {
  int status = 0;
  std::string_view reason;
  const MessageHead* head = nullptr;
  int http_minor = 1;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  bool no_body = false;       // HEAD request, 204 or 304: no body bytes follow.
  bool until_close = false;   // Neither length nor chunked: the body ends at EOF.
  bool tunnel = false;        // The answer opens the tunnel the request asked for.
};

// The stream using a connection. Every call happens on the worker loop, never from inside
// the response parser, so the client may release or close the connection in any of them.
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;

  // A new connection finished connecting; the request may be written.
  virtual void onUpstreamReady(UpstreamConnection* connection) = 0;

  // The exchange failed; the connection is already detached from the client and closing.
  // `response_seen` is true when any response byte had arrived.
  virtual void onUpstreamFailure(UpstreamFailure failure, bool response_seen) = 0;

  // An informational (1xx) head that is not the final response.
  virtual void onUpstreamInformational(const UpstreamResponse& response) = 0;

  // The final response head.
  virtual void onUpstreamHeaders(const UpstreamResponse& response) = 0;

  virtual void onUpstreamBody(std::string_view bytes) = 0;

  // The response ended. The connection is already detached from the client (back in its
  // pool, or closing).
  virtual void onUpstreamComplete() = 0;

  // Called once after each batch of the calls above, from one socket read: a good moment
  // to flush what they produced.
  virtual void afterUpstreamRead() = 0;

  // The request bytes queued towards the upstream fell below the low watermark.
  virtual void onUpstreamDrained() = 0;

  // The head passed to onUpstreamHeaders opened a tunnel (UpstreamResponse::tunnel): the
  // connection now carries raw bytes, `early` are those the endpoint sent right after the
  // head. The client must hand the connection on with becomeTunnel() before returning, or
  // abandon() it.
  virtual void onUpstreamTunnelOpen(UpstreamConnection* connection, std::string_view early) {}

  // Tunnel only: the endpoint shut down its sending side (FIN); it may still read.
  virtual void onUpstreamEnd() {}
};

class UpstreamConnection : public OutboxOwner {
 public:
  UpstreamConnection(uv_loop_t* loop, EndpointPool* pool);
  ~UpstreamConnection() override;

  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Starts connecting to the pool's endpoint; onUpstreamReady or onUpstreamFailure follow.
  void connect(UpstreamClient* client, uint64_t connect_timeout_ms);

  // Hands an idle connection to a client.
  void attach(UpstreamClient* client);

  // The request head has been appended to outbox(); flush it and start the response
  // timeout. `head_request` tells the parser that the response has no body; `tunnel`
  // which answer, if any, opens a tunnel.
  void startRequest(bool head_request, uint64_t response_timeout_ms,
                    TunnelRequest tunnel = TunnelRequest::None);

  // After onUpstreamTunnelOpen: from now on every byte read goes to client->onUpstreamBody
  // (then afterUpstreamRead), an EOF to onUpstreamEnd, an error to onUpstreamFailure. No
  // timeout runs; the connection never returns to the pool (abandon() ends it).
  void becomeTunnel(UpstreamClient* client);

  // Tunnel only: sends FIN once the queued bytes are written.
  void shutdownWrite();

  // The last request byte has been appended (and will be flushed by the caller).
  void finishRequest();

  // Sends what was appended. A write error fails the exchange (asynchronously).
  void flush();

  Outbox& outbox() { return outbox_; }

  // Back-pressure from the downstream side: stop or resume reading the response.
  void pauseReading();
  void resumeReading();

  // The client gives the connection up before the response ended (its downstream went
  // away). The connection is closed: what the endpoint still sends has no reader.
  void abandon();

  // True when the connection had served an earlier request (a stale keep-alive
  // connection may fail on the first write; such a request may be retried).
  bool reused() const { return requests_served_ > 0; }

  // Closes the socket; the pool frees the object once libuv is done with its handles.
  void close();

  bool idle() const { return state_ == State::Idle; }

 private:
  enum class State { Connecting, Active, Idle, Tunnel, Closed };

  static void onConnect(uv_connect_t* request, int status);
  static void onTimer(uv_timer_t* timer);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  static void onClose(uv_handle_t* handle);
  static void onShutdown(uv_shutdown_t* request, int status);

  static int onMessageBegin(llhttp_t* parser);
  static int onStatus(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderField(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* data, size_t length);
  static int onHeadersComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* data, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  static const llhttp_settings_t& parserSettings();

  void onWriteDone(int status) override;
  void handleRead(const char* data, size_t length);
  void handleEof();
  void handleTunnelRead(ssize_t nread, const char* data);
  void handleHeadersComplete();
  void handleMessageComplete(const char* rest, size_t rest_length);
  void fail(UpstreamFailure failure);

  // (Re)starts the timeout that ends an exchange without progress: no response head
  // within the timeout of the request's end, or a gap of a whole timeout in the upload
  // or in the response body.
  void armProgressTimer();
  void becomeIdle();
  void startReading();

  uv_loop_t* loop_;
  EndpointPool* pool_;
  uv_tcp_t tcp_;
  DeadlineTimer<&UpstreamConnection::onTimer> timer_;
  uv_connect_t connect_request_;
  llhttp_t parser_;
  MessageHead head_;
  Outbox outbox_;
  UpstreamClient* client_ = nullptr;
  State state_ = State::Connecting;
  int open_handles_ = 0;
  bool reading_ = false;
  bool read_paused_ = false;
  bool head_request_ = false;
  bool request_complete_ = false;
  bool response_seen_ = false;
  bool headers_done_ = false;
  bool message_done_ = false;
  bool final_response_ = false;
  bool tunnel_opened_ = false;  // The final head opened a tunnel.
  TunnelRequest tunnel_request_ = TunnelRequest::None;
  bool connect_failed_now_ = false;  // uv_tcp_connect refused synchronously.
  bool write_failed_ = false;        // uv_write refused synchronously.
  uint64_t requests_served_ = 0;
  uint64_t response_timeout_ms_ = 15000;
};

}  // namespace turnout
