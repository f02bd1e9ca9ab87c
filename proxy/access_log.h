// One line per finished request, as key=value text or as a JSON object, batched per worker.
//
// Each worker appends to its own buffer (no lock) and writes it out with one write(2)
// when it grows past a few pages or when the worker's 100 ms tick comes, so a quiet proxy
// still shows each line within a tenth of a second. Lines from several workers
// interleave whole: a file is opened O_APPEND and each batch is one write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/snapshot.h"

namespace turnout {

struct AccessRecord {
  int64_t start_unix_ms = 0;
  std::string_view request_id;
  std::string_view method;
  std::string_view path;  // The request target as received, query included.
  int status = 0;
  std::string_view route;  // "-" when none matched.
  std::string_view cluster;
  std::string_view endpoint;
  int64_t bucket = -1;  // -1: no split decision was made.
  uint64_t bytes_in = 0;  // Request body bytes received from the client.
  uint64_t bytes_out = 0;  // Response body bytes sent to the client.
  int64_t upstream_ms = -1;  // From sending upstream to the last response byte; -1: none.
  int64_t total_ms = 0;
  std::string_view error;  // Empty, or the error code of a local answer or abort.
  bool shadow = false;  // A mirrored copy (parallel run), not a request a client sees.
};

// Where the lines go. Shared by every worker; opened once at start-up.
class AccessLogSink {
 public:
  // Opens the sink described by `def`. False with `*error` set when the file cannot be
  // opened for appending.
  bool open(const AccessLogDef& def, std::string* error);
  ~AccessLogSink();

  bool enabled() const { return enabled_; }
  AccessLogDef::Format format() const { return format_; }

  // Writes a batch of whole lines with one write(2). Any thread.
  void write(std::string_view lines) const;

 private:
  bool enabled_ = false;
  AccessLogDef::Format format_ = AccessLogDef::Format::Text;
  int fd_ = -1;
  bool owns_fd_ = false;
};

// A worker's buffer in front of the sink. Worker thread only.
class AccessLog {
 public:
  explicit AccessLog(const AccessLogSink& sink) : sink_(sink) {}
  ~AccessLog() { flush(); }

  bool enabled() const { return sink_.enabled(); }

  void append(const AccessRecord& record);
  void flush();

 private:
  void appendText(const AccessRecord& record);
  void appendJson(const AccessRecord& record);

  const AccessLogSink& sink_;
  std::string buffer_;
};

}  // namespace turnout
