// The turnout command line: `run` serves a config, `validate` checks one, `ctl` drives a
// running proxy through its admin API.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "proxy/ctl.h"
#include "proxy/log.h"
#include "proxy/server.h"

// jemalloc reads its options from this symbol. Freed pages go back to the kernel after
// one second instead of ten, so memory that idle connections gave back shows in RSS
// promptly; turnout's allocations are few and long-lived, so the purges cost little.
extern "C" {
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  turnout run -c FILE [--workers N] [--drain-timeout SECONDS] [--log-level LEVEL]\n"
    "      Serve the config in FILE (YAML or JSON) until SIGTERM or SIGINT.\n"
    "      SIGHUP, a change of FILE and the admin API reload; an invalid config is\n"
    "      rejected and the running one stays (docs/admin.md).\n"
    "      --workers: worker threads (default: one per core).\n"
    "      --drain-timeout: on stop, how long in-flight requests may finish (default 5).\n"
    "      --log-level: debug, info (default), warn or error.\n"
    "  turnout validate FILE\n"
    "      Print OK, or every error as FILE: FIELD PATH: REASON; exit 1 when invalid.\n"
    "  turnout ctl [--admin ADDR] [--token-file FILE] COMMAND ...\n"
    "      status, weights, switch, apply, rollback, history: `turnout ctl help`.\n";

int usage(const char* problem) {
  if (problem != nullptr) {
    fprintf(stderr, "turnout: %s\n", problem);
  }
  fputs(kUsage, stderr);
  return 2;
}

int validate(int argc, char** argv) {
  if (argc != 3) {
    return usage("validate takes exactly one FILE");
  }
  std::string path = argv[2];
  turnout::LoadResult result = turnout::loadConfigFile(path);
  if (!result.errors.empty()) {
    fputs(turnout::formatErrors(path, result.errors).c_str(), stdout);
    return 1;
  }
  printf("OK\n");
  return 0;
}

bool parseCount(const char* text, long low, long high, long* value) {
  char* end = nullptr;
  long parsed = strtol(text, &end, 10);
  if (end == text || *end != '\0' || parsed < low || parsed > high) {
    return false;
  }
  *value = parsed;
  return true;
}

int run(int argc, char** argv) {
  turnout::ServerOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      return usage(("missing value after " + std::string(flag)).c_str());
    }
    const char* value = argv[++i];
    long number = 0;
    if (flag == "-c" || flag == "--config") {
      options.config_path = value;
    } else if (flag == "--workers" || flag == "-w") {
      if (!parseCount(value, 1, 256, &number)) {
        return usage("--workers takes a number from 1 to 256");
      }
      options.workers = static_cast<int>(number);
    } else if (flag == "--drain-timeout") {
      if (!parseCount(value, 0, 3600, &number)) {
        return usage("--drain-timeout takes seconds from 0 to 3600");
      }
      options.drain_timeout_ms = static_cast<uint64_t>(number) * 1000;
    } else if (flag == "--log-level") {
      turnout::LogLevel level;
      if (!turnout::parseLogLevel(value, &level)) {
        return usage("--log-level takes debug, info, warn or error");
      }
      turnout::setLogLevel(level);
    } else {
      return usage(("unknown flag " + std::string(flag)).c_str());
    }
  }
  if (options.config_path.empty()) {
    return usage("run needs -c FILE");
  }
  return turnout::Server(std::move(options)).run();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return usage(nullptr);
  }
  std::string_view command = argv[1];
  if (command == "run") {
    return run(argc, argv);
  }
  if (command == "validate") {
    return validate(argc, argv);
  }
  if (command == "ctl") {
    return turnout::runCtl(argc - 1, argv + 1);
  }
  if (command == "help" || command == "--help" || command == "-h") {
    fputs(kUsage, stdout);
    return 0;
  }
  return usage(("unknown command " + std::string(command)).c_str());
}
