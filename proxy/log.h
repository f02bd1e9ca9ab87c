// Leveled logging to standard error, one line per call, prefixed with time, level and
// component. Any thread: each line is written with a single write(2).
#pragma once

#include <string>
#include <string_view>

namespace turnout {

enum class LogLevel { Debug, Info, Warn, Error };

// Lines below this level are dropped. Set once at start-up, before workers start.
void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);

// Parses "debug", "info", "warn" or "error"; false for anything else.
bool parseLogLevel(std::string_view text, LogLevel* level);

void logLine(LogLevel level, std::string_view component, std::string_view message);

}  // namespace turnout

#define TURNOUT_LOG(level, component, message)                      \
  do {                                                              \
    if (::turnout::logEnabled(::turnout::LogLevel::level)) {        \
      ::turnout::logLine(::turnout::LogLevel::level, component, message); \
    }                                                               \
  } while (0)
