// Finds cookies by name in a request's Cookie header lines without copying them.
//
// Grammar (RFC 6265 5.4 as browsers send it, read leniently): a Cookie line is a list of
// name=value pairs separated by ';', with optional spaces or tabs around each pair, its
// name and its value. A value wrapped in one pair of double quotes is returned without
// them. A piece with no '=' is not a cookie pair and is skipped. Names compare
// case-sensitively. A request may carry several Cookie lines (HTTP/2 gateways split
// them); every line is read, in order.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "filters/request_view.h"
#include "filters/text.h"

namespace turnout {

// Yields every value of the cookie `name`, across all Cookie lines, in request order.
// Holds references to `headers` and `name`: both must outlive the scanner.
class CookieScanner {
 public:
  CookieScanner(const std::vector<HeaderView>& headers, std::string_view name)
      : headers_(headers), name_(name) {}

  // Stores the next value in `value` and returns true, or returns false at the end.
  bool next(std::string_view* value);

 private:
  // Moves to the next Cookie line; false when there is none left.
  bool openNextCookieLine();

  const std::vector<HeaderView>& headers_;
  std::string_view name_;
  size_t next_header_ = 0;
  Splitter pairs_{std::string_view(), ';'};
  bool line_open_ = false;
};

// The value of the first cookie called `name`, or nullopt when no Cookie line has it.
std::optional<std::string_view> findCookie(const std::vector<HeaderView>& headers,
                                           std::string_view name);

}  // namespace turnout
