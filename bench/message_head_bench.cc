// Measures the per-request head work around the filters: parsing a request head with
// llhttp into a MessageHead and writing it upstream, and the same for the response going
// back, driven the way the proxy's connections drive them (one parser per connection,
// reused from one keep-alive message to the next).
#include <benchmark/benchmark.h>
#include <llhttp.h>

#include <string>
#include <string_view>

#include "filters/header_rewrite.h"
#include "proxy/message_head.h"

namespace turnout {
namespace {

// What wrk sends: a request line and Host.
constexpr std::string_view kMinimalRequest =
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1:21082\r\n"
    "\r\n";

// Ten lines, as a browser sends them through a gateway.
constexpr std::string_view kBrowserRequest =
    "GET /cart/items?page=2&sort=price HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-GB,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=4f1c2b9e; theme=dark; uid=user-48213\r\n"
    "Connection: keep-alive\r\n"
    "X-Forwarded-For: 198.51.100.23\r\n"
    "X-Route: route-99\r\n"
    "X-User: user-48213\r\n"
    "\r\n";

// What the benchmark's backend nginx answers on "/".
constexpr std::string_view kBackendResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Fri, 04 Dec 2026 17:05:00 GMT\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Length: 5\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "blue\n";

constexpr size_t kHeadLimit = 65536;

// The head callbacks of both proxy connections, reduced to their MessageHead work.
MessageHead& headOf(llhttp_t* parser) {
  return *static_cast<MessageHead*>(parser->data);
}

int onMessageBegin(llhttp_t* parser) {
  headOf(parser).reset(kHeadLimit);
  return 0;
}

int onUrl(llhttp_t* parser, const char* data, size_t length) {
  return headOf(parser).appendTarget(data, length) ? 0 : -1;
}

int onStatus(llhttp_t* parser, const char* data, size_t length) {
  return headOf(parser).appendStatus(data, length) ? 0 : -1;
}

int onHeaderField(llhttp_t* parser, const char* data, size_t length) {
  return headOf(parser).appendField(data, length) ? 0 : -1;
}

int onHeaderValue(llhttp_t* parser, const char* data, size_t length) {
  return headOf(parser).appendValue(data, length) ? 0 : -1;
}

int onHeadersComplete(llhttp_t* parser) {
  headOf(parser).finish();
  return 0;
}

// Pauses after each message, as the proxy does, so that a pipelined next one waits.
int onMessageComplete(llhttp_t* parser) {
  return HPE_PAUSED;
}

llhttp_settings_t headSettings() {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_begin = &onMessageBegin;
  settings.on_url = &onUrl;
  settings.on_status = &onStatus;
  settings.on_header_field = &onHeaderField;
  settings.on_header_value = &onHeaderValue;
  settings.on_headers_complete = &onHeadersComplete;
  settings.on_message_complete = &onMessageComplete;
  return settings;
}

// Parses one whole message; false when llhttp refused it.
bool parseMessage(llhttp_t* parser, std::string_view bytes) {
  llhttp_errno_t error = llhttp_execute(parser, bytes.data(), bytes.size());
  if (error != HPE_PAUSED) {
    return false;
  }
  llhttp_resume(parser);
  return true;
}

void BM_ParseRequestHead(benchmark::State& state, std::string_view request) {
  const llhttp_settings_t settings = headSettings();
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  MessageHead head;
  parser.data = &head;

  for (auto _ : state) {
    if (!parseMessage(&parser, request)) {
      state.SkipWithError("llhttp refused the request");
      break;
    }
    benchmark::DoNotOptimize(head.headers().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
}
BENCHMARK_CAPTURE(BM_ParseRequestHead, minimal, kMinimalRequest);
BENCHMARK_CAPTURE(BM_ParseRequestHead, browser, kBrowserRequest);

// Parse, then write the upstream head from the parsed lines: the whole per-request head
// cost on the way up, except the filters (route_match_bench.cc measures those).
void BM_ParseAndRewriteRequestHead(benchmark::State& state, std::string_view request) {
  const llhttp_settings_t settings = headSettings();
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  MessageHead head;
  parser.data = &head;
  const DecisionHeadersDef decision;
  std::string out;

  for (auto _ : state) {
    if (!parseMessage(&parser, request)) {
      state.SkipWithError("llhttp refused the request");
      break;
    }
    UpstreamRequestHead upstream;
    upstream.method = llhttp_method_name(static_cast<llhttp_method_t>(parser.method));
    upstream.target = head.target();
    upstream.headers = head.headers();
    upstream.client_ip = "127.0.0.1";
    upstream.request_id = "0f6c2a1e-5b7d-4c1f-9a8e-2d3b4c5d6e7f";
    upstream.decision_headers = &decision;
    upstream.cluster_name = "blue";
    upstream.bucket = 4711;

    // A connection reuses its output buffer, so the steady state does not reallocate.
    out.clear();
    writeUpstreamRequestHead(upstream, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK_CAPTURE(BM_ParseAndRewriteRequestHead, minimal, kMinimalRequest);
BENCHMARK_CAPTURE(BM_ParseAndRewriteRequestHead, browser, kBrowserRequest);

// The way back: parse the backend's response (head and its 5-byte body) and write the
// head the client gets.
void BM_ParseAndRewriteResponseHead(benchmark::State& state) {
  const llhttp_settings_t settings = headSettings();
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  MessageHead head;
  parser.data = &head;
  std::string out;

  for (auto _ : state) {
    if (!parseMessage(&parser, kBackendResponse)) {
      state.SkipWithError("llhttp refused the response");
      break;
    }
    DownstreamResponseHead downstream;
    downstream.status = parser.status_code;
    downstream.reason = head.status();
    downstream.headers = head.headers();
    downstream.framing = ResponseFraming::ContentLength;
    // llhttp counts content_length down while it reads the body; the proxy reads it when
    // the head completes, before the body.
    downstream.content_length = 5;

    out.clear();
    writeDownstreamResponseHead(downstream, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ParseAndRewriteResponseHead);

}  // namespace
}  // namespace turnout

BENCHMARK_MAIN();
