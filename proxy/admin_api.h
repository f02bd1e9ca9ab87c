// The admin API's requests and answers, apart from sockets: a parsed request goes in, a
// status, content type and body come out. The admin server (proxy/admin_server.h) does
// the HTTP/1.1 around it. Admin thread only.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "config/config_manager.h"

namespace turnout {

struct AdminRequest {
  std::string_view method;
  std::string_view path;           // Percent-encoded, without the query.
  std::string_view query;          // Without the '?'.
  std::string_view authorization;  // The Authorization header's value.
  std::string_view body;
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool challenge = false;  // 401: add WWW-Authenticate: Bearer.
};

struct AdminApiOptions {
  ConfigManager* manager = nullptr;
  std::string token;                           // Empty: no token is asked for.
  std::function<std::string()> request_stats;  // Prometheus lines of the request counters.
  std::function<std::string()> diffs;          // GET /diffs: the mirror comparisons (JSON).
  std::function<bool()> ready;                 // Serving and not stopping.
};

class AdminApi {
 public:
  explicit AdminApi(AdminApiOptions options) : options_(std::move(options)) {}

  AdminResponse handle(const AdminRequest& request);

 private:
  bool authorized(const AdminRequest& request) const;
  AdminResponse route(const AdminRequest& request);
  AdminResponse routeWeights(const AdminRequest& request, const std::string& route);
  AdminResponse rollback(const AdminRequest& request);
  AdminResponse stats();
  AdminResponse ready();

  AdminApiOptions options_;
};

// The reason phrase of the statuses the admin API answers with.
const char* adminReason(int status);

}  // namespace turnout
