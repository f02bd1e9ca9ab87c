// The admin API's requests and answers: config, history, weights, rollback, stats, health.
#include "proxy/admin_api.h"

#include <google/protobuf/struct.pb.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "config/proto_json.h"
#include "config/weight_overrides.h"

namespace turnout {
namespace {

// {"error": "<reason>"}, escaped by the protobuf printer.
AdminResponse errorReply(int status, const std::string& reason) {
  google::protobuf::Struct body;
  (*body.mutable_fields())["error"].set_string_value(reason);
  return {status, "application/json", printJson(body) + "\n"};
}

int statusOf(ChangeOutcome outcome) {
  switch (outcome) {
    case ChangeOutcome::Applied:
    case ChangeOutcome::Unchanged:
      return 200;
    case ChangeOutcome::Invalid:
      return 400;
    case ChangeOutcome::NotFound:
      return 404;
    case ChangeOutcome::Failed:
      return 500;
  }
  return 500;
}

AdminResponse changeReply(const ChangeResult& result) {
  config::ChangeReply reply;
  reply.set_changed(result.outcome == ChangeOutcome::Applied);
  reply.set_version(static_cast<uint32_t>(result.version));
  reply.set_previous_version(static_cast<uint32_t>(result.previous_version));
  for (const std::string& change : result.changes) {
    reply.add_changes(change);
  }
  for (const ConfigError& error : result.errors) {
    config::ConfigProblem* problem = reply.add_errors();
    problem->set_path(error.path);
    problem->set_reason(error.reason);
    problem->set_line(static_cast<uint32_t>(error.line));
    problem->set_column(static_cast<uint32_t>(error.column));
  }
  return {statusOf(result.outcome), "application/json", printJson(reply, true) + "\n"};
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// A path segment with its %XX escapes decoded; a malformed escape is kept as written.
std::string percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    int high = i + 2 < text.size() && text[i] == '%' ? hexValue(text[i + 1]) : -1;
    int low = high >= 0 ? hexValue(text[i + 2]) : -1;
    if (text[i] == '%' && high >= 0 && low >= 0) {
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The value of `key` in a query string ("version=3&x=y"), or nullopt.
std::optional<std::string_view> queryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

// Compares in time independent of where the texts first differ, so that a token cannot
// be guessed byte by byte from response times.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

AdminResponse methodNotAllowed(std::string_view allowed) {
  return errorReply(405, "method not allowed; use " + std::string(allowed));
}

}  // namespace

const char* adminReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

AdminResponse AdminApi::handle(const AdminRequest& request) {
  // Probes (a kubelet, a load balancer) carry no token; they learn nothing but liveness.
  bool probe = request.path == "/healthz" || request.path == "/ready";
  if (!probe && !authorized(request)) {
    AdminResponse response = errorReply(401, "a bearer token is required");
    response.challenge = true;
    return response;
  }
  return route(request);
}

bool AdminApi::authorized(const AdminRequest& request) const {
  if (options_.token.empty()) {
    return true;
  }
  constexpr std::string_view kScheme = "Bearer ";
  std::string_view given = request.authorization;
  if (given.size() < kScheme.size() || given.substr(0, kScheme.size()) != kScheme) {
    return false;
  }
  return constantTimeEquals(given.substr(kScheme.size()), options_.token);
}

AdminResponse AdminApi::route(const AdminRequest& request) {
  std::string_view method = request.method;
  std::string_view path = request.path;
  ConfigManager& manager = *options_.manager;

  if (path == "/healthz") {
    return method == "GET" ? AdminResponse{200, "application/json", "{\"status\":\"ok\"}\n"}
                           : methodNotAllowed("GET");
  }
  if (path == "/ready") {
    return method == "GET" ? ready() : methodNotAllowed("GET");
  }
  if (path == "/config") {
    if (method == "GET") {
      return {200, "application/json", printJson(manager.running(), true) + "\n"};
    }
    if (method == "POST") {
      return changeReply(manager.applyText(request.body));
    }
    return methodNotAllowed("GET or POST");
  }
  if (path == "/config/history") {
    return method == "GET"
               ? AdminResponse{200, "application/json", printJson(manager.history(), true) + "\n"}
               : methodNotAllowed("GET");
  }
  if (path == "/rollback") {
    return method == "POST" ? rollback(request) : methodNotAllowed("POST");
  }
  if (path == "/stats") {
    return method == "GET" ? stats() : methodNotAllowed("GET");
  }
  if (path == "/diffs") {
    if (method != "GET") {
      return methodNotAllowed("GET");
    }
    return {200, "application/json", options_.diffs ? options_.diffs() : "{\"diffs\":[]}\n"};
  }
  if (path == "/weights") {
    return method == "DELETE" ? changeReply(manager.clearWeights("")) : methodNotAllowed("DELETE");
  }

  // /routes/{route}/weights
  constexpr std::string_view kRoutes = "/routes/";
  constexpr std::string_view kWeights = "/weights";
  if (path.size() > kRoutes.size() + kWeights.size() && path.starts_with(kRoutes) &&
      path.ends_with(kWeights)) {
    std::string_view name =
        path.substr(kRoutes.size(), path.size() - kRoutes.size() - kWeights.size());
    if (name.find('/') == std::string_view::npos) {
      return routeWeights(request, percentDecode(name));
    }
  }
  return errorReply(404, "no such admin path: " + std::string(path));
}

AdminResponse AdminApi::routeWeights(const AdminRequest& request, const std::string& route) {
  ConfigManager& manager = *options_.manager;
  if (request.method == "DELETE") {
    return changeReply(manager.clearWeights(route));
  }
  if (request.method != "PUT") {
    return methodNotAllowed("PUT or DELETE");
  }
  std::string error;
  std::optional<WeightMap> weights = parseWeightsJson(request.body, &error);
  if (!weights) {
    ChangeResult refused;
    refused.outcome = ChangeOutcome::Invalid;
    refused.version = refused.previous_version = manager.runningVersion();
    refused.errors.push_back({"", error});
    return changeReply(refused);
  }
  return changeReply(manager.setWeights(route, *weights));
}

AdminResponse AdminApi::rollback(const AdminRequest& request) {
  std::optional<std::string_view> text = queryValue(request.query, "version");
  if (!text) {
    return changeReply(options_.manager->rollback(std::nullopt));
  }
  // Version ids count up from 1 and are reported as 32-bit numbers, so digits past that
  // range name no version; nor does anything but digits (a sign, spaces).
  uint32_t version = 0;
  const char* end = text->data() + text->size();
  auto [stop, error] = std::from_chars(text->data(), end, version);
  if (text->empty() || error != std::errc() || stop != end) {
    return errorReply(400, "version must be a version id, e.g. ?version=3");
  }
  return changeReply(options_.manager->rollback(version));
}

AdminResponse AdminApi::stats() {
  ConfigManager& manager = *options_.manager;
  std::string out =
      "# HELP turnout_config_version The config version serving new requests.\n"
      "# TYPE turnout_config_version gauge\n"
      "turnout_config_version " +
      std::to_string(manager.runningVersion()) +
      "\n"
      "# HELP turnout_config_reloads_total Config changes by source and result.\n"
      "# TYPE turnout_config_reloads_total counter\n";
  ChangeCounts counts = manager.counts();
  for (size_t source = 0; source < kChangeSourceCount; ++source) {
    for (size_t outcome = 0; outcome < kChangeOutcomeCount; ++outcome) {
      out += std::string("turnout_config_reloads_total{source=\"") +
             changeSourceName(static_cast<ChangeSource>(source)) + "\",result=\"" +
             changeOutcomeName(static_cast<ChangeOutcome>(outcome)) + "\"} " +
             std::to_string(counts[source][outcome]) + "\n";
    }
  }
  if (options_.request_stats) {
    out += options_.request_stats();
  }
  return {200, "text/plain; version=0.0.4", out};
}

AdminResponse AdminApi::ready() {
  bool ready = !options_.ready || options_.ready();
  google::protobuf::Struct body;
  (*body.mutable_fields())["status"].set_string_value(ready ? "ready" : "not ready");
  (*body.mutable_fields())["version"].set_number_value(
      static_cast<double>(options_.manager->runningVersion()));
  return {ready ? 200 : 503, "application/json", printJson(body) + "\n"};
}

}  // namespace turnout
