// The answers the proxy gives itself, without an upstream.
#include "proxy/local_reply.h"

#include "filters/header_rewrite.h"

namespace turnout {

int localReplyStatus(LocalReply reply) {
  switch (reply) {
    case LocalReply::BadRequest:
    case LocalReply::ConnectNotEnabled:
      return 400;
    case LocalReply::NoRoute:
      return 404;
    case LocalReply::BodyTooLarge:
      return 413;
    case LocalReply::RequestLineTooLong:
      return 414;
    case LocalReply::HeadersTooLarge:
      return 431;
    case LocalReply::UpstreamConnectFailed:
    case LocalReply::UpstreamReset:
    case LocalReply::UpstreamBadResponse:
      return 502;
    case LocalReply::NoEndpoint:
    case LocalReply::NoHealthyEndpoint:
      return 503;
    case LocalReply::UpstreamConnectTimeout:
    case LocalReply::UpstreamTimeout:
      return 504;
  }
  return 500;
}

std::string_view localReplyCode(LocalReply reply) {
  switch (reply) {
    case LocalReply::BadRequest:
      return "bad_request";
    case LocalReply::ConnectNotEnabled:
      return "connect_not_enabled";
    case LocalReply::NoRoute:
      return "no_route";
    case LocalReply::BodyTooLarge:
      return "body_too_large";
    case LocalReply::RequestLineTooLong:
      return "request_line_too_long";
    case LocalReply::HeadersTooLarge:
      return "headers_too_large";
    case LocalReply::UpstreamConnectFailed:
      return "upstream_connect_failed";
    case LocalReply::UpstreamReset:
      return "upstream_reset";
    case LocalReply::UpstreamBadResponse:
      return "upstream_bad_response";
    case LocalReply::NoEndpoint:
      return "no_endpoint";
    case LocalReply::NoHealthyEndpoint:
      return "no_healthy_endpoint";
    case LocalReply::UpstreamConnectTimeout:
      return "upstream_connect_timeout";
    case LocalReply::UpstreamTimeout:
      return "upstream_timeout";
  }
  return "internal_error";
}

void writeLocalReply(LocalReply reply, std::string_view detail, bool keep_alive,
                     std::string* out) {
  int status = localReplyStatus(reply);
  std::string body(localReplyCode(reply));
  body.append(": ").append(detail).append("\n");

  out->append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out->append(reasonPhrase(status)).append("\r\n");
  out->append("content-type: text/plain\r\n");
  out->append("content-length: ").append(std::to_string(body.size())).append("\r\n");
  if (!keep_alive) {
    out->append("connection: close\r\n");
  }
  out->append("\r\n").append(body);
}

}  // namespace turnout
