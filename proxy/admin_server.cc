// The admin API's HTTP/1.1 server on the control loop.
#include "proxy/admin_server.h"

#include <llhttp.h>

#include "config/address.h"
#include "filters/text.h"
#include "proxy/log.h"

namespace turnout {
namespace {

// A config is at most 4 MiB (config/loader.cc); a little more leaves room for JSON.
constexpr size_t kMaxBodyBytes = 4 * 1024 * 1024 + 64 * 1024;
constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxConnections = 64;
constexpr uint64_t kIdleTimeoutMs = 60000;

}  // namespace

// One admin client connection. Requests are answered in order as each one completes; the
// answer is computed on the spot, so pipelined requests need no queue. Freed when both of
// its handles have closed.
class AdminServer::Connection {
 public:
  explicit Connection(AdminServer& server) : server_(server) {
    uv_tcp_init(server.loop_, &tcp_);
    uv_timer_init(server.loop_, &timer_);
    tcp_.data = this;
    timer_.data = this;
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
  }

  bool accept(uv_stream_t* listener);
  void close();

  // True between requests: nothing read of a next request and no answer still being
  // written, so closing the connection loses nothing (RFC 9112 9.5).
  bool idle() const { return !in_request_ && pending_writes_ == 0 && !closing_; }
  uint64_t lastActive() const { return last_active_; }

  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  // What a parse failure answers.
  enum class Refusal { None, HeadTooLarge, BodyTooLarge };

  struct Write {
    uv_write_t request;
    std::string data;
    bool close_after = false;
  };

  static const llhttp_settings_t& settings();
  static Connection* from(llhttp_t* parser) { return static_cast<Connection*>(parser->data); }
  static int onMessageBegin(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderField(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* data, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buffer);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  static void onWritten(uv_write_t* request, int status);
  static void onIdle(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);

  bool countHead(size_t length);
  void answer();
  void refuse(int status, const std::string& reason);
  void send(int status, const AdminResponse& response, bool keep_alive);

  AdminServer& server_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  llhttp_t parser_;
  char read_buffer_[16 * 1024];

  std::string url_;
  std::string field_;
  std::string value_;
  std::string authorization_;
  std::string body_;
  size_t head_bytes_ = 0;
  bool in_value_ = false;
  Refusal refusal_ = Refusal::None;
  bool in_request_ = false;
  int pending_writes_ = 0;
  uint64_t last_active_ = 0;  // The server's activity count when this one last did I/O.
  bool closing_ = false;
  int open_handles_ = 2;
};

const llhttp_settings_t& AdminServer::Connection::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = &Connection::onMessageBegin;
    settings.on_url = &Connection::onUrl;
    settings.on_header_field = &Connection::onHeaderField;
    settings.on_header_value = &Connection::onHeaderValue;
    settings.on_header_value_complete = &Connection::onHeaderValueComplete;
    settings.on_body = &Connection::onBody;
    settings.on_message_complete = &Connection::onMessageComplete;
    return settings;
  }();
  return kSettings;
}

bool AdminServer::Connection::accept(uv_stream_t* listener) {
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    close();
    return false;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::onAlloc, &Connection::onRead);
  uv_timer_start(&timer_, &Connection::onIdle, kIdleTimeoutMs, 0);
  last_active_ = ++server_.activity_count_;
  return true;
}

void AdminServer::Connection::close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Connection::onClosed);
}

void AdminServer::Connection::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->open_handles_ > 0) {
    return;
  }
  AdminServer& server = self->server_;
  if (self->prev != nullptr) {
    self->prev->next = self->next;
  } else {
    server.connections_ = self->next;
  }
  if (self->next != nullptr) {
    self->next->prev = self->prev;
  }
  --server.connection_count_;
  delete self;
}

void AdminServer::Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
  auto* self = static_cast<Connection*>(handle->data);
  *buffer = uv_buf_init(self->read_buffer_, sizeof(self->read_buffer_));
}

void AdminServer::Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread == 0) {
    return;
  }
  if (nread < 0) {
    self->close();
    return;
  }
  self->last_active_ = ++self->server_.activity_count_;

  // Between requests the timer is an idle timeout, restarted by every read. Once a request
  // has begun it is a deadline for the whole request instead, so that a client trickling
  // a byte a minute cannot hold one of the few connections for ever.
  bool was_in_request = self->in_request_;
  llhttp_errno_t error = llhttp_execute(&self->parser_, buffer->base, static_cast<size_t>(nread));
  if (!(was_in_request && self->in_request_) && !self->closing_) {
    uv_timer_start(&self->timer_, &Connection::onIdle, kIdleTimeoutMs, 0);
  }
  if (error == HPE_OK || self->closing_) {
    return;
  }

  // A bad request ends the connection: the parser cannot find the next one reliably.
  uv_read_stop(stream);
  switch (self->refusal_) {
    case Refusal::HeadTooLarge:
      self->refuse(431, "the request head is larger than 64 KiB");
      return;
    case Refusal::BodyTooLarge:
      self->refuse(413, "the request body is larger than 4 MiB");
      return;
    case Refusal::None:
      self->refuse(400, std::string("malformed request: ") + llhttp_errno_name(error));
      return;
  }
}

void AdminServer::Connection::onIdle(uv_timer_t* timer) {
  static_cast<Connection*>(timer->data)->close();
}

bool AdminServer::Connection::countHead(size_t length) {
  head_bytes_ += length;
  if (head_bytes_ > kMaxHeadBytes) {
    refusal_ = Refusal::HeadTooLarge;
    return false;
  }
  return true;
}

int AdminServer::Connection::onMessageBegin(llhttp_t* parser) {
  Connection* self = from(parser);
  self->url_.clear();
  self->field_.clear();
  self->value_.clear();
  self->authorization_.clear();
  self->body_.clear();
  self->head_bytes_ = 0;
  self->in_value_ = false;
  self->in_request_ = true;
  return 0;
}

int AdminServer::Connection::onUrl(llhttp_t* parser, const char* data, size_t length) {
  Connection* self = from(parser);
  self->url_.append(data, length);
  return self->countHead(length) ? 0 : -1;
}

int AdminServer::Connection::onHeaderField(llhttp_t* parser, const char* data, size_t length) {
  Connection* self = from(parser);
  if (self->in_value_) {
    self->field_.clear();
    self->value_.clear();
    self->in_value_ = false;
  }
  self->field_.append(data, length);
  return self->countHead(length) ? 0 : -1;
}

int AdminServer::Connection::onHeaderValue(llhttp_t* parser, const char* data, size_t length) {
  Connection* self = from(parser);
  self->in_value_ = true;
  self->value_.append(data, length);
  return self->countHead(length) ? 0 : -1;
}

int AdminServer::Connection::onHeaderValueComplete(llhttp_t* parser) {
  Connection* self = from(parser);
  if (equalsIgnoreCase(self->field_, "authorization")) {
    self->authorization_ = self->value_;
  }
  return 0;
}

int AdminServer::Connection::onBody(llhttp_t* parser, const char* data, size_t length) {
  Connection* self = from(parser);
  if (self->body_.size() + length > kMaxBodyBytes) {
    self->refusal_ = Refusal::BodyTooLarge;
    return -1;
  }
  self->body_.append(data, length);
  return 0;
}

int AdminServer::Connection::onMessageComplete(llhttp_t* parser) {
  from(parser)->answer();
  return 0;
}

void AdminServer::Connection::answer() {
  in_request_ = false;
  std::string_view url = url_;
  size_t question = url.find('?');
  AdminRequest request;
  request.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  request.path = url.substr(0, question);
  request.query =
      question == std::string_view::npos ? std::string_view() : url.substr(question + 1);
  request.authorization = authorization_;
  request.body = body_;

  AdminResponse response = server_.api_.handle(request);
  bool keep_alive = llhttp_should_keep_alive(&parser_) != 0 && !server_.closing_;
  if (response.status != 200 || request.method != "GET") {
    TURNOUT_LOG(Info, "admin",
                std::string(request.method) + " " + std::string(request.path) + " " +
                    std::to_string(response.status));
  }
  send(response.status, response, keep_alive);
}

void AdminServer::Connection::refuse(int status, const std::string& reason) {
  AdminResponse response;
  response.status = status;
  response.body = "{\"error\":\"" + reason + "\"}\n";  // Fixed texts: nothing to escape.
  send(status, response, false);
}

void AdminServer::Connection::send(int status, const AdminResponse& response, bool keep_alive) {
  auto* write = new Write;
  write->request.data = this;
  ++pending_writes_;
  write->close_after = !keep_alive;
  std::string& out = write->data;
  out = "HTTP/1.1 " + std::to_string(status) + " " + adminReason(status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\n";
  if (response.challenge) {
    out += "WWW-Authenticate: Bearer\r\n";
  }
  out += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
  out += response.body;

  uv_buf_t buffer = uv_buf_init(out.data(), static_cast<unsigned int>(out.size()));
  int status_code = uv_write(&write->request, reinterpret_cast<uv_stream_t*>(&tcp_), &buffer, 1,
                             &Connection::onWritten);
  if (status_code != 0) {
    --pending_writes_;
    delete write;
    close();
  }
}

void AdminServer::Connection::onWritten(uv_write_t* request, int status) {
  auto* write = reinterpret_cast<Write*>(request);
  auto* self = static_cast<Connection*>(request->data);
  bool close_after = write->close_after || status != 0;
  delete write;
  --self->pending_writes_;
  self->last_active_ = ++self->server_.activity_count_;
  if (close_after) {
    self->close();
  }
}

AdminServer::AdminServer(uv_loop_t* loop, AdminApi& api) : loop_(loop), api_(api) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
}

AdminServer::~AdminServer() = default;

bool AdminServer::listen(const SocketAddress& address, std::string* error) {
  int status = uv_tcp_bind(&listener_, address.sockaddrPtr(), 0);
  if (status == 0) {
    status = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &AdminServer::onConnection);
  }
  if (status != 0) {
    *error = "binding the admin API to " + address.text + ": " + uv_strerror(status);
    return false;
  }
  sockaddr_storage bound{};
  int length = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  address_ = socketAddressFrom(reinterpret_cast<sockaddr*>(&bound), length);
  open_ = true;
  return true;
}

void AdminServer::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<AdminServer*>(listener->data);
  if (status < 0 || self->closing_) {
    return;
  }
  auto* connection = new Connection(*self);
  connection->next = self->connections_;
  if (self->connections_ != nullptr) {
    self->connections_->prev = connection;
  }
  self->connections_ = connection;
  ++self->connection_count_;
  if (connection->accept(listener) && self->connection_count_ > kMaxConnections) {
    self->makeRoomFor(connection);
  }
}

void AdminServer::makeRoomFor(Connection* newest) {
  // Idle keep-alive connections must not lock out a health probe or the release tool: the
  // one idle the longest makes room. Only when every other connection is in the middle of
  // a request is the newcomer turned away, accepted only to be closed at once, since
  // leaving it in the backlog would make it wait.
  Connection* oldest_idle = nullptr;
  for (Connection* connection = connections_; connection != nullptr;
       connection = connection->next) {
    if (connection != newest && connection->idle() &&
        (oldest_idle == nullptr || connection->lastActive() < oldest_idle->lastActive())) {
      oldest_idle = connection;
    }
  }
  (oldest_idle != nullptr ? oldest_idle : newest)->close();
}

void AdminServer::close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  Connection* connection = connections_;
  while (connection != nullptr) {
    Connection* next = connection->next;
    connection->close();
    connection = next;
  }
}

}  // namespace turnout
