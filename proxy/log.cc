// Leveled logging to standard error.
#include "proxy/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <ctime>

namespace turnout {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

}  // namespace

void setLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool logEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

bool parseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel candidate : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    if (text == levelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

void logLine(LogLevel level, std::string_view component, std::string_view message) {
  timeval now{};
  gettimeofday(&now, nullptr);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  char stamp[64];
  snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", parts.tm_year + 1900,
           parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
           static_cast<long>(now.tv_usec / 1000));

  std::string line;
  line.reserve(64 + message.size());
  line.append(stamp).append(" ").append(levelName(level)).append(" [");
  line.append(component).append("] ").append(message).append("\n");

  // One write keeps lines from different workers whole.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace turnout
