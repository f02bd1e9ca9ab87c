// Finds query parameters by name in a request's query string without copying it.
//
// Grammar: the query (the text after '?', without it) is split on '&'; each piece is
// name=value split at the first '=', or a bare name, which is present with an empty
// value. Empty pieces ("a=1&&b=2") are skipped. Names compare case-sensitively.
// Nothing is percent-decoded and '+' stays '+': "q=a%20b" has the value "a%20b", and a
// parameter whose name is percent-encoded is matched only by the encoded spelling. This
// keeps matching allocation-free and means a config matches the bytes clients send.
#pragma once

#include <optional>
#include <string_view>

#include "filters/text.h"

namespace turnout {

// Yields every value of the parameter `name`, left to right ("a=1&a=2" gives "1", "2").
// Holds views of `query` and `name`: both must outlive the scanner.
class QueryScanner {
 public:
  QueryScanner(std::string_view query, std::string_view name) : pieces_(query, '&'), name_(name) {}

  // Stores the next value in `value` and returns true, or returns false at the end.
  bool next(std::string_view* value);

 private:
  Splitter pieces_;
  std::string_view name_;
};

// The value of the first parameter called `name`, or nullopt when the query lacks it.
std::optional<std::string_view> findQueryParameter(std::string_view query, std::string_view name);

}  // namespace turnout
