// The syntax of single config values (HTTP tokens, Host patterns, durations).
#include "config/field_syntax.h"

#include <limits>

namespace turnout {
namespace {


bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Dot-separated labels, none empty. `what` names the part for the reason.
bool checkLabels(std::string_view text, std::string_view what, std::string* reason) {
  if (text.empty()) {
    *reason = std::string(what) + " is empty";
    return false;
  }

  size_t label_length = 0;
  for (char c : text) {
    if (c == '.') {
      if (label_length == 0) {
        *reason = std::string(what) + " has an empty label";
        return false;
      }
      label_length = 0;
      continue;
    }
    if (c == '*') {
      *reason = "'*' is allowed only as a whole first or last label, or alone";
      return false;
    }
    if (!isLabelChar(c)) {
      *reason = std::string(what) + " has a character not allowed in a host name";
      return false;
    }
    label_length++;
  }
  if (label_length == 0) {
    *reason = std::string(what) + " has an empty label";
    return false;
  }
  return true;
}

// "[v6]" as sent in a Host header; the inside must be hex digits, ':' and '.'.
bool isBracketedIpv6(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') {
    return false;
  }
  for (char c : text.substr(1, text.size() - 2)) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool isHttpToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!isTokenChar(c)) {
      return false;
    }
  }
  return true;
}

std::string toLowerAscii(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return lower;
}

std::optional<DomainMatch> parseDomainPattern(std::string_view text, std::string* reason) {
  DomainMatch match;
  if (text == "*") {
    match.kind = DomainMatch::Kind::Any;
    return match;
  }

  // "*.example.com": the part after '*' is kept with its dot, so a plain suffix compare
  // cannot match "badexample.com".
  if (text.size() >= 2 && text.substr(0, 2) == "*.") {
    if (!checkLabels(text.substr(2), "the suffix after \"*.\"", reason)) {
      return std::nullopt;
    }
    match.kind = DomainMatch::Kind::Suffix;
    match.value = toLowerAscii(text.substr(1));
    return match;
  }
  if (text.size() >= 2 && text.substr(text.size() - 2) == ".*") {
    if (!checkLabels(text.substr(0, text.size() - 2), "the prefix before \".*\"", reason)) {
      return std::nullopt;
    }
    match.kind = DomainMatch::Kind::Prefix;
    match.value = toLowerAscii(text.substr(0, text.size() - 1));
    return match;
  }

  // What remains is an exact name.
  if (!isBracketedIpv6(text) && !checkLabels(text, "the domain", reason)) {
    return std::nullopt;
  }
  match.kind = DomainMatch::Kind::Exact;
  match.value = toLowerAscii(text);
  return match;
}

int64_t durationMillis(const google::protobuf::Duration& duration) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000 - 1;
  int64_t seconds = duration.seconds();
  if (seconds > kMaxSeconds) {
    return std::numeric_limits<int64_t>::max();
  }
  if (seconds < -kMaxSeconds) {
    return std::numeric_limits<int64_t>::min();
  }

  // Round the nanoseconds towards +infinity: 1ns becomes 1ms, -1ns becomes 0ms.
  int64_t nanos = duration.nanos();
  int64_t millis_from_nanos = nanos >= 0 ? (nanos + 999999) / 1000000 : nanos / 1000000;
  return seconds * 1000 + millis_from_nanos;
}

bool isNegative(const google::protobuf::Duration& duration) {
  return duration.seconds() < 0 || (duration.seconds() == 0 && duration.nanos() < 0);
}

bool isZero(const google::protobuf::Duration& duration) {
  return duration.seconds() == 0 && duration.nanos() == 0;
}

}  // namespace turnout
