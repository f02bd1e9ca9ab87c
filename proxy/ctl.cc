// `turnout ctl`: status, weights, switch, apply, rollback and history over the admin API.
#include "proxy/ctl.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.h"
#include "config/runtime_rules.h"
#include "config/turnout.pb.h"

namespace turnout {
namespace {

constexpr const char* kCtlUsageText =
    "usage: turnout ctl [--admin ADDR] [--token-file FILE] [--timeout SECONDS] [--json]\n"
    "                   COMMAND [ARGS]\n"
    "  status                      the running version and every weighted route's split\n"
    "  weights ROUTE POOL=W ...    set the split of ROUTE (pools not named get 0)\n"
    "  weights --clear [ROUTE]     drop the weight overrides (of ROUTE, or all)\n"
    "  switch ROUTE POOL           send all of ROUTE's traffic to POOL\n"
    "  apply FILE                  validate FILE on the proxy and run it\n"
    "  rollback [VERSION]          run the previous version again, or VERSION\n"
    "  history                     the kept versions, oldest first\n"
    "--admin: the admin API's numeric address (default 127.0.0.1:9901).\n"
    "--token-file: file holding the bearer token (else $TURNOUT_ADMIN_TOKEN).\n"
    "--json: print the admin API's JSON answer as it is.\n"
    "Exit: 0 done or nothing to change, 1 change refused (errors printed), 2 usage,\n"
    "connection or authorization problem.\n";

// The largest answer read: a GET /config of a 4 MiB config, twice, as JSON.
constexpr size_t kMaxAnswerBytes = 64 * 1024 * 1024;

struct CtlOptions {
  std::string admin = "127.0.0.1:9901";
  std::string token;
  int timeout_seconds = 30;
  bool json = false;
  std::vector<std::string> args;  // The command and its arguments.
};

struct Answer {
  int status = 0;
  std::string body;
};

int usage(const std::string& problem) {
  fprintf(stderr, "turnout ctl: %s\n%s", problem.c_str(), kCtlUsageText);
  return kCtlUsage;
}

int fail(const std::string& problem) {
  fprintf(stderr, "turnout ctl: %s\n", problem.c_str());
  return kCtlUsage;
}

bool readWhole(const std::string& path, std::string* text) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return false;
  }
  std::stringstream content;
  content << file.rdbuf();
  *text = content.str();
  return true;
}

std::string trim(std::string text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  size_t end = text.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

bool sendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t sent = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return false;
    }
    done += static_cast<size_t>(sent);
  }
  return true;
}

// Parses "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" as the admin server writes it.
bool parseAnswer(const std::string& raw, Answer* answer) {
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    return false;
  }
  answer->status = std::atoi(raw.c_str() + 9);
  answer->body = raw.substr(head_end + 4);
  return answer->status > 0;
}

// One request on a fresh connection ("Connection: close": the answer ends at EOF).
std::optional<Answer> call(const CtlOptions& options, const std::string& method,
                           const std::string& target, const std::string& body, std::string* error) {
  std::string reason;
  std::optional<SocketAddress> address = parseSocketAddress(options.admin, &reason);
  if (!address) {
    *error = "--admin " + options.admin + ": " + reason;
    return std::nullopt;
  }
  int fd = socket(address->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{options.timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (fd < 0 || connect(fd, address->sockaddrPtr(), address->length) != 0) {
    *error = "cannot reach the admin API at " + address->text + ": " + std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    return std::nullopt;
  }

  std::string request = method + " " + target + " HTTP/1.1\r\nHost: turnout-admin\r\n" +
                        "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n";
  if (!options.token.empty()) {
    request += "Authorization: Bearer " + options.token + "\r\n";
  }
  request += "\r\n" + body;

  std::string raw;
  bool sent = sendAll(fd, request);
  char buffer[64 * 1024];
  while (sent && raw.size() < kMaxAnswerBytes) {
    ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    raw.append(buffer, static_cast<size_t>(got));
  }
  close(fd);

  Answer answer;
  if (!parseAnswer(raw, &answer)) {
    *error = "no valid answer from the admin API at " + address->text;
    return std::nullopt;
  }
  return answer;
}

template <typename Message>
bool parseJson(const std::string& body, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(body, message, options).ok();
}

// The exit code and output of an answer to a change.
int reportChange(const CtlOptions& options, const Answer& answer) {
  if (answer.status == 401) {
    return fail("not authorized: give the admin token with --token-file");
  }
  config::ChangeReply reply;
  if (!parseJson(answer.body, &reply)) {
    return fail("unexpected answer (HTTP " + std::to_string(answer.status) + "): " + answer.body);
  }
  if (options.json) {
    fputs(answer.body.c_str(), answer.status == 200 ? stdout : stderr);
    return answer.status == 200 ? kCtlOk : kCtlRejected;
  }
  if (answer.status != 200) {
    fprintf(stderr, "refused (HTTP %d); version %u keeps running:\n", answer.status,
            reply.version());
    for (const config::ConfigProblem& problem : reply.errors()) {
      std::string where = problem.path().empty() ? "" : problem.path() + ": ";
      std::string at = problem.line() == 0
                           ? ""
                           : " (line " + std::to_string(problem.line()) + ", column " +
                                 std::to_string(problem.column()) + ")";
      fprintf(stderr, "  %s%s%s\n", where.c_str(), problem.reason().c_str(), at.c_str());
    }
    return kCtlRejected;
  }
  if (reply.changed()) {
    printf("version %u (was %u)\n", reply.version(), reply.previous_version());
  } else {
    printf("version %u unchanged\n", reply.version());
  }
  for (const std::string& change : reply.changes()) {
    printf("  %s\n", change.c_str());
  }
  return kCtlOk;
}

int change(const CtlOptions& options, const std::string& method, const std::string& target,
           const std::string& body) {
  std::string error;
  std::optional<Answer> answer = call(options, method, target, body, &error);
  return answer ? reportChange(options, *answer) : fail(error);
}

// Fetches a GET answer; prints it raw with --json.
std::optional<Answer> fetch(const CtlOptions& options, const std::string& target, int* code) {
  std::string error;
  std::optional<Answer> answer = call(options, "GET", target, "", &error);
  if (!answer) {
    *code = fail(error);
    return std::nullopt;
  }
  if (answer->status != 200) {
    *code = fail("HTTP " + std::to_string(answer->status) + " from " + target + ": " +
                 trim(answer->body));
    return std::nullopt;
  }
  return answer;
}

std::string splitText(const config::Bootstrap& config, const WeightedRouteRef& ref) {
  const auto& split = config.listeners(ref.listener)
                          .route_config()
                          .virtual_hosts(ref.virtual_host)
                          .routes(ref.route)
                          .route()
                          .weighted_clusters();
  std::string text;
  for (const config::ClusterWeight& entry : split.clusters()) {
    text += (text.empty() ? "" : " ") + entry.name() + "=" + std::to_string(entry.weight());
  }
  return text;
}

std::string timeText(const google::protobuf::Timestamp& time) {
  return google::protobuf::util::TimeUtil::ToString(time);
}

int status(const CtlOptions& options) {
  int code = kCtlOk;
  std::optional<Answer> answer = fetch(options, "/config", &code);
  if (!answer) {
    return code;
  }
  if (options.json) {
    fputs(answer->body.c_str(), stdout);
    return kCtlOk;
  }
  config::ConfigVersion running;
  if (!parseJson(answer->body, &running)) {
    return fail("unexpected answer from /config");
  }
  printf("version %u  source %s  origin %s  time %s  hash %s\n", running.version(),
         running.source().c_str(), running.origin().c_str(), timeText(running.time()).c_str(),
         running.content_hash().c_str());
  for (const WeightedRouteRef& ref : listWeightedRoutes(running.effective())) {
    bool overridden = running.weight_overrides().count(ref.name) > 0;
    std::string line = "route " + ref.name + ": " + splitText(running.effective(), ref);
    if (overridden) {
      line += "  (override; configured " + splitText(running.configured(), ref) + ")";
    }
    printf("%s\n", line.c_str());
  }
  return kCtlOk;
}

int history(const CtlOptions& options) {
  int code = kCtlOk;
  std::optional<Answer> answer = fetch(options, "/config/history", &code);
  if (!answer) {
    return code;
  }
  if (options.json) {
    fputs(answer->body.c_str(), stdout);
    return kCtlOk;
  }
  config::ConfigHistory history;
  if (!parseJson(answer->body, &history)) {
    return fail("unexpected answer from /config/history");
  }
  for (const config::ConfigVersion& entry : history.versions()) {
    std::string changes;
    for (const std::string& change : entry.changes()) {
      changes += (changes.empty() ? "" : "; ") + change;
    }
    printf("%c %4u  %s  %-8s  %s  %s\n", entry.version() == history.running_version() ? '*' : ' ',
           entry.version(), timeText(entry.time()).c_str(), entry.source().c_str(),
           entry.content_hash().c_str(),
           changes.empty() ? entry.origin().c_str() : changes.c_str());
  }
  return kCtlOk;
}

// "a=1" -> ("a", 1); false for anything else.
bool parsePoolWeight(const std::string& arg, std::string* pool, long* weight) {
  size_t eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    return false;
  }
  char* end = nullptr;
  *weight = std::strtol(arg.c_str() + eq + 1, &end, 10);
  *pool = arg.substr(0, eq);
  return *end == '\0' && *weight >= 0 && *weight <= 10000;
}

// A JSON string literal of `text` (names come from the command line).
std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A route name as one path segment.
std::string pathSegment(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char escaped[4];
      snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

int weights(const CtlOptions& options) {
  const std::vector<std::string>& args = options.args;
  if (args.size() >= 2 && args[1] == "--clear") {
    if (args.size() > 3) {
      return usage("weights --clear takes at most one ROUTE");
    }
    std::string target =
        args.size() == 3 ? "/routes/" + pathSegment(args[2]) + "/weights" : "/weights";
    return change(options, "DELETE", target, "");
  }
  if (args.size() < 3) {
    return usage("weights needs ROUTE and at least one POOL=WEIGHT");
  }
  std::string body = "{";
  for (size_t i = 2; i < args.size(); ++i) {
    std::string pool;
    long weight = 0;
    if (!parsePoolWeight(args[i], &pool, &weight)) {
      return usage("\"" + args[i] + "\" is not POOL=WEIGHT with WEIGHT in 0..10000");
    }
    body += (i > 2 ? "," : "") + jsonString(pool) + ":" + std::to_string(weight);
  }
  body += "}";
  return change(options, "PUT", "/routes/" + pathSegment(args[1]) + "/weights", body);
}

int dispatch(const CtlOptions& options) {
  const std::vector<std::string>& args = options.args;
  const std::string& command = args[0];
  if (command == "help") {
    fputs(kCtlUsageText, stdout);
    return kCtlOk;
  }
  if (command == "status" && args.size() == 1) {
    return status(options);
  }
  if (command == "history" && args.size() == 1) {
    return history(options);
  }
  if (command == "weights") {
    return weights(options);
  }
  if (command == "switch" && args.size() == 3) {
    std::string body = "{" + jsonString(args[2]) + ":100}";
    return change(options, "PUT", "/routes/" + pathSegment(args[1]) + "/weights", body);
  }
  if (command == "apply" && args.size() == 2) {
    std::string text;
    if (!readWhole(args[1], &text)) {
      return fail("cannot read " + args[1] + ": " + std::strerror(errno));
    }
    return change(options, "POST", "/config", text);
  }
  if (command == "rollback" && args.size() <= 2) {
    bool numeric =
        args.size() == 1 ||
        (!args[1].empty() && args[1].find_first_not_of("0123456789") == std::string::npos);
    if (!numeric) {
      return usage("rollback takes a version number");
    }
    return change(options, "POST", args.size() == 2 ? "/rollback?version=" + args[1] : "/rollback",
                  "");
  }
  return usage("unknown command or wrong arguments: " + command);
}

}  // namespace

int runCtl(int argc, char** argv) {
  CtlOptions options;
  std::string token_file;
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "--", 2) == 0 && options.args.empty(); ++i) {
    std::string_view flag = argv[i];
    if (flag == "--json") {
      options.json = true;
      continue;
    }
    if (i + 1 >= argc) {
      return usage("missing value after " + std::string(flag));
    }
    const char* value = argv[++i];
    if (flag == "--admin") {
      options.admin = value;
    } else if (flag == "--token-file") {
      token_file = value;
    } else if (flag == "--timeout") {
      options.timeout_seconds = std::atoi(value);
      if (options.timeout_seconds <= 0 || options.timeout_seconds > 3600) {
        return usage("--timeout takes seconds from 1 to 3600");
      }
    } else {
      return usage("unknown flag " + std::string(flag));
    }
  }
  for (; i < argc; ++i) {
    options.args.push_back(argv[i]);
  }
  if (options.args.empty()) {
    return usage("no command");
  }

  if (!token_file.empty()) {
    if (!readWhole(token_file, &options.token)) {
      return fail("cannot read the token file " + token_file);
    }
    options.token = trim(options.token);
  } else if (const char* token = std::getenv("TURNOUT_ADMIN_TOKEN"); token != nullptr) {
    options.token = trim(token);
  }
  return dispatch(options);
}

}  // namespace turnout
