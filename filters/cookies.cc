// Scans Cookie header lines for the pairs of one cookie name.
#include "filters/cookies.h"

namespace turnout {

namespace {

// Removes one pair of surrounding double quotes (RFC 6265 4.1.1 allows a quoted
// cookie-value); the quotes are framing, not part of the value an application set.
std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace

bool CookieScanner::openNextCookieLine() {
  while (next_header_ < headers_.size()) {
    const HeaderView& header = headers_[next_header_++];
    if (equalsIgnoreCase(header.name, "cookie")) {
      pairs_ = Splitter(header.value, ';');
      line_open_ = true;
      return true;
    }
  }
  line_open_ = false;
  return false;
}

bool CookieScanner::next(std::string_view* value) {
  while (line_open_ || openNextCookieLine()) {
    std::string_view pair;
    if (!pairs_.next(&pair)) {
      line_open_ = false;
      continue;
    }

    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      continue;
    }
    if (trimSpaces(pair.substr(0, equals)) != name_) {
      continue;
    }
    *value = unquote(trimSpaces(pair.substr(equals + 1)));
    return true;
  }
  return false;
}

std::optional<std::string_view> findCookie(const std::vector<HeaderView>& headers,
                                           std::string_view name) {
  CookieScanner scanner(headers, name);
  std::string_view value;
  if (scanner.next(&value)) {
    return value;
  }
  return std::nullopt;
}

}  // namespace turnout
