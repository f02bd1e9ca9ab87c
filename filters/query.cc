// Scans a query string for the values of one parameter name.
#include "filters/query.h"

namespace turnout {

bool QueryScanner::next(std::string_view* value) {
  std::string_view piece;
  while (pieces_.next(&piece)) {
    if (piece.empty()) {
      continue;
    }

    // A bare name has no '=': it is present with an empty value.
    const size_t equals = piece.find('=');
    const std::string_view name = piece.substr(0, equals);
    if (name != name_) {
      continue;
    }
    *value = equals == std::string_view::npos ? std::string_view() : piece.substr(equals + 1);
    return true;
  }
  return false;
}

std::optional<std::string_view> findQueryParameter(std::string_view query, std::string_view name) {
  QueryScanner scanner(query, name);
  std::string_view value;
  if (scanner.next(&value)) {
    return value;
  }
  return std::nullopt;
}

}  // namespace turnout
