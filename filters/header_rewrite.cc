// Builds upstream request heads and downstream response heads from views of the
// originals, dropping what must not cross the proxy and adding what the proxy owes.
#include "filters/header_rewrite.h"

#include <array>
#include <charconv>

#include "filters/text.h"

namespace turnout {

namespace {

constexpr std::string_view kCrlf = "\r\n";

void appendNumber(uint64_t number, std::string* out) {
  std::array<char, 24> digits;
  const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), number);
  out->append(digits.data(), result.ptr);
}

void appendLine(std::string_view name, std::string_view value, std::string* out) {
  out->append(name).append(": ").append(value).append(kCrlf);
}

// The options of a head's Connection lines (RFC 9110 7.6.1): fields the sender declared
// meaningful for its own connection only. Gathered once per head, so that checking each
// field costs a short loop instead of a scan of every line.
class ConnectionOptions {
 public:
  explicit ConnectionOptions(std::span<const HeaderView> headers) : headers_(headers) {
    for (const HeaderView& header : headers) {
      if (equalsIgnoreCase(header.name, "connection")) {
        addLine(header.value);
      }
    }
  }

  bool lists(std::string_view name) const {
    if (overflow_) {
      return scanLines(name);
    }
    for (size_t i = 0; i < count_; ++i) {
      if (equalsIgnoreCase(options_[i], name)) {
        return true;
      }
    }
    return false;
  }

 private:
  void addLine(std::string_view value) {
    Splitter options(value, ',');
    std::string_view option;
    while (options.next(&option)) {
      option = trimSpaces(option);
      if (option.empty()) {
        continue;
      }
      if (count_ == options_.size()) {
        overflow_ = true;
        return;
      }
      options_[count_++] = option;
    }
  }

  // The slow path for a head that lists more options than fit: every Connection line is
  // split again for each field.
  bool scanLines(std::string_view name) const {
    for (const HeaderView& header : headers_) {
      if (!equalsIgnoreCase(header.name, "connection")) {
        continue;
      }
      Splitter options(header.value, ',');
      std::string_view option;
      while (options.next(&option)) {
        if (equalsIgnoreCase(trimSpaces(option), name)) {
          return true;
        }
      }
    }
    return false;
  }

  // Real heads list one or two options.
  std::span<const HeaderView> headers_;
  std::array<std::string_view, 8> options_;
  size_t count_ = 0;
  bool overflow_ = false;
};

bool isConnectionSpecific(std::string_view name, const ConnectionOptions& options) {
  return isHopByHop(name) || options.lists(name);
}

bool isEnabledDecisionHeader(std::string_view name, const DecisionHeadersDef* decision) {
  return decision != nullptr && decision->enabled &&
         (equalsIgnoreCase(name, decision->cluster_header) ||
          equalsIgnoreCase(name, decision->bucket_header));
}

bool keepInUpstreamRequest(const HeaderView& header, const UpstreamRequestHead& head,
                           const ConnectionOptions& options) {
  // Host identifies the origin end to end; a Connection line naming it is ignored.
  if (equalsIgnoreCase(header.name, "host")) {
    return true;
  }
  return !isConnectionSpecific(header.name, options) &&
         !equalsIgnoreCase(header.name, "content-length") &&
         !equalsIgnoreCase(header.name, "expect") &&
         !equalsIgnoreCase(header.name, kShadowHeader) &&
         !isEnabledDecisionHeader(header.name, head.decision_headers);
}

// The index of the last X-Forwarded-For line that will be forwarded, or -1.
ptrdiff_t lastForwardedFor(const UpstreamRequestHead& head, const ConnectionOptions& options) {
  ptrdiff_t last = -1;
  for (size_t i = 0; i < head.headers.size(); ++i) {
    const HeaderView& header = head.headers[i];
    if (equalsIgnoreCase(header.name, "x-forwarded-for") &&
        keepInUpstreamRequest(header, head, options)) {
      last = static_cast<ptrdiff_t>(i);
    }
  }
  return last;
}

bool hasHost(std::span<const HeaderView> headers) {
  for (const HeaderView& header : headers) {
    if (equalsIgnoreCase(header.name, "host")) {
      return true;
    }
  }
  return false;
}

// Copies the client's lines that may cross the proxy; returns whether one of them was an
// X-Forwarded-Proto.
bool writeClientLines(const UpstreamRequestHead& head, std::string* out) {
  const ConnectionOptions options(head.headers);
  const ptrdiff_t forwarded_for = lastForwardedFor(head, options);
  bool has_forwarded_proto = false;
  for (size_t i = 0; i < head.headers.size(); ++i) {
    const HeaderView& header = head.headers[i];
    if (!keepInUpstreamRequest(header, head, options)) {
      continue;
    }
    has_forwarded_proto = has_forwarded_proto || equalsIgnoreCase(header.name, "x-forwarded-proto");
    if (!head.host.empty() && equalsIgnoreCase(header.name, "host")) {
      appendLine(header.name, head.host, out);
      continue;
    }
    if (static_cast<ptrdiff_t>(i) != forwarded_for) {
      appendLine(header.name, header.value, out);
      continue;
    }

    // The last hop appends itself to the chain; an empty chain just starts with it.
    out->append(header.name).append(": ").append(header.value);
    if (!header.value.empty()) {
      out->append(", ");
    }
    out->append(head.client_ip).append(kCrlf);
  }
  if (forwarded_for < 0) {
    appendLine("x-forwarded-for", head.client_ip, out);
  }
  return has_forwarded_proto;
}

void writeRequestFraming(const UpstreamRequestHead& head, std::string* out) {
  switch (head.framing) {
    case RequestFraming::None:
      return;
    case RequestFraming::ContentLength:
      out->append("content-length: ");
      appendNumber(head.content_length, out);
      out->append(kCrlf);
      return;
    case RequestFraming::Chunked:
      out->append("transfer-encoding: chunked\r\n");
      return;
  }
}

void writeDecisionHeaders(const UpstreamRequestHead& head, std::string* out) {
  const DecisionHeadersDef* decision = head.decision_headers;
  if (decision == nullptr || !decision->enabled) {
    return;
  }
  appendLine(decision->cluster_header, head.cluster_name, out);
  out->append(decision->bucket_header).append(": ");
  appendNumber(head.bucket, out);
  out->append(kCrlf);
}

bool keepInDownstreamResponse(const HeaderView& header, const DownstreamResponseHead& head,
                              const ConnectionOptions& options) {
  if (isConnectionSpecific(header.name, options)) {
    return false;
  }

  bool framing_field = equalsIgnoreCase(header.name, "content-length") ||
                       equalsIgnoreCase(header.name, "transfer-encoding");
  if (head.tunnel && framing_field) {
    return false;
  }

  // The proxy re-frames the body, so the upstream's length is stale, except when there
  // is no body: then Content-Length describes the representation (HEAD, 304) and must
  // reach the client unchanged (RFC 9110 8.6). A 1xx or 204 never carries one (same
  // section): a client that believed it would wait for a body that never comes.
  if (equalsIgnoreCase(header.name, "content-length")) {
    bool never_has_length = head.status < 200 || head.status == 204;
    return head.framing == ResponseFraming::NoBody && !never_has_length;
  }
  return true;
}

void writeResponseFraming(const DownstreamResponseHead& head, std::string* out) {
  switch (head.framing) {
    case ResponseFraming::NoBody:
    case ResponseFraming::CloseDelimited:
      return;
    case ResponseFraming::ContentLength:
      out->append("content-length: ");
      appendNumber(head.content_length, out);
      out->append(kCrlf);
      return;
    case ResponseFraming::Chunked:
      out->append("transfer-encoding: chunked\r\n");
      return;
  }
}

void writeConnectionLine(const DownstreamResponseHead& head, std::string* out) {
  if (head.tunnel) {
    if (!head.upgrade.empty()) {
      appendLine("upgrade", head.upgrade, out);
      out->append("connection: upgrade\r\n");
    }
    return;
  }

  // A close-delimited body is only delimited if the proxy really closes afterwards.
  if (!head.keep_alive || head.framing == ResponseFraming::CloseDelimited) {
    out->append("connection: close\r\n");
    return;
  }

  // HTTP/1.1 is persistent by default; HTTP/1.0 only when told (RFC 9112 9.3).
  if (head.client_minor_version == 0) {
    out->append("connection: keep-alive\r\n");
  }
}

struct StatusReason {
  int status;
  std::string_view reason;
};

// RFC 9110 section 15's phrases for the statuses a proxy meets in practice.
constexpr StatusReason kReasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

}  // namespace

void writeUpstreamRequestHead(const UpstreamRequestHead& head, std::string* out) {
  out->append(head.method).append(" ").append(head.target).append(" HTTP/1.1\r\n");

  const bool has_forwarded_proto = writeClientLines(head, out);
  if (!has_forwarded_proto) {
    out->append("x-forwarded-proto: http\r\n");
  }
  if (!head.request_id.empty()) {
    appendLine("x-request-id", head.request_id, out);
  }
  if (!head.host.empty() && !hasHost(head.headers)) {
    appendLine("host", head.host, out);
  }

  writeRequestFraming(head, out);
  if (!head.upgrade.empty()) {
    appendLine("upgrade", head.upgrade, out);
    out->append("connection: upgrade\r\n");
  }
  writeDecisionHeaders(head, out);
  out->append(kCrlf);
}

void writeDownstreamResponseHead(const DownstreamResponseHead& head, std::string* out) {
  const std::string_view reason = head.reason.empty() ? reasonPhrase(head.status) : head.reason;
  out->append("HTTP/1.1 ");
  appendNumber(static_cast<uint64_t>(head.status), out);
  out->append(" ").append(reason).append(kCrlf);

  const ConnectionOptions options(head.headers);
  for (const HeaderView& header : head.headers) {
    if (keepInDownstreamResponse(header, head, options)) {
      appendLine(header.name, header.value, out);
    }
  }

  writeResponseFraming(head, out);
  writeConnectionLine(head, out);
  for (const HeaderView& header : head.extra_headers) {
    appendLine(header.name, header.value, out);
  }
  out->append(kCrlf);
}

std::string stickyCookieValue(const StickyCookieDef& cookie, uint32_t bucket) {
  std::string value = cookie.name;
  value.append("=");
  appendNumber(bucket, &value);
  value.append("; Path=").append(cookie.path);
  if (cookie.max_age_seconds > 0) {
    value.append("; Max-Age=");
    appendNumber(static_cast<uint64_t>(cookie.max_age_seconds), &value);
  }
  return value;
}

std::string_view reasonPhrase(int status) {
  for (const StatusReason& entry : kReasons) {
    if (entry.status == status) {
      return entry.reason;
    }
  }
  return "";
}

bool isHopByHop(std::string_view name) {
  // Every header line of every message passes here, so the length picks the candidates
  // before any byte is compared.
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te");
    case 7:
      return equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade");
    case 10:
      return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 16:
      return equalsIgnoreCase(name, "proxy-connection");
    case 17:
      return equalsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

}  // namespace turnout
