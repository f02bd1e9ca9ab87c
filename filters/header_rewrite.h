// Serializes the request head sent upstream and the response head sent downstream.
//
// Pure functions: they read views and append bytes to a string, do no I/O, keep nothing
// and run on any thread. The proxy decides framing and keep-alive; these functions turn
// the decisions into header lines (RFC 9112 for the message syntax, RFC 9110 7.6 for
// which fields a proxy must not forward).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/snapshot.h"
#include "filters/request_view.h"

namespace turnout {

// Marks a copy of a request sent to a mirror cluster (a parallel run). The proxy drops any
// client line of this name, so an upstream can trust it.
inline constexpr std::string_view kShadowHeader = "x-turnout-shadow";

// How the request body travels to the upstream.
enum class RequestFraming {
  None,           // No body: no framing header at all.
  ContentLength,  // "content-length: <content_length>".
  Chunked,        // "transfer-encoding: chunked" (the client sent chunked).
};

// Everything that shapes the upstream request head. Views must stay valid for the call.
struct UpstreamRequestHead {
  std::string_view method;  // As received, e.g. "GET".
  std::string_view target;  // The request-target exactly as received ("/a/b?c=1").

  // Every client header line, in client order, names spelled as the client did.
  std::span<const HeaderView> headers;

  std::string_view client_ip;  // Appended to X-Forwarded-For.

  // Sent as "x-request-id: <request_id>" when not empty. The caller leaves it empty when
  // the client sent its own x-request-id, which is then forwarded unchanged.
  std::string_view request_id;

  // When not empty, the Host the upstream gets instead of the client's: the authority of
  // an absolute-form target (RFC 9112 3.2.2), or the endpoint for an HTTP/1.0 request
  // that had none (HTTP/1.1 requires one). Replaces the client's Host line in place, or
  // is added after x-request-id.
  std::string_view host;

  RequestFraming framing = RequestFraming::None;
  uint64_t content_length = 0;  // Used with RequestFraming::ContentLength only.

  // When not empty, the request asks the upstream to switch to this protocol (the client's
  // Upgrade value) and the proxy will tunnel on a 101: "upgrade: <upgrade>" and
  // "connection: upgrade" are written (RFC 9110 7.8). Empty: Upgrade is dropped like any
  // hop-by-hop field.
  std::string_view upgrade;

  // The routing decision. With decision_headers null or disabled, no decision header is
  // added and client lines with those names pass through untouched (a chain of proxies
  // may rely on them); when enabled, the client's lines are dropped and replaced.
  const DecisionHeadersDef* decision_headers = nullptr;
  std::string_view cluster_name;
  uint32_t bucket = 0;
};

// Appends to `out`: "METHOD TARGET HTTP/1.1", then every client line in order except
//   - hop-by-hop fields (see isHopByHop) and every field a Connection line names, except
//     Host, which an end-to-end request cannot lose;
//   - Content-Length (re-added from `framing`) and Expect (the proxy has answered
//     100-continue itself, RFC 9110 10.1.1);
//   - lines named like enabled decision headers (never trusted from the client);
//   - kShadowHeader lines (only the proxy marks shadow traffic);
// with the last kept X-Forwarded-For line extended by ", <client_ip>". Then, in order:
// "x-forwarded-for: <client_ip>" if no line was kept, "x-forwarded-proto: http" if the
// client sent none, "x-request-id", the framing line, the upgrade lines, the decision
// headers, and the empty line ending the head.
void writeUpstreamRequestHead(const UpstreamRequestHead& head, std::string* out);

// How the response body travels to the client.
enum class ResponseFraming {
  NoBody,          // HEAD, 1xx, 204, 304: an upstream Content-Length is forwarded as is.
  ContentLength,   // "content-length: <content_length>".
  Chunked,         // "transfer-encoding: chunked"; HTTP/1.1 clients only.
  CloseDelimited,  // The body ends when the connection closes: implies connection: close.
};

// Everything that shapes the downstream response head. Views must stay valid for the
// call.
struct DownstreamResponseHead {
  int status = 200;

  // The upstream's reason phrase, forwarded as sent; empty: reasonPhrase(status).
  std::string_view reason;

  // Every upstream header line, in upstream order.
  std::span<const HeaderView> headers;

  ResponseFraming framing = ResponseFraming::NoBody;
  uint64_t content_length = 0;  // Used with ResponseFraming::ContentLength only.

  // Whether the proxy keeps the client connection open after this response.
  bool keep_alive = true;

  // The client's HTTP/1.x minor version (0 or 1): an HTTP/1.0 client needs an explicit
  // "connection: keep-alive" to keep its connection open (RFC 9112 9.3).
  int client_minor_version = 1;

  // Lines the proxy adds after everything else, e.g. the sticky bucket's Set-Cookie.
  std::span<const HeaderView> extra_headers;

  // The response turns the connection into a tunnel: a 101 to an Upgrade request, or a
  // 2xx to CONNECT. No framing field is written, nor an upstream Content-Length or
  // Transfer-Encoding (RFC 9110 9.3.6: a 2xx to CONNECT has none; a 101 has no content).
  bool tunnel = false;

  // With tunnel: the protocol switched to, written as "upgrade: <upgrade>" with
  // "connection: upgrade" (RFC 9110 15.2.2). Empty for CONNECT: no Connection line.
  std::string_view upgrade;
};

// Appends to `out`: "HTTP/1.1 <status> <reason>", every upstream line in order except
// hop-by-hop fields, fields named in a Connection line, Content-Length and
// Transfer-Encoding (with NoBody an upstream Content-Length is kept as is); then the
// framing line; "connection: close" when !keep_alive or close-delimited, else
// "connection: keep-alive" for an HTTP/1.0 client (a tunnel: the upgrade lines instead);
// then the extra lines and the empty line.
void writeDownstreamResponseHead(const DownstreamResponseHead& head, std::string* out);

// The value of the Set-Cookie line that remembers a randomly drawn bucket, e.g.
// "tb=4711; Path=/; Max-Age=2592000" (no Max-Age for a session cookie). It carries the
// bucket, not the cluster, so a later weight change moves the client monotonically.
std::string stickyCookieValue(const StickyCookieDef& cookie, uint32_t bucket);

// The standard reason phrase of a status (RFC 9110 15), or "" for one not listed.
std::string_view reasonPhrase(int status);

// True for the fields meaningful for one connection only (RFC 9110 7.6.1, and Trailer from
// RFC 2616 13.5.1's list): Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding and Upgrade. Case-insensitive. Fields listed in a Connection line are
// hop-by-hop too; the writers above check those separately.
bool isHopByHop(std::string_view name);

}  // namespace turnout
