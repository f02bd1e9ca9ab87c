// One client connection: its socket, its request parser, keep-alive and pipelining.
#include "proxy/downstream_connection.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <vector>

#include "filters/text.h"
#include "proxy/log.h"
#include "proxy/read_buffer.h"
#include "proxy/tunnel.h"
#include "proxy/worker.h"

namespace turnout {
namespace {

// How long a closing connection keeps reading (and dropping) what the client still sends,
// so that the kernel does not answer it with a reset that could destroy our response.
constexpr uint64_t kLingerMs = 2000;

// An idle keep-alive connection frees its buffers after this long without a request.
constexpr uint64_t kShrinkAfterMs = 250;

// Bytes read ahead (pipelined requests) while a response is on its way.
constexpr size_t kMaxPendingBytes = 64 * 1024;

// Limits used when the listener left the config while a connection of it was open.
constexpr uint32_t kDefaultHeadBytes = 65536;
constexpr uint32_t kDefaultLineBytes = 16384;
constexpr uint32_t kDefaultHeadersCount = 100;

DownstreamConnection* fromParser(llhttp_t* parser) {
  return static_cast<DownstreamConnection*>(parser->data);
}

int64_t unixMillis() {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_usec / 1000;
}

// Dotted-quad text of an IPv4 address, written by hand: every new connection needs it,
// and inet_ntop goes through a printf-style formatter.
std::string ipv4Text(const sockaddr_in& address) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&address.sin_addr.s_addr);
  std::string text;
  for (int i = 0; i < 4; ++i) {
    unsigned value = bytes[i];
    if (value >= 100) {
      text.push_back(static_cast<char>('0' + value / 100));
    }
    if (value >= 10) {
      text.push_back(static_cast<char>('0' + value / 10 % 10));
    }
    text.push_back(static_cast<char>('0' + value % 10));
    if (i < 3) {
      text.push_back('.');
    }
  }
  return text;
}

std::string peerIp(const uv_tcp_t* tcp) {
  sockaddr_storage address{};
  int length = sizeof(address);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return std::string();
  }
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    return ipv4Text(*reinterpret_cast<const sockaddr_in*>(&address));
  } else if (address.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&address), text, sizeof(text));
  }
  return text;
}

// RFC 3986 3.2.2 reg-name bytes besides letters and digits: unreserved, pct-encoded and
// sub-delims.
bool isRegNameChar(unsigned char c) {
  constexpr std::string_view kOthers = "-._~%!$&'()*+,;=";
  return std::isalnum(c) != 0 || kOthers.find(static_cast<char>(c)) != std::string_view::npos;
}

// host [":" port] as Host and an absolute target carry it (RFC 9110 7.2 and 4.2.4: no
// userinfo). Empty is valid: a Host for a target without authority (RFC 9112 3.2).
bool isValidAuthority(std::string_view authority) {
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    // An IPv6 literal; IPvFuture is not served.
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    for (char c : authority.substr(1, close - 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
        return false;
      }
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return false;
    }
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    size_t colon = authority.find(':');
    for (char c : authority.substr(0, colon)) {
      if (!isRegNameChar(static_cast<unsigned char>(c))) {
        return false;
      }
    }
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// RFC 9112 3.2: origin-form, absolute-form (http or https), or "*" for OPTIONS, in visible
// ASCII and without a fragment; authority-form ("host:port") for CONNECT and for nothing
// else (RFC 9112 3.2.3). Whether a CONNECT is tunnelled the route decides.
const char* targetProblem(std::string_view method, std::string_view target) {
  for (char c : target) {
    if (c <= ' ' || c >= 0x7f || c == '#') {
      return "invalid byte in the request target";
    }
  }
  if (method == "CONNECT") {
    // RFC 9110 9.3.6: the port is required, and there is nothing but host and port.
    size_t colon = target.rfind(':');
    bool has_port = colon != std::string_view::npos && colon > 0 && colon + 1 < target.size() &&
                    target.back() != ']';
    bool valid = has_port && target.find_first_of("/?@") == std::string_view::npos &&
                 isValidAuthority(target);
    return valid ? nullptr : "CONNECT target is not host:port";
  }
  if (target == "*") {
    return method == "OPTIONS" ? nullptr : "asterisk-form target for a method other than OPTIONS";
  }
  if (!target.empty() && target.front() == '/') {
    return nullptr;
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (startsWithIgnoreCase(target, scheme)) {
      std::string_view rest = target.substr(scheme.size());
      std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
      bool valid = !authority.empty() && isValidAuthority(authority);
      return valid ? nullptr : "invalid authority in the request target";
    }
  }
  return "request target is neither origin-form nor absolute-form";
}

// RFC 9112 6.1: the proxy decodes chunked and sends the body on chunked again; any other
// coding it would silently drop. So the one accepted Transfer-Encoding is a single
// "chunked", and none in HTTP/1.0, where it means faulty framing. (RFC 9112 6.1 suggests
// 501 for an unknown coding; a 400 refuses it just as well.)
const char* transferEncodingProblem(const std::vector<HeaderView>& headers, int http_minor) {
  int lines = 0;
  int codings = 0;
  for (const HeaderView& header : headers) {
    if (!equalsIgnoreCase(header.name, "transfer-encoding")) {
      continue;
    }
    if (http_minor == 0) {
      return "Transfer-Encoding in an HTTP/1.0 request";
    }
    ++lines;
    Splitter list(header.value, ',');
    std::string_view coding;
    while (list.next(&coding)) {
      coding = trimSpaces(coding);
      if (coding.empty()) {
        continue;  // RFC 9110 5.6.1: empty list elements are ignored.
      }
      if (!equalsIgnoreCase(coding, "chunked")) {
        return "transfer coding other than chunked";
      }
      ++codings;
    }
  }
  if (lines > 0 && codings != 1) {
    return codings == 0 ? "empty Transfer-Encoding" : "chunked applied more than once";
  }
  return nullptr;
}

// Why a complete request head must be refused with 400, or nullptr. llhttp 8 lets each of
// these through, and each lets the proxy and a backend read one request differently.
const char* headProblem(const llhttp_t& parser, const MessageHead& head) {
  if (parser.http_major != 1) {
    return "HTTP version other than 1.x";  // 505 would be more precise.
  }
  const char* method = llhttp_method_name(static_cast<llhttp_method_t>(parser.method));
  if (const char* problem = targetProblem(method, head.target())) {
    return problem;
  }
  if (!head.namesAreTokens()) {
    return "header name is not a token";
  }

  // RFC 9110 9.3.6: a CONNECT has no content. llhttp ends the message at the head whatever
  // its framing says, so a declared body would be tunnel bytes to us and a body upstream.
  uint32_t framing = F_CHUNKED | F_CONTENT_LENGTH | F_TRANSFER_ENCODING;
  if (parser.method == HTTP_CONNECT && (parser.flags & framing) != 0) {
    return "CONNECT request with content framing";
  }

  // RFC 9112 3.2: an HTTP/1.1 request without Host, or with more than one, is a 400.
  int hosts = 0;
  for (const HeaderView& header : head.headers()) {
    if (equalsIgnoreCase(header.name, "host")) {
      ++hosts;
      if (!isValidAuthority(header.value)) {
        return "invalid Host header";
      }
    }
  }
  if (hosts > 1) {
    return "more than one Host header";
  }
  if (hosts == 0 && parser.http_minor >= 1) {
    return "missing Host header";
  }
  return transferEncodingProblem(head.headers(), parser.http_minor);
}

// The next `byte` in [from, end), or nullptr.
const char* findByte(const char* from, const char* end, char byte) {
  return static_cast<const char*>(std::memchr(from, byte, static_cast<size_t>(end - from)));
}

// RFC 9112 2.2: lines end in CRLF. llhttp 8 also takes a bare LF after the request line
// and at the end of the head, and any byte after the CR that ends the head. `previous`
// is the byte before `data`.
bool hasBareCrOrLf(char previous, const char* data, size_t length) {
  // Every LF must follow a CR, and every CR precede an LF. memchr scans a head many bytes
  // at a time; line ends are few.
  const char* end = data + length;
  for (const char* lf = findByte(data, end, '\n'); lf != nullptr;
       lf = findByte(lf + 1, end, '\n')) {
    if ((lf == data ? previous : lf[-1]) != '\r') {
      return true;
    }
  }
  if (previous == '\r' && data[0] != '\n') {
    return true;
  }
  for (const char* cr = findByte(data, end, '\r'); cr != nullptr;
       cr = findByte(cr + 1, end, '\r')) {
    if (cr + 1 < end && cr[1] != '\n') {
      return true;
    }
  }
  return false;
}

// Copies `data` to `out` with a CR put before each LF that lacks one, up to and including
// the LF that ends the head; the bytes after it (a body, a pipelined request) are copied
// unchanged. RFC 9112 2.2 lets a recipient take a bare LF as a line end, but llhttp 8 only
// relaxes that together with its checks on header value bytes, so a listener that allows
// bare LFs has them turned into CRLF before llhttp sees the head. `previous` is the head
// byte before `data`; `state` carries the line ends over from one read to the next.
void addMissingCrs(std::string_view data, char previous, HeadLineEnds* state,
                   std::string* out) {
  out->reserve(data.size() + 16);
  for (size_t i = 0; i < data.size(); ++i) {
    char byte = data[i];
    if (byte != '\n') {
      if (byte != '\r') {
        state->line_has_content = true;
        state->head_has_content = true;
      }
      out->push_back(byte);
      previous = byte;
      continue;
    }
    if (previous != '\r') {
      out->push_back('\r');
    }
    out->push_back('\n');
    previous = '\n';

    // An empty line after some content ends the head. Empty lines before the request line
    // do not (RFC 9112 2.2 lets a server skip them).
    bool head_ends = state->head_has_content && !state->line_has_content;
    state->line_has_content = false;
    if (head_ends) {
      *state = HeadLineEnds{};
      out->append(data.substr(i + 1));
      return;
    }
  }
}

}  // namespace

DownstreamConnection::DownstreamConnection(Worker& worker, std::string listener_name)
    : worker_(worker),
      listener_name_(std::move(listener_name)),
      outbox_(reinterpret_cast<uv_stream_t*>(&tcp_), this) {
  uv_tcp_init(worker_.loop(), &tcp_);
  timer_.init(worker_.loop(), this);
  tcp_.data = this;
  open_handles_ = 2;
  worker_.addConnection(this);
}

void DownstreamConnection::ensureParse() {
  if (parse_ != nullptr) {
    return;
  }
  // A fresh parser reads the next request as the old one would have: llhttp keeps nothing
  // from one request to the next on a connection.
  parse_ = std::make_unique<RequestParse>();
  llhttp_init(&parse_->parser, HTTP_REQUEST, &parserSettings());
  parse_->parser.data = this;
}

DownstreamConnection::~DownstreamConnection() = default;

// Every idle keep-alive client costs this object (bench/idlemem.sh). 640 bytes is one of
// jemalloc's size classes; a byte more would move every connection to the next (768).
// The parser and tunnel state live in objects of their own for that reason.
static_assert(sizeof(DownstreamConnection) <= 640, "DownstreamConnection outgrew 640 bytes");

const llhttp_settings_t& DownstreamConnection::parserSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &DownstreamConnection::onMessageBegin;
    s.on_url = &DownstreamConnection::onUrl;
    s.on_header_field = &DownstreamConnection::onHeaderField;
    s.on_header_value = &DownstreamConnection::onHeaderValue;
    s.on_headers_complete = &DownstreamConnection::onHeadersComplete;
    s.on_body = &DownstreamConnection::onBody;
    s.on_chunk_extension_name = &DownstreamConnection::onChunkExtension;
    s.on_chunk_extension_value = &DownstreamConnection::onChunkExtension;
    s.on_message_complete = &DownstreamConnection::onMessageComplete;
    return s;
  }();
  return settings;
}

bool DownstreamConnection::accept(uv_stream_t* server) {
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    closeNow();
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  client_ip_ = peerIp(&tcp_);
  beginNextRequest();
  return true;
}

// --- Reading and parsing. ---

bool DownstreamConnection::parserRuns() const {
  return input_ == Input::Head || input_ == Input::Body;
}

void DownstreamConnection::updateReading() {
  if (closed_) {
    return;  // uv_close stops reading by itself.
  }
  // While a response is on its way the connection goes on reading, so that the usual
  // request-response turn costs no epoll change; what arrives (a pipelined request) waits
  // in pending_, up to a bound.
  bool waiting = input_ == Input::RequestDone && !peer_closed_ &&
                 pending_.size() < kMaxPendingBytes;
  // A connection that will linger reads (and drops) from the moment it decides to close,
  // so that the usual close costs no epoll change either.
  bool closing_reads = close_after_flush_ && linger_ && !peer_closed_;
  bool tunnel = input_ == Input::Tunnel && !peer_closed_;
  bool want = lingering_ || closing_reads ||
              (!input_paused_ && (parserRuns() || waiting || tunnel));
  if (want && !reading_) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &allocReadBuffer,
                  &DownstreamConnection::onRead);
    reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void DownstreamConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
  auto* self = static_cast<DownstreamConnection*>(stream->data);
  if (nread < 0 && self->input_ == Input::Tunnel) {
    self->handleTunnelEof(nread);
    return;
  }
  if (nread > 0) {
    self->handleRead(buffer->base, static_cast<size_t>(nread));
  } else if (nread < 0) {
    self->handleEof(nread);
  }
}

void DownstreamConnection::handleRead(const char* data, size_t length) {
  if (lingering_ || closed_) {
    return;  // A closing connection drops what the client still sends.
  }
  if (input_ == Input::Tunnel) {
    tunnel_->onClientBytes(std::string_view(data, length));
    return;
  }

  if (pending_.empty()) {
    drive(data, length);
    afterInput();
  } else {
    pending_.append(data, length);
    drivePending();
  }
}

void DownstreamConnection::drivePending() {
  std::string input;
  input.swap(pending_);
  drive(input.data(), input.size());
  afterInput();
}

void DownstreamConnection::afterInput() {
  if (peer_closed_ && input_ == Input::Head) {
    closeAfterFlush(false);  // Nothing more can come; a partial request is dropped.
    return;
  }
  if (stream_ != nullptr) {
    stream_->afterDownstreamRead();
  }
  flushOutput();
  updateReading();
}

void DownstreamConnection::handleEof(ssize_t status) {
  if (status != UV_EOF && stream_ != nullptr) {
    // A reset, not a half-close: the client can read nothing more, so the request ends
    // now and its upstream exchange is given up.
    stream_->abort("client_reset");
  }
  if (status != UV_EOF || lingering_ || input_ == Input::Head) {
    // A reset ends everything; between requests (or mid-head) the client may simply leave.
    closeNow();
    return;
  }
  if (close_after_flush_) {
    // The client closed its side while our last response is still being written: it may
    // still read, so finish writing, then close without lingering.
    peer_closed_ = true;
    linger_ = false;
    updateReading();
    return;
  }
  if (input_ == Input::RequestDone) {
    // The client sent its request and closed its side (shutdown(SHUT_WR)): it still
    // reads. Answer what it sent, then close.
    peer_closed_ = true;
    updateReading();
    return;
  }
  if (stream_ != nullptr) {
    stream_->abort("client_closed");
  }
  closeNow();
}

void DownstreamConnection::handleTunnelEof(ssize_t status) {
  if (status != UV_EOF) {
    closeNow();  // A reset: the tunnel ends with the connection.
    return;
  }

  // libuv stopped reading by itself at the FIN; the tunnel passes the half-close on.
  peer_closed_ = true;
  reading_ = false;
  tunnel_->onClientEnd();
}

// Runs the parser over `data` until it is consumed or the parser pauses for an event that
// only a stream can bring; whatever is left waits in pending_. Never re-entered: a stream
// that finishes inside handlePause() only changes input_, and this loop goes on.
void DownstreamConnection::drive(const char* data, size_t length) {
  ensureParse();
  driving_ = true;
  std::string with_crs;  // The bytes llhttp reads instead, when bare LFs are allowed.
  while (length > 0 && parserRuns()) {
    bool in_head = input_ == Input::Head;
    if (in_head && allow_bare_lf_) {
      std::string fixed;
      addMissingCrs(std::string_view(data, length), head_last_byte_, &line_ends_, &fixed);
      with_crs.swap(fixed);
      data = with_crs.data();
      length = with_crs.size();
    }
    if (!in_head && parse_->crlf_due > 0 && !checkChunkEnd(data, length)) {
      handleParseError(HPE_USER);
      length = 0;
      break;
    }
    parse_->chunk_start = data;
    parse_->chunk_end = data + length;
    llhttp_errno_t error = llhttp_execute(&parse_->parser, data, length);
    previous_chunk_end_ = data[length - 1];
    if (error == HPE_PAUSED_UPGRADE) {
      // llhttp stops after an Upgrade or CONNECT request, at the first byte after it; we
      // get here only once that request's answer was not a tunnel (a tunnel never parses
      // again). The server declined the switch (RFC 9110 7.8), so HTTP goes on.
      const char* stop = llhttp_get_error_pos(&parse_->parser);
      length -= static_cast<size_t>(stop - data);
      data = stop;
      llhttp_resume_after_upgrade(&parse_->parser);
      continue;
    }
    if (error != HPE_OK && error != HPE_PAUSED) {
      handleParseError(error);
      length = 0;
      break;
    }

    // The head ends where the parser paused (it pauses at the end of every head), or it
    // goes on past these bytes.
    const char* stop = error == HPE_OK ? data + length : llhttp_get_error_pos(&parse_->parser);
    if (in_head && !checkLineEnds(data, static_cast<size_t>(stop - data))) {
      length = 0;
      break;
    }
    if (error == HPE_OK) {
      length = 0;
      break;
    }
    length -= static_cast<size_t>(stop - data);
    data = stop;
    llhttp_resume(&parse_->parser);
    handlePause();
  }
  if (length > 0 && !closed_ && input_ != Input::Closing) {
    pending_.assign(data, length);
  }
  driving_ = false;
}

bool DownstreamConnection::checkLineEnds(const char* data, size_t length) {
  if (length == 0) {
    return true;
  }
  if (!hasBareCrOrLf(head_last_byte_, data, length)) {
    head_last_byte_ = data[length - 1];
    return true;
  }
  headers_complete_ = false;
  message_complete_ = false;
  replyAndClose(LocalReply::BadRequest, "a line of the request head does not end in CRLF");
  return false;
}

void DownstreamConnection::handlePause() {
  if (headers_complete_) {
    headers_complete_ = false;
    startStream();
  }
  if (message_complete_) {
    message_complete_ = false;
    finishRequestMessage();
  }
}

int DownstreamConnection::onMessageBegin(llhttp_t* parser) {
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;
  parse.snapshot = self->worker_.snapshot();
  parse.listener = nullptr;
  for (const ListenerDef& listener : parse.snapshot->listeners) {
    if (listener.name == self->listener_name_) {
      parse.listener = &listener;
      break;
    }
  }
  uint32_t limit =
      parse.listener != nullptr ? parse.listener->max_request_headers_bytes : kDefaultHeadBytes;
  parse.head.reset(limit);
  self->request_started_ = true;
  self->head_error_ = HeadError::None;
  self->body_too_large_ = false;
  self->request_ended_ = false;
  parse.body_bytes = 0;
  parse.extension_bytes = 0;
  parse.crlf_due = 0;
  parse.bad_chunk_end = false;
  self->extensions_too_long_ = false;
  return 0;
}

int DownstreamConnection::onUrl(llhttp_t* parser, const char* data, size_t length) {
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;
  if (!parse.head.appendTarget(data, length)) {
    return self->failHead(HeadError::TooLarge);
  }

  // The request line is the method, a space, the target, a space and "HTTP/1.1"; llhttp
  // has read the method by now.
  size_t line = std::strlen(llhttp_method_name(static_cast<llhttp_method_t>(parser->method))) +
                parse.head.target().size() + 10;
  uint32_t limit =
      parse.listener != nullptr ? parse.listener->max_request_line_bytes : kDefaultLineBytes;
  return line > limit ? self->failHead(HeadError::LineTooLong) : 0;
}

int DownstreamConnection::onHeaderField(llhttp_t* parser, const char* data, size_t length) {
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;
  if (!parse.head.appendField(data, length)) {
    return self->failHead(HeadError::TooLarge);
  }
  uint32_t limit = parse.listener != nullptr ? parse.listener->max_request_headers_count
                                             : kDefaultHeadersCount;
  return parse.head.lineCount() > limit ? self->failHead(HeadError::TooManyLines) : 0;
}

int DownstreamConnection::failHead(HeadError error) {
  head_error_ = error;
  return -1;
}

int DownstreamConnection::onHeaderValue(llhttp_t* parser, const char* data, size_t length) {
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;

  // llhttp 8 accepts obs-fold (a line starting with space or tab continues the previous
  // value) and reports the continuation as more value bytes. RFC 9112 5.2 lets a server
  // reject it, and a proxy must: a backend that unfolds differently would read another
  // header than the one we routed on. A value piece preceded by a line feed and white
  // space only is a fold. (llhttp reports an empty value as a piece of length 0 at the
  // start of the next line: that is no fold.)
  if (length > 0 && self->followsLineStart(data)) {
    return self->failHead(HeadError::ObsFold);
  }
  return parse.head.appendValue(data, length) ? 0 : self->failHead(HeadError::TooLarge);
}

bool DownstreamConnection::followsLineStart(const char* data) const {
  // llhttp skips the white space that starts a continuation line, so walk back over it.
  const char* cursor = data;
  while (cursor > parse_->chunk_start && (cursor[-1] == ' ' || cursor[-1] == '\t')) {
    --cursor;
  }
  char before = cursor > parse_->chunk_start ? cursor[-1] : previous_chunk_end_;
  return before == '\n';
}

int DownstreamConnection::onHeadersComplete(llhttp_t* parser) {
  DownstreamConnection* self = fromParser(parser);
  self->parse_->head.finish();
  self->headers_complete_ = true;

  // A request with a body pauses here, so that the body is parsed only once the stream
  // has somewhere to send it. A request without one runs on to its end in the same
  // call and pauses there, and the stream starts with the request already complete.
  bool has_body = (parser->flags & F_CHUNKED) != 0 || parser->content_length > 0;
  return has_body ? HPE_PAUSED : 0;
}

int DownstreamConnection::onBody(llhttp_t* parser, const char* data, size_t length) {
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;
  parse.body_bytes += length;
  uint64_t max_body = parse.listener != nullptr ? parse.listener->max_request_body_bytes : 0;
  if (max_body > 0 && parse.body_bytes > max_body) {
    self->body_too_large_ = true;
    return -1;
  }
  if (self->stream_ != nullptr) {
    self->stream_->onRequestBody(std::string_view(data, length));
  }

  // llhttp 8 steps over the two bytes after a chunk's data without looking at them, but
  // RFC 9112 7.1 requires CRLF there, and a front proxy that reads them otherwise would
  // find a request boundary inside the body. The bytes in this buffer are checked now,
  // the rest at the start of the next one.
  if ((parser->flags & F_CHUNKED) != 0 && parser->content_length == 0) {
    parse.crlf_due = 2;
    const char* after = data + length;
    if (!self->checkChunkEnd(after, static_cast<size_t>(parse.chunk_end - after))) {
      return -1;
    }
  }
  return 0;
}

bool DownstreamConnection::checkChunkEnd(const char* data, size_t length) {
  RequestParse& parse = *parse_;
  for (size_t i = 0; i < length && parse.crlf_due > 0; ++i) {
    char expected = parse.crlf_due == 2 ? '\r' : '\n';
    if (data[i] != expected) {
      parse.bad_chunk_end = true;
      return false;
    }
    --parse.crlf_due;
  }
  return true;
}

int DownstreamConnection::onChunkExtension(llhttp_t* parser, const char* data, size_t length) {
  // Chunk extensions carry no content and are not forwarded, so no body limit sees them;
  // without a bound of their own a client could stream them forever. They may add up to
  // as much as a request head.
  DownstreamConnection* self = fromParser(parser);
  RequestParse& parse = *self->parse_;
  parse.extension_bytes += length;
  uint64_t limit =
      parse.listener != nullptr ? parse.listener->max_request_headers_bytes : kDefaultHeadBytes;
  self->extensions_too_long_ = parse.extension_bytes > limit;
  return self->extensions_too_long_ ? -1 : 0;
}

int DownstreamConnection::onMessageComplete(llhttp_t* parser) {
  DownstreamConnection* self = fromParser(parser);
  self->message_complete_ = true;
  self->request_ended_ = true;
  // Pause so that a pipelined next request waits until this one's response is done.
  return HPE_PAUSED;
}

void DownstreamConnection::startStream() {
  timer_.cancel();
  if (parse_->listener == nullptr) {
    replyAndClose(LocalReply::NoRoute, "listener removed from the config");
    return;
  }

  RequestInfo info;
  info.method = llhttp_method_name(static_cast<llhttp_method_t>(parse_->parser.method));
  info.http_minor = parse_->parser.http_minor;
  info.keep_alive = llhttp_should_keep_alive(&parse_->parser) != 0;
  info.chunked = (parse_->parser.flags & F_CHUNKED) != 0;
  info.has_content_length = (parse_->parser.flags & F_CONTENT_LENGTH) != 0 && !info.chunked;
  info.content_length = info.has_content_length ? parse_->parser.content_length : 0;
  bool has_body = info.chunked || info.content_length > 0;
  info.expect_continue = has_body && parse_->parser.http_minor >= 1 &&
                         equalsIgnoreCase(parse_->head.find("expect"), "100-continue");
  // llhttp's upgrade flag: Upgrade plus a "Connection: upgrade" option (RFC 9110 7.8), or
  // CONNECT, which the method says already.
  if (parse_->parser.upgrade != 0 && parse_->parser.method != HTTP_CONNECT) {
    info.upgrade = parse_->head.find("upgrade");
  }
  info.client_ip = client_ip_;
  info.start_unix_ms = unixMillis();
  info.start_loop_ms = uv_now(worker_.loop());

  // The stream routes with the snapshot running now (the one the worker's pools match);
  // it keeps that snapshot until it ends.
  SnapshotPtr snapshot = worker_.snapshot();
  const ListenerDef* listener = parse_->listener;
  for (const ListenerDef& candidate : snapshot->listeners) {
    if (candidate.name == listener_name_) {
      listener = &candidate;
      break;
    }
  }
  if (listener != parse_->listener) {
    parse_->snapshot = snapshot;
  }
  if (const char* problem = headProblem(parse_->parser, parse_->head)) {
    replyAndClose(LocalReply::BadRequest, problem);
    return;
  }

  input_ = Input::WaitingUpstream;
  stream_ =
      std::make_unique<Stream>(*this, worker_, parse_->snapshot, *listener, parse_->head, info);
  stream_->start();
}

void DownstreamConnection::finishRequestMessage() {
  if (stream_ == nullptr) {
    return;  // The stream answered early and is gone; streamFinished() chose what's next.
  }
  input_ = Input::RequestDone;
  stream_->onRequestComplete();
}

void DownstreamConnection::handleParseError(llhttp_errno_t error) {
  if (stream_ != nullptr) {
    if (body_too_large_) {
      stream_->failRequest(LocalReply::BodyTooLarge, "request body exceeds the limit");
    } else if (extensions_too_long_) {
      stream_->failRequest(LocalReply::BadRequest, "chunk extensions exceed the head limit");
    } else if (parse_->bad_chunk_end) {
      stream_->failRequest(LocalReply::BadRequest, "chunk data not followed by CRLF");
    } else {
      stream_->failRequest(LocalReply::BadRequest, llhttp_get_error_reason(&parse_->parser));
    }
    if (!closed_) {
      closeAfterFlush();
    }
    return;
  }

  LocalReply reply = LocalReply::BadRequest;
  std::string detail;
  switch (head_error_) {
    case HeadError::TooLarge:
      reply = LocalReply::HeadersTooLarge;
      detail = "request head exceeds max_request_headers_bytes";
      break;
    case HeadError::TooManyLines:
      reply = LocalReply::HeadersTooLarge;
      detail = "request head has more lines than max_request_headers_count";
      break;
    case HeadError::LineTooLong:
      reply = LocalReply::RequestLineTooLong;
      detail = "request line exceeds max_request_line_bytes";
      break;
    case HeadError::ObsFold:
      detail = "obs-fold (a header line starting with white space)";
      break;
    case HeadError::None:
      detail = error == HPE_PAUSED_H2_UPGRADE ? "HTTP/2 is not served here, only HTTP/1.1"
                                              : llhttp_get_error_reason(&parse_->parser);
      break;
  }
  TURNOUT_LOG(Debug, "downstream",
              "rejecting request from " + client_ip_ + ": " + llhttp_errno_name(error) + " " +
                  detail);
  replyAndClose(reply, detail);
}

void DownstreamConnection::replyAndClose(LocalReply reply, std::string_view detail) {
  writeLocalReply(reply, detail, false, outbox_.buffer());

  // No stream exists for a request rejected before routing; log it here so every answer
  // has its access log line.
  AccessRecord record;
  record.start_unix_ms = unixMillis();
  std::string_view target = parse_ != nullptr ? parse_->head.target() : std::string_view();
  record.method = target.empty() ? std::string_view("-")
                                 : std::string_view(llhttp_method_name(
                                       static_cast<llhttp_method_t>(parse_->parser.method)));
  record.path = target;
  record.status = localReplyStatus(reply);
  record.route = "-";
  record.error = localReplyCode(reply);
  worker_.accessLog().append(record);
  worker_.countRequest(nullptr, nullptr, record.status, 0);  // Under route "-" in /stats.
  closeAfterFlush();
}

// --- Called by the stream. ---

void DownstreamConnection::flushOutput() {
  if (closed_) {
    return;
  }
  if (outbox_.flush() < 0) {
    // Close on the next loop turn: the caller (a stream) is in the middle of its work.
    write_failed_ = true;
    timer_.arm(0);
  }
}

void DownstreamConnection::resumeRequest() {
  if (input_ != Input::WaitingUpstream) {
    return;
  }
  input_ = Input::Body;
  if (driving_) {
    return;  // drive() is on the stack and parses on with the bytes it holds.
  }
  drivePending();
}

void DownstreamConnection::pauseInput() {
  input_paused_ = true;
  updateReading();
}

void DownstreamConnection::resumeInput() {
  if (input_paused_) {
    input_paused_ = false;
    updateReading();
  }
}

void DownstreamConnection::streamFinished(bool keep_alive) {
  worker_.deferDelete(std::move(stream_));
  if (!keep_alive || !request_ended_ || worker_.draining() || write_failed_) {
    closeAfterFlush(clientMaySendMore());
    return;
  }
  beginNextRequest();
  if (!driving_) {
    drivePending();
  }
}

void DownstreamConnection::beginNextRequest() {
  input_ = Input::Head;
  head_last_byte_ = 0;
  request_started_ = false;
  if (parse_ != nullptr) {
    parse_->snapshot.reset();
    parse_->listener = nullptr;
  }
  idle_ms_ = 60000;
  allow_bare_lf_ = false;
  line_ends_ = HeadLineEnds{};
  for (const ListenerDef& listener : worker_.snapshot()->listeners) {
    if (listener.name == listener_name_) {
      // Held in 32 bits to keep the connection small: at most 49 days.
      idle_ms_ = static_cast<uint32_t>(std::min<uint64_t>(listener.idle_timeout_ms, UINT32_MAX));
      allow_bare_lf_ = listener.allow_bare_lf;
      break;
    }
  }

  // A connection that stays idle gives its parser and buffers back after a short while:
  // thousands of idle keep-alive clients then cost little more than their connection
  // objects, and a busy one does not reallocate between its requests.
  shrink_pending_ = idle_ms_ > kShrinkAfterMs;
  timer_.arm(shrink_pending_ ? kShrinkAfterMs : idle_ms_);
  updateReading();
}

void DownstreamConnection::shrinkWhileIdle() {
  shrink_pending_ = false;
  timer_.arm(idle_ms_ - kShrinkAfterMs);
  if (request_started_) {
    return;
  }
  outbox_.shrink();
  if (pending_.empty()) {
    std::string().swap(pending_);
    parse_.reset();  // No byte of a next request has come: the parser holds nothing.
  }
}

void DownstreamConnection::drain() {
  if (input_ == Input::Head && stream_ == nullptr && pending_.empty()) {
    closeNow();
  }
}

// --- Tunnels. ---

void DownstreamConnection::startTunnel(std::unique_ptr<Tunnel> tunnel,
                                       std::string_view from_upstream) {
  worker_.deferDelete(std::move(stream_));
  input_ = Input::Tunnel;
  parse_->snapshot.reset();
  parse_->listener = nullptr;
  parse_->head.shrink();  // The request head is sent; nothing reads it again.
  tunnel_ = std::move(tunnel);

  // Bytes read after the request head were never parsed: they are the tunnel's first.
  std::string from_client;
  from_client.swap(pending_);
  tunnel_->start(from_client, from_upstream);
  if (closed_) {
    return;
  }
  if (peer_closed_) {
    tunnel_->onClientEnd();  // The client sent FIN while the answer was awaited.
    return;
  }
  updateReading();
}

void DownstreamConnection::armTunnelTimer(uint64_t ms) {
  if (!closed_) {
    timer_.arm(ms);
  }
}

void DownstreamConnection::shutdownOutput() {
  if (closed_) {
    return;
  }
  auto* request = new uv_shutdown_t;
  request->data = this;
  if (uv_shutdown(request, reinterpret_cast<uv_stream_t*>(&tcp_),
                  &DownstreamConnection::onShutdown) != 0) {
    delete request;
    closeNow();
  }
}

void DownstreamConnection::onShutdown(uv_shutdown_t* request, int status) {
  // Runs before the handle's close callback, so the connection is still there.
  auto* self = static_cast<DownstreamConnection*>(request->data);
  delete request;
  if (status < 0 && !self->closed_) {
    self->closeNow();
  }
}

// --- Writing and closing. ---

void DownstreamConnection::onWriteDone(int status) {
  if (closed_) {
    return;
  }
  if (status < 0) {
    closeNow();
    return;
  }
  size_t queued = outbox_.queuedBytes();
  if (close_after_flush_ && queued == 0) {
    finishClose();
    return;
  }
  if (stream_ != nullptr && queued < kLowWatermarkBytes) {
    stream_->onDownstreamDrained();
  }
  if (tunnel_ != nullptr && queued < kLowWatermarkBytes) {
    tunnel_->onClientDrained();
  }
}

void DownstreamConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<DownstreamConnection*>(timer->data);
  if (!self->timer_.reached()) {
    return;
  }
  if (self->shrink_pending_ && self->input_ == Input::Head && !self->close_after_flush_ &&
      !self->write_failed_ && !self->lingering_) {
    // The moment to give buffers back. A head that has begun to arrive keeps them, and has
    // the rest of the idle timeout to complete: a slow link or a retransmission must not
    // lose it.
    self->shrinkWhileIdle();
    return;
  }
  if (self->input_ == Input::Tunnel && !self->write_failed_) {
    self->tunnel_->onIdleTimer();
    return;
  }
  // Every other use of the timer ends in a close: the idle or head timeout, the end of a
  // linger, or a write that failed inside a stream's call.
  self->closeNow();
}

bool DownstreamConnection::clientMaySendMore() {
  // RFC 9112 9.6: a client that sent "Connection: close" sends no further request on the
  // connection. With its whole request read and nothing of it unparsed, nothing can arrive
  // that a plain close would answer with a reset.
  bool said_close = request_ended_ && llhttp_should_keep_alive(&parse_->parser) == 0;
  return !(peer_closed_ || (said_close && pending_.empty()));
}

void DownstreamConnection::closeAfterFlush(bool linger) {
  if (closed_ || close_after_flush_) {
    return;
  }
  input_ = Input::Closing;
  close_after_flush_ = true;
  linger_ = linger;
  updateReading();
  flushOutput();
  if (!closed_ && outbox_.queuedBytes() == 0) {
    finishClose();
  }
}

void DownstreamConnection::finishClose() {
  if (linger_) {
    startLingering();
  } else {
    closeNow();
  }
}

// Half-closes and reads until the client's FIN (or kLingerMs), dropping what comes, so
// that bytes the client sent before it saw our response do not make the kernel reset the
// connection and destroy that response (RFC 9112 9.6). Called once everything queued is
// written, so shutdown() directly on the socket is safe and spares libuv's shutdown
// request, which waits for a writable event first.
void DownstreamConnection::startLingering() {
  if (lingering_ || closed_) {
    return;
  }
  lingering_ = true;

  uv_os_fd_t fd;
  bool shut = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0 &&
              ::shutdown(fd, SHUT_WR) == 0;
  if (!shut) {
    closeNow();
    return;
  }
  timer_.arm(kLingerMs);
  updateReading();
}

void DownstreamConnection::closeNow() {
  if (closed_) {
    return;
  }
  closed_ = true;
  input_ = Input::Closing;
  if (stream_ != nullptr) {
    stream_->abort("client_closed");
    worker_.deferDelete(std::move(stream_));
  }
  if (tunnel_ != nullptr) {
    tunnel_->close(worker_.draining() ? "drain_timeout" : "client_closed");
    worker_.deferDelete(std::move(tunnel_));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &DownstreamConnection::onClose);
  uv_close(timer_.handle(), &DownstreamConnection::onClose);
}

void DownstreamConnection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<DownstreamConnection*>(handle->data);
  if (--self->open_handles_ == 0) {
    self->worker_.removeConnection(self);
    delete self;
  }
}

}  // namespace turnout
