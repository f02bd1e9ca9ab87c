// One keep-alive TCP connection to an upstream endpoint, with its response parser.
#include "proxy/upstream_connection.h"

#include "proxy/read_buffer.h"
#include "proxy/upstream_pool.h"

namespace turnout {
namespace {

// An idle upstream connection is closed after this long: endpoints drop idle connections
// on their own schedule, and an old one is the likeliest to be closed under a new request.
constexpr uint64_t kIdleTimeoutMs = 30000;

// Buffer capacity an idle pooled connection keeps for its next exchange.
constexpr size_t kKeptBufferBytes = 4096;

UpstreamConnection* fromParser(llhttp_t* parser) {
  return static_cast<UpstreamConnection*>(parser->data);
}

}  // namespace

const char* upstreamFailureName(UpstreamFailure failure) {
  switch (failure) {
    case UpstreamFailure::ConnectRefused:
      return "upstream_connect_failed";
    case UpstreamFailure::ConnectTimeout:
      return "upstream_connect_timeout";
    case UpstreamFailure::Reset:
      return "upstream_reset";
    case UpstreamFailure::BadResponse:
      return "upstream_bad_response";
    case UpstreamFailure::Timeout:
      return "upstream_timeout";
  }
  return "upstream_error";
}

UpstreamConnection::UpstreamConnection(uv_loop_t* loop, EndpointPool* pool)
    : loop_(loop), pool_(pool), outbox_(reinterpret_cast<uv_stream_t*>(&tcp_), this) {
  uv_tcp_init(loop_, &tcp_);
  timer_.init(loop_, this);
  tcp_.data = this;
  open_handles_ = 2;
  llhttp_init(&parser_, HTTP_RESPONSE, &parserSettings());
  parser_.data = this;
}

UpstreamConnection::~UpstreamConnection() = default;

const llhttp_settings_t& UpstreamConnection::parserSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &UpstreamConnection::onMessageBegin;
    s.on_status = &UpstreamConnection::onStatus;
    s.on_header_field = &UpstreamConnection::onHeaderField;
    s.on_header_value = &UpstreamConnection::onHeaderValue;
    s.on_headers_complete = &UpstreamConnection::onHeadersComplete;
    s.on_body = &UpstreamConnection::onBody;
    s.on_message_complete = &UpstreamConnection::onMessageComplete;
    return s;
  }();
  return settings;
}

void UpstreamConnection::connect(UpstreamClient* client, uint64_t connect_timeout_ms) {
  client_ = client;
  state_ = State::Connecting;
  connect_request_.data = this;
  timer_.arm(connect_timeout_ms);

  int status = uv_tcp_connect(&connect_request_, &tcp_, pool_->address().sockaddrPtr(),
                              &UpstreamConnection::onConnect);
  if (status < 0) {
    // Report on the next loop turn, never from inside the caller's own call.
    timer_.arm(0);
    connect_failed_now_ = true;
  }
}

void UpstreamConnection::onConnect(uv_connect_t* request, int status) {
  auto* self = static_cast<UpstreamConnection*>(request->data);
  if (self->state_ == State::Closed) {
    return;
  }
  if (status < 0) {
    self->fail(UpstreamFailure::ConnectRefused);
    return;
  }

  self->timer_.cancel();
  uv_tcp_nodelay(&self->tcp_, 1);
  self->state_ = State::Active;
  self->startReading();
  self->client_->onUpstreamReady(self);
}

void UpstreamConnection::attach(UpstreamClient* client) {
  client_ = client;
  state_ = State::Active;
  timer_.cancel();
}

void UpstreamConnection::armProgressTimer() {
  timer_.arm(response_timeout_ms_);
}

void UpstreamConnection::finishRequest() {
  request_complete_ = true;
  armProgressTimer();  // The wait for the response head starts when the request ends.
}

void UpstreamConnection::startRequest(bool head_request, uint64_t response_timeout_ms,
                                      TunnelRequest tunnel) {
  response_timeout_ms_ = response_timeout_ms;
  head_request_ = head_request;
  tunnel_request_ = tunnel;
  tunnel_opened_ = false;
  request_complete_ = false;
  response_seen_ = false;
  headers_done_ = false;
  message_done_ = false;
  final_response_ = false;
  read_paused_ = false;
  startReading();
  armProgressTimer();
  flush();
}

void UpstreamConnection::flush() {
  // Request bytes going out are progress: an upload is timed by its gaps, not its length.
  // A flush follows every piece of the request body read from the client, including pieces
  // that already went straight to the socket and left the outbox empty.
  if (!headers_done_ && !request_complete_) {
    armProgressTimer();
  }
  int status = outbox_.flush();
  if (status < 0 && client_ != nullptr) {
    // Report on the next loop turn: the caller is in the middle of writing.
    write_failed_ = true;
    timer_.arm(0);
  }
}

void UpstreamConnection::onWriteDone(int status) {
  if (state_ == State::Closed || client_ == nullptr) {
    return;
  }
  if (status < 0) {
    fail(UpstreamFailure::Reset);
    return;
  }
  // The endpoint reading what was queued for it is progress too, while the client waits.
  if (!headers_done_ && !request_complete_) {
    armProgressTimer();
  }
  if (outbox_.queuedBytes() < kLowWatermarkBytes) {
    client_->onUpstreamDrained();
  }
}

void UpstreamConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<UpstreamConnection*>(timer->data);
  if (!self->timer_.reached()) {
    return;
  }
  if (self->state_ == State::Idle) {
    self->pool_->removeIdle(self);
    self->close();
    return;
  }
  if (self->connect_failed_now_) {
    self->fail(UpstreamFailure::ConnectRefused);
    return;
  }
  if (self->write_failed_) {
    self->fail(UpstreamFailure::Reset);
    return;
  }
  if (self->state_ == State::Connecting) {
    self->fail(UpstreamFailure::ConnectTimeout);
    return;
  }
  self->fail(UpstreamFailure::Timeout);
}

void UpstreamConnection::startReading() {
  if (!reading_ && state_ != State::Closed) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &allocReadBuffer,
                  &UpstreamConnection::onRead);
    reading_ = true;
  }
}

void UpstreamConnection::pauseReading() {
  read_paused_ = true;
  if (headers_done_) {
    timer_.cancel();  // A slow client is not a slow upstream.
  }
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void UpstreamConnection::resumeReading() {
  read_paused_ = false;
  if (headers_done_ && client_ != nullptr && state_ == State::Active) {
    armProgressTimer();
  }
  startReading();
}

void UpstreamConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
  auto* self = static_cast<UpstreamConnection*>(stream->data);
  if (self->state_ == State::Tunnel) {
    self->handleTunnelRead(nread, buffer->base);
    return;
  }
  if (nread > 0) {
    self->handleRead(buffer->base, static_cast<size_t>(nread));
  } else if (nread < 0) {
    self->handleEof();
  }
}

void UpstreamConnection::handleRead(const char* data, size_t length) {
  // An idle connection has no request outstanding: anything it says is a protocol error
  // or the endpoint's goodbye, and either way the connection is finished.
  if (state_ != State::Active || client_ == nullptr) {
    pool_->removeIdle(this);
    close();
    return;
  }

  response_seen_ = true;
  if (headers_done_) {
    armProgressTimer();  // Body bytes are progress; a silence of a whole timeout is not.
  }
  const char* cursor = data;
  const char* end = data + length;
  while (cursor < end) {
    llhttp_errno_t error = llhttp_execute(&parser_, cursor, static_cast<size_t>(end - cursor));
    if (state_ == State::Closed) {
      return;
    }
    if (error == HPE_OK) {
      break;
    }
    if (error != HPE_PAUSED) {
      fail(UpstreamFailure::BadResponse);
      return;
    }

    // Paused at the end of a message: a 1xx head (go on parsing), or the response.
    const char* stop = llhttp_get_error_pos(&parser_);
    llhttp_resume(&parser_);
    if (!message_done_) {
      cursor = stop;
      continue;
    }
    handleMessageComplete(stop, static_cast<size_t>(end - stop));
    return;
  }

  if (client_ != nullptr) {
    client_->afterUpstreamRead();
  }
}

void UpstreamConnection::handleEof() {
  if (state_ != State::Active || client_ == nullptr) {
    pool_->removeIdle(this);
    close();
    return;
  }

  // A response delimited by the close ends here; anything else was cut short.
  if (headers_done_ && llhttp_message_needs_eof(&parser_)) {
    llhttp_errno_t error = llhttp_finish(&parser_);
    if ((error == HPE_OK || error == HPE_PAUSED) && message_done_) {
      llhttp_resume(&parser_);
      handleMessageComplete(nullptr, 0);
      return;
    }
  }
  fail(UpstreamFailure::Reset);
}

void UpstreamConnection::handleTunnelRead(ssize_t nread, const char* data) {
  if (client_ == nullptr) {
    return;
  }
  if (nread > 0) {
    client_->onUpstreamBody(std::string_view(data, static_cast<size_t>(nread)));
    if (client_ != nullptr) {
      client_->afterUpstreamRead();
    }
    return;
  }
  if (nread == UV_EOF) {
    // A FIN ends one direction only; libuv has stopped reading by itself.
    reading_ = false;
    client_->onUpstreamEnd();
    return;
  }
  if (nread < 0) {
    fail(UpstreamFailure::Reset);
  }
}

void UpstreamConnection::becomeTunnel(UpstreamClient* client) {
  client_ = client;
  state_ = State::Tunnel;
  timer_.cancel();
  head_.shrink();  // The 101's head has been written out; a long tunnel needs no copy.
}

void UpstreamConnection::shutdownWrite() {
  if (state_ != State::Tunnel) {
    return;
  }
  auto* request = new uv_shutdown_t;
  request->data = this;
  if (uv_shutdown(request, reinterpret_cast<uv_stream_t*>(&tcp_),
                  &UpstreamConnection::onShutdown) != 0) {
    delete request;
    write_failed_ = true;
    timer_.arm(0);
  }
}

void UpstreamConnection::onShutdown(uv_shutdown_t* request, int status) {
  // Runs before the handle's close callback (with UV_ECANCELED when closing), so the
  // connection is still there.
  auto* self = static_cast<UpstreamConnection*>(request->data);
  delete request;
  if (status < 0 && self->state_ == State::Tunnel && self->client_ != nullptr) {
    self->fail(UpstreamFailure::Reset);
  }
}

int UpstreamConnection::onMessageBegin(llhttp_t* parser) {
  UpstreamConnection* self = fromParser(parser);
  self->head_.reset(kMaxResponseHeadBytes);
  self->message_done_ = false;
  return 0;
}

int UpstreamConnection::onStatus(llhttp_t* parser, const char* data, size_t length) {
  return fromParser(parser)->head_.appendStatus(data, length) ? 0 : -1;
}

int UpstreamConnection::onHeaderField(llhttp_t* parser, const char* data, size_t length) {
  return fromParser(parser)->head_.appendField(data, length) ? 0 : -1;
}

int UpstreamConnection::onHeaderValue(llhttp_t* parser, const char* data, size_t length) {
  return fromParser(parser)->head_.appendValue(data, length) ? 0 : -1;
}

int UpstreamConnection::onHeadersComplete(llhttp_t* parser) {
  UpstreamConnection* self = fromParser(parser);
  self->head_.finish();

  int status = parser->status_code;
  UpstreamResponse response;
  response.status = status;
  response.reason = self->head_.status();
  response.head = &self->head_;
  response.http_minor = parser->http_minor;
  response.chunked = (parser->flags & F_CHUNKED) != 0;
  response.has_content_length = (parser->flags & F_CONTENT_LENGTH) != 0 && !response.chunked;
  response.content_length = parser->content_length;

  // A 101 opens the tunnel an Upgrade request asked for, and a 2xx the one a CONNECT
  // asked for; a 101 nothing asked for is refused. A header name that is no token would
  // reach the client as a line it may split differently (llhttp 8 accepts "X A: 1"). A
  // status outside 100..599 has no meaning a client could act on (RFC 9110 15).
  TunnelRequest asked = self->tunnel_request_;
  bool tunnel = (asked == TunnelRequest::Upgrade && status == 101) ||
                (asked == TunnelRequest::Connect && status >= 200 && status < 300);
  bool known_class = status >= 100 && status <= 599;
  if (!known_class || (status == 101 && !tunnel) || !self->head_.namesAreTokens()) {
    return -1;
  }

  // Informational heads are forwarded and the real response follows (RFC 9110 15.2).
  if (status < 200 && !tunnel) {
    self->client_->onUpstreamInformational(response);
    return self->state_ == State::Closed ? -1 : 0;
  }

  self->final_response_ = true;
  self->headers_done_ = true;
  self->armProgressTimer();
  self->tunnel_opened_ = tunnel;
  response.tunnel = tunnel;
  response.no_body = self->head_request_ || status == 204 || status == 304 || tunnel;
  response.until_close = !response.no_body && !response.chunked && !response.has_content_length;
  self->client_->onUpstreamHeaders(response);
  if (self->state_ == State::Closed) {
    return -1;
  }

  // 1 tells llhttp that no body follows, whatever the framing headers say (RFC 9112 6.3).
  return response.no_body ? 1 : 0;
}

int UpstreamConnection::onBody(llhttp_t* parser, const char* data, size_t length) {
  UpstreamConnection* self = fromParser(parser);
  self->client_->onUpstreamBody(std::string_view(data, length));
  return self->state_ == State::Closed ? -1 : 0;
}

int UpstreamConnection::onMessageComplete(llhttp_t* parser) {
  UpstreamConnection* self = fromParser(parser);
  if (self->final_response_) {
    self->message_done_ = true;
  }
  // Always pause: completion is handled once llhttp has returned, where the client may
  // release this connection and the next request may reuse it.
  return HPE_PAUSED;
}

void UpstreamConnection::handleMessageComplete(const char* rest, size_t rest_length) {
  if (tunnel_opened_) {
    // What follows the head is the tunnel's, not another response: the client takes the
    // connection over (becomeTunnel) or lets it go.
    UpstreamClient* client = client_;
    timer_.cancel();
    ++requests_served_;
    client->onUpstreamTunnelOpen(this, std::string_view(rest, rest_length));
    return;
  }

  // Bytes after the response on a connection we did not pipeline on mean the endpoint
  // and the proxy disagree on framing: never reuse such a connection.
  bool reusable = request_complete_ && rest_length == 0 && llhttp_should_keep_alive(&parser_) &&
                  !read_paused_;
  UpstreamClient* client = client_;
  client_ = nullptr;
  timer_.cancel();
  ++requests_served_;
  if (reusable) {
    becomeIdle();
  }
  pool_->release(this, reusable);
  client->onUpstreamComplete();
}

void UpstreamConnection::becomeIdle() {
  state_ = State::Idle;

  // A pooled connection is reused at once on a busy proxy, so it keeps buffers of a usual
  // size and its next exchange allocates nothing; only what a large head or body left is
  // given back.
  if (head_.capacityBytes() > kKeptBufferBytes) {
    head_.shrink();
  }
  if (outbox_.capacity() > kKeptBufferBytes) {
    outbox_.shrink();
  }
  startReading();
  timer_.arm(kIdleTimeoutMs);
}

void UpstreamConnection::fail(UpstreamFailure failure) {
  UpstreamClient* client = client_;
  bool response_seen = response_seen_;
  client_ = nullptr;
  pool_->release(this, false);
  if (client != nullptr) {
    client->onUpstreamFailure(failure, response_seen);
  }
}

void UpstreamConnection::abandon() {
  client_ = nullptr;
  pool_->release(this, false);
}

void UpstreamConnection::close() {
  if (state_ == State::Closed) {
    return;
  }
  state_ = State::Closed;
  client_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &UpstreamConnection::onClose);
  uv_close(timer_.handle(), &UpstreamConnection::onClose);
}

void UpstreamConnection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  if (--self->open_handles_ == 0) {
    self->pool_->destroy(self);
  }
}

}  // namespace turnout
