// The answers the proxy gives itself, without an upstream: every error status.
#pragma once

#include <string>
#include <string_view>

namespace turnout {

// Why the proxy answered a request itself. Each has one status and one code, and the code
// is both the first word of the body and the access log's error field.
enum class LocalReply {
  BadRequest,              // 400: the request is not valid HTTP/1.1.
  ConnectNotEnabled,       // 400: CONNECT, and no route of the listener accepts it.
  NoRoute,                 // 404: no virtual host or route matches.
  BodyTooLarge,            // 413: the body exceeds the listener's max_request_body_bytes.
  RequestLineTooLong,      // 414: the request line exceeds max_request_line_bytes.
  HeadersTooLarge,         // 431: the head exceeds max_request_headers_bytes or _count.
  UpstreamConnectFailed,   // 502: connecting to the endpoint failed.
  UpstreamReset,           // 502: the endpoint closed or reset the connection.
  UpstreamBadResponse,     // 502: the endpoint's response is not valid HTTP/1.1.
  NoEndpoint,              // 503: the chosen cluster has no endpoint.
  NoHealthyEndpoint,       // 503: no endpoint is healthy and nothing may take over.
  UpstreamConnectTimeout,  // 504: connecting took longer than connect_timeout.
  UpstreamTimeout,         // 504: no response head within the route's timeout.
};

int localReplyStatus(LocalReply reply);
std::string_view localReplyCode(LocalReply reply);

// Appends a complete response: status line, content-type, content-length, a connection
// header when closing, and the body "<code>: <detail>\n".
void writeLocalReply(LocalReply reply, std::string_view detail, bool keep_alive,
                     std::string* out);

}  // namespace turnout
