// One line per finished request, as key=value text or as a JSON object.
#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace turnout {
namespace {

// A batch is written out once it reaches this size, before the next tick.
constexpr size_t kFlushBytes = 32 * 1024;

// Appends the time as RFC 3339 UTC with milliseconds. The text up to the seconds changes
// once a second, so each thread formats it once per second and keeps it.
void appendTime(int64_t unix_ms, std::string* out) {
  thread_local int64_t cached_second = -1;
  thread_local char prefix[32];  // "YYYY-MM-DDTHH:MM:SS." and a NUL.
  int64_t second = unix_ms / 1000;
  if (second != cached_second) {
    time_t seconds = static_cast<time_t>(second);
    tm parts{};
    gmtime_r(&seconds, &parts);
    strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S.", &parts);
    cached_second = second;
  }
  int millis = static_cast<int>(unix_ms % 1000);
  const char digits[4] = {static_cast<char>('0' + millis / 100),
                          static_cast<char>('0' + millis / 10 % 10),
                          static_cast<char>('0' + millis % 10), 'Z'};
  out->append(prefix).append(digits, sizeof(digits));
}

// Text values may hold anything a client sent: spaces and control bytes are escaped so
// that one request is always one line of space-separated pairs.
void appendTextValue(std::string_view value, std::string* out) {
  if (value.empty()) {
    out->push_back('-');
    return;
  }
  for (unsigned char c : value) {
    if (c <= 0x20 || c == 0x7f || c == '\\' || c == '"') {
      char escaped[8];
      snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out->append(escaped);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

void appendJsonString(std::string_view value, std::string* out) {
  out->push_back('"');
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      // Bytes outside printable ASCII are escaped one by one: a client's bytes need not
      // be valid UTF-8, and the line must stay valid JSON.
      char escaped[8];
      snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out->append(escaped);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

bool AccessLogSink::open(const AccessLogDef& def, std::string* error) {
  enabled_ = def.enabled;
  format_ = def.format;
  if (!enabled_) {
    return true;
  }
  if (def.path.empty() || def.path == "-") {
    fd_ = STDOUT_FILENO;
    return true;
  }
  fd_ = ::open(def.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    *error = "opening access log " + def.path + ": " + std::strerror(errno);
    return false;
  }
  owns_fd_ = true;
  return true;
}

AccessLogSink::~AccessLogSink() {
  if (owns_fd_) {
    ::close(fd_);
  }
}

void AccessLogSink::write(std::string_view lines) const {
  const char* cursor = lines.data();
  size_t left = lines.size();
  while (left > 0) {
    ssize_t written = ::write(fd_, cursor, left);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      // A full disk or a closed pipe must not stop the proxy: the lines are lost.
      return;
    }
    cursor += written;
    left -= static_cast<size_t>(written);
  }
}

void AccessLog::append(const AccessRecord& record) {
  if (!sink_.enabled()) {
    return;
  }
  switch (sink_.format()) {
    case AccessLogDef::Format::Text:
      appendText(record);
      break;
    case AccessLogDef::Format::Json:
      appendJson(record);
      break;
  }
  if (buffer_.size() >= kFlushBytes) {
    flush();
  }
}

void AccessLog::flush() {
  if (!buffer_.empty()) {
    sink_.write(buffer_);
    buffer_.clear();
  }
}

void AccessLog::appendText(const AccessRecord& r) {
  std::string& out = buffer_;
  out.append("time=");
  appendTime(r.start_unix_ms, &out);
  out.append(" request_id=");
  appendTextValue(r.request_id, &out);
  out.append(" method=");
  appendTextValue(r.method, &out);
  out.append(" path=");
  appendTextValue(r.path, &out);
  out.append(" status=").append(std::to_string(r.status));
  out.append(" route=");
  appendTextValue(r.route, &out);
  out.append(" cluster=");
  appendTextValue(r.cluster, &out);
  out.append(" endpoint=");
  appendTextValue(r.endpoint, &out);
  out.append(" bucket=").append(r.bucket < 0 ? "-" : std::to_string(r.bucket));
  out.append(" bytes_in=").append(std::to_string(r.bytes_in));
  out.append(" bytes_out=").append(std::to_string(r.bytes_out));
  out.append(" upstream_ms=").append(r.upstream_ms < 0 ? "-" : std::to_string(r.upstream_ms));
  out.append(" total_ms=").append(std::to_string(r.total_ms));
  out.append(" error=");
  appendTextValue(r.error, &out);
  if (r.shadow) {
    out.append(" shadow=1");
  }
  out.push_back('\n');
}

void AccessLog::appendJson(const AccessRecord& r) {
  std::string& out = buffer_;
  out.append("{\"time\":\"");
  appendTime(r.start_unix_ms, &out);
  out.append("\",\"request_id\":");
  appendJsonString(r.request_id, &out);
  out.append(",\"method\":");
  appendJsonString(r.method, &out);
  out.append(",\"path\":");
  appendJsonString(r.path, &out);
  out.append(",\"status\":").append(std::to_string(r.status));
  out.append(",\"route\":");
  appendJsonString(r.route, &out);
  out.append(",\"cluster\":");
  appendJsonString(r.cluster, &out);
  out.append(",\"endpoint\":");
  appendJsonString(r.endpoint, &out);
  out.append(",\"bucket\":").append(r.bucket < 0 ? "null" : std::to_string(r.bucket));
  out.append(",\"bytes_in\":").append(std::to_string(r.bytes_in));
  out.append(",\"bytes_out\":").append(std::to_string(r.bytes_out));
  out.append(",\"upstream_ms\":")
      .append(r.upstream_ms < 0 ? "null" : std::to_string(r.upstream_ms));
  out.append(",\"total_ms\":").append(std::to_string(r.total_ms));
  out.append(",\"error\":");
  appendJsonString(r.error, &out);
  if (r.shadow) {
    out.append(",\"shadow\":true");
  }
  out.append("}\n");
}

}  // namespace turnout
