// Tests the bytes of upstream request heads and downstream response heads.
#include "filters/header_rewrite.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace turnout {
namespace {

// One upstream request scenario: the client's lines and the proxy's additions in, the
// exact head out. The request is always "GET /a?b=1" from 192.0.2.7, sent to cluster
// "canary" with bucket 42.
struct RequestCase {
  std::string name;
  std::vector<HeaderView> headers;
  std::string_view request_id;
  RequestFraming framing;
  uint64_t content_length;
  bool decision_headers_enabled;
  std::string expected;
};

// Failure messages name the scenario instead of dumping the struct's bytes.
void PrintTo(const RequestCase& c, std::ostream* os) {
  *os << c.name;
}

class UpstreamRequestHeadBytes : public ::testing::TestWithParam<RequestCase> {};

TEST_P(UpstreamRequestHeadBytes, MatchExactly) {
  const RequestCase& c = GetParam();
  DecisionHeadersDef decision;
  decision.enabled = c.decision_headers_enabled;

  UpstreamRequestHead head;
  head.method = "GET";
  head.target = "/a?b=1";
  head.headers = c.headers;
  head.client_ip = "192.0.2.7";
  head.request_id = c.request_id;
  head.framing = c.framing;
  head.content_length = c.content_length;
  head.decision_headers = &decision;
  head.cluster_name = "canary";
  head.bucket = 42;

  std::string out = "kept:";
  writeUpstreamRequestHead(head, &out);
  EXPECT_EQ(out, "kept:" + c.expected);
}

std::string requestCaseName(const ::testing::TestParamInfo<RequestCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UpstreamRequestHeadBytes,
    ::testing::Values(
        RequestCase{"PlainRequestGainsProxyHeaders",
                    {{"Host", "Example.com:8080"}, {"user-agent", "t/1"}, {"Accept", "*/*"}},
                    "rid-1",
                    RequestFraming::None,
                    0,
                    true,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: Example.com:8080\r\n"
                    "user-agent: t/1\r\n"
                    "Accept: */*\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "x-request-id: rid-1\r\n"
                    "x-turnout-cluster: canary\r\n"
                    "x-turnout-bucket: 42\r\n"
                    "\r\n"},
        RequestCase{"HopByHopAndConnectionListedRemoved",
                    {{"Host", "h"},
                     {"Connection", "keep-alive, X-Secret"},
                     {"Keep-Alive", "timeout=5"},
                     {"x-secret", "s"},
                     {"TE", "trailers"},
                     {"Trailer", "x-sum"},
                     {"Upgrade", "websocket"},
                     {"Proxy-Connection", "keep-alive"},
                     {"Connection", "x-more"},
                     {"X-More", "m"},
                     {"X-Kept", "k"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "X-Kept: k\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"EveryListedOptionRemovedPastEight",
                    {{"Host", "h"},
                     {"Connection", "a1, a2, a3, a4, a5, a6"},
                     {"Connection", "a7, a8, a9, X-Tenth"},
                     {"x-tenth", "t"},
                     {"a2", "2"},
                     {"X-Kept", "k"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "X-Kept: k\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"ClientShadowMarkDropped",
                    {{"Host", "h"}, {"X-Turnout-Shadow", "1"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"HostSurvivesConnectionListingIt",
                    {{"Host", "h"}, {"Connection", "host"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"ForwardedForAppendedToLastLine",
                    {{"X-Forwarded-For", "198.51.100.1"},
                     {"Host", "h"},
                     {"X-Forwarded-For", "198.51.100.2, 198.51.100.3"},
                     {"X-Forwarded-Proto", "https"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "X-Forwarded-For: 198.51.100.1\r\n"
                    "Host: h\r\n"
                    "X-Forwarded-For: 198.51.100.2, 198.51.100.3, 192.0.2.7\r\n"
                    "X-Forwarded-Proto: https\r\n"
                    "\r\n"},
        RequestCase{"EmptyForwardedForStartsChain",
                    {{"Host", "h"}, {"x-forwarded-for", ""}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"ForwardedForListedInConnectionIsReplaced",
                    {{"Host", "h"}, {"Connection", "X-Forwarded-For"}, {"X-Forwarded-For", "x"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"ClientRequestIdKept",
                    {{"Host", "h"}, {"X-Request-ID", "client-7"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "X-Request-ID: client-7\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"DecisionHeadersReplaced",
                    {{"Host", "h"},
                     {"X-Turnout-Cluster", "stable"},
                     {"x-turnout-bucket", "1"},
                     {"X-Turnout-Bucket", "2"}},
                    "rid-2",
                    RequestFraming::None,
                    0,
                    true,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "x-request-id: rid-2\r\n"
                    "x-turnout-cluster: canary\r\n"
                    "x-turnout-bucket: 42\r\n"
                    "\r\n"},
        RequestCase{"DisabledDecisionHeadersPassThrough",
                    {{"Host", "h"}, {"X-Turnout-Bucket", "17"}},
                    "",
                    RequestFraming::None,
                    0,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "X-Turnout-Bucket: 17\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "\r\n"},
        RequestCase{"ContentLengthAndExpectReplacedByFraming",
                    {{"Host", "h"},
                     {"Content-Length", "5"},
                     {"Expect", "100-continue"},
                     {"Content-Type", "text/plain"}},
                    "",
                    RequestFraming::ContentLength,
                    5,
                    false,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "Content-Type: text/plain\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "content-length: 5\r\n"
                    "\r\n"},
        RequestCase{"ChunkedBodyReframed",
                    {{"Host", "h"}, {"Transfer-Encoding", "chunked"}},
                    "rid-3",
                    RequestFraming::Chunked,
                    0,
                    true,
                    "GET /a?b=1 HTTP/1.1\r\n"
                    "Host: h\r\n"
                    "x-forwarded-for: 192.0.2.7\r\n"
                    "x-forwarded-proto: http\r\n"
                    "x-request-id: rid-3\r\n"
                    "transfer-encoding: chunked\r\n"
                    "x-turnout-cluster: canary\r\n"
                    "x-turnout-bucket: 42\r\n"
                    "\r\n"}),
    requestCaseName);

TEST(UpstreamRequestHead, NoDecisionDefinitionAddsNoDecisionHeaders) {
  const std::vector<HeaderView> headers = {{"Host", "h"}, {"x-turnout-cluster", "c"}};
  UpstreamRequestHead head;
  head.method = "POST";
  head.target = "/";
  head.headers = headers;
  head.client_ip = "::1";
  head.framing = RequestFraming::ContentLength;
  head.content_length = 0;

  std::string out;
  writeUpstreamRequestHead(head, &out);
  EXPECT_EQ(out,
            "POST / HTTP/1.1\r\nHost: h\r\nx-turnout-cluster: c\r\nx-forwarded-for: ::1\r\n"
            "x-forwarded-proto: http\r\ncontent-length: 0\r\n\r\n");
}

TEST(UpstreamRequestHead, CustomDecisionHeaderNamesUsed) {
  const std::vector<HeaderView> headers = {{"Host", "h"}, {"X-Pool", "forged"}};
  DecisionHeadersDef decision;
  decision.cluster_header = "x-pool";
  decision.bucket_header = "x-slot";
  UpstreamRequestHead head;
  head.method = "GET";
  head.target = "/";
  head.headers = headers;
  head.client_ip = "127.0.0.1";
  head.decision_headers = &decision;
  head.cluster_name = "blue";
  head.bucket = 0;

  std::string out;
  writeUpstreamRequestHead(head, &out);
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 127.0.0.1\r\n"
            "x-forwarded-proto: http\r\nx-pool: blue\r\nx-slot: 0\r\n\r\n");
}

// One downstream response scenario.
struct ResponseCase {
  std::string name;
  int status;
  std::string_view reason;
  std::vector<HeaderView> headers;
  ResponseFraming framing;
  uint64_t content_length;
  bool keep_alive;
  int client_minor_version;
  std::string expected;
};

void PrintTo(const ResponseCase& c, std::ostream* os) {
  *os << c.name;
}

class DownstreamResponseHeadBytes : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(DownstreamResponseHeadBytes, MatchExactly) {
  const ResponseCase& c = GetParam();
  DownstreamResponseHead head;
  head.status = c.status;
  head.reason = c.reason;
  head.headers = c.headers;
  head.framing = c.framing;
  head.content_length = c.content_length;
  head.keep_alive = c.keep_alive;
  head.client_minor_version = c.client_minor_version;

  std::string out;
  writeDownstreamResponseHead(head, &out);
  EXPECT_EQ(out, c.expected);
}

std::string responseCaseName(const ::testing::TestParamInfo<ResponseCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DownstreamResponseHeadBytes,
    ::testing::Values(
        ResponseCase{"LengthReframedForKeepAliveClient",
                     200,
                     "OK",
                     {{"Content-Type", "text/plain"}, {"Content-Length", "5"}, {"ETag", "\"e\""}},
                     ResponseFraming::ContentLength,
                     5,
                     true,
                     1,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/plain\r\n"
                     "ETag: \"e\"\r\n"
                     "content-length: 5\r\n"
                     "\r\n"},
        ResponseCase{"UpstreamReasonPhraseKept",
                     200,
                     "Fine Thanks",
                     {},
                     ResponseFraming::ContentLength,
                     0,
                     true,
                     1,
                     "HTTP/1.1 200 Fine Thanks\r\ncontent-length: 0\r\n\r\n"},
        ResponseCase{"MissingReasonPhraseFilledIn",
                     503,
                     "",
                     {},
                     ResponseFraming::ContentLength,
                     0,
                     true,
                     1,
                     "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"},
        ResponseCase{"UnknownStatusGetsEmptyReason",
                     299,
                     "",
                     {},
                     ResponseFraming::ContentLength,
                     0,
                     true,
                     1,
                     "HTTP/1.1 299 \r\ncontent-length: 0\r\n\r\n"},
        ResponseCase{"HopByHopAndConnectionListedRemoved",
                     200,
                     "OK",
                     {{"Connection", "keep-alive, X-Internal"},
                      {"Keep-Alive", "timeout=5"},
                      {"Transfer-Encoding", "chunked"},
                      {"x-internal", "1"},
                      {"Upgrade", "h2c"},
                      {"Vary", "Accept"}},
                     ResponseFraming::Chunked,
                     0,
                     true,
                     1,
                     "HTTP/1.1 200 OK\r\nVary: Accept\r\ntransfer-encoding: chunked\r\n\r\n"},
        ResponseCase{"Http10ClientToldKeepAlive",
                     200,
                     "OK",
                     {{"Content-Length", "2"}},
                     ResponseFraming::ContentLength,
                     2,
                     true,
                     0,
                     "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n"},
        ResponseCase{"ClosingConnectionSaysClose",
                     404,
                     "Not Found",
                     {{"Connection", "keep-alive"}},
                     ResponseFraming::ContentLength,
                     9,
                     false,
                     1,
                     "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\n"},
        ResponseCase{"CloseDelimitedBodyForcesClose",
                     200,
                     "OK",
                     {{"Content-Type", "text/html"}},
                     ResponseFraming::CloseDelimited,
                     0,
                     true,
                     0,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nconnection: close\r\n\r\n"},
        ResponseCase{"NoBodyKeepsUpstreamLength",
                     304,
                     "Not Modified",
                     {{"ETag", "\"e\""}, {"Content-Length", "1234"}},
                     ResponseFraming::NoBody,
                     0,
                     true,
                     1,
                     "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\nContent-Length: 1234\r\n\r\n"},
        ResponseCase{"NoBodyStillDropsTransferEncoding",
                     200,
                     "OK",
                     {{"Transfer-Encoding", "chunked"}},
                     ResponseFraming::NoBody,
                     0,
                     true,
                     1,
                     "HTTP/1.1 200 OK\r\n\r\n"}),
    responseCaseName);

TEST(DownstreamResponseHead, ExtraLinesComeLast) {
  const std::vector<HeaderView> headers = {{"Content-Length", "3"}};
  const std::string cookie = "tb=17; Path=/; Max-Age=60";
  const std::vector<HeaderView> extra = {{"set-cookie", cookie}, {"x-request-id", "rid-9"}};
  DownstreamResponseHead head;
  head.status = 200;
  head.headers = headers;
  head.framing = ResponseFraming::ContentLength;
  head.content_length = 3;
  head.keep_alive = false;
  head.extra_headers = extra;

  std::string out;
  writeDownstreamResponseHead(head, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n"
            "set-cookie: tb=17; Path=/; Max-Age=60\r\nx-request-id: rid-9\r\n\r\n");
}

TEST(StickyCookieValue, CarriesBucketPathAndMaxAge) {
  StickyCookieDef cookie;
  cookie.enabled = true;
  cookie.name = "tb";
  cookie.max_age_seconds = 2592000;
  EXPECT_EQ(stickyCookieValue(cookie, 42), "tb=42; Path=/; Max-Age=2592000");
}

TEST(StickyCookieValue, SessionCookieHasNoMaxAge) {
  StickyCookieDef cookie;
  cookie.name = "tb";
  cookie.path = "/shop";
  cookie.max_age_seconds = 0;
  EXPECT_EQ(stickyCookieValue(cookie, 0), "tb=0; Path=/shop");
}

TEST(IsHopByHop, KnowsTheConnectionSpecificFields) {
  for (const std::string_view name : {"Connection", "keep-alive", "PROXY-CONNECTION", "te",
                                      "Trailer", "transfer-encoding", "Upgrade"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (const std::string_view name : {"Content-Length", "Expect", "Host", "Trailers", "tE2"}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(ReasonPhrase, MatchesStatus) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(413), "Content Too Large");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reasonPhrase(502), "Bad Gateway");
  EXPECT_EQ(reasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(reasonPhrase(299), "");
}

TEST(UpstreamRequestHead, TunnelledUpgradeIsForwardedWithConnectionUpgrade) {
  std::vector<HeaderView> headers = {{"Host", "h"},
                                     {"Connection", "Upgrade"},
                                     {"Upgrade", "websocket"},
                                     {"Sec-WebSocket-Key", "k"}};
  UpstreamRequestHead head;
  head.method = "GET";
  head.target = "/chat";
  head.headers = headers;
  head.client_ip = "192.0.2.7";
  head.upgrade = "websocket";

  std::string out;
  writeUpstreamRequestHead(head, &out);
  EXPECT_EQ(out,
            "GET /chat HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\n"
            "x-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\n"
            "upgrade: websocket\r\nconnection: upgrade\r\n\r\n");
}

TEST(DownstreamResponseHead, SwitchingProtocolsKeepsUpgradeAndDropsFraming) {
  std::vector<HeaderView> headers = {{"Upgrade", "websocket"},
                                     {"Connection", "Upgrade"},
                                     {"Content-Length", "0"},
                                     {"Sec-WebSocket-Accept", "a"}};
  DownstreamResponseHead head;
  head.status = 101;
  head.headers = headers;
  head.tunnel = true;
  head.upgrade = "websocket";

  std::string out;
  writeDownstreamResponseHead(head, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a\r\n"
            "upgrade: websocket\r\nconnection: upgrade\r\n\r\n");
}

TEST(DownstreamResponseHead, ConnectTunnelAnswerHasNoFramingNorConnectionLine) {
  // RFC 9110 9.3.6: a 2xx to CONNECT carries no Content-Length or Transfer-Encoding.
  std::vector<HeaderView> headers = {{"Transfer-Encoding", "chunked"}, {"Via", "x"}};
  DownstreamResponseHead head;
  head.status = 200;
  head.reason = "Connection Established";
  head.headers = headers;
  head.tunnel = true;

  std::string out;
  writeDownstreamResponseHead(head, &out);
  EXPECT_EQ(out, "HTTP/1.1 200 Connection Established\r\nVia: x\r\n\r\n");
}

}  // namespace
}  // namespace turnout
