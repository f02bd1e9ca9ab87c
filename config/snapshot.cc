// Evaluates the value matchers of a compiled snapshot against request text.
#include "config/snapshot.h"

namespace turnout {

// Every comparison is byte-for-byte (case-sensitive): header, cookie and parameter
// values carry meaning in their case, unlike header names and host names.
bool StringMatch::matchesAnyKind(std::string_view candidate) const {
  switch (kind) {
    case Kind::Exact:
      return candidate == value;
    case Kind::Prefix:
      return candidate.starts_with(value);
    case Kind::Suffix:
      return candidate.ends_with(value);
    case Kind::Contains:
      return candidate.find(value) != std::string_view::npos;
    case Kind::Regex:
      // A regex kind without a compiled regex is a compiler bug; it matches nothing
      // rather than everything.
      return regex != nullptr && re2::RE2::FullMatch(candidate, *regex);
  }
  return false;
}

bool HealthCheckDef::passes(uint32_t status) const {
  if (expected_statuses.empty()) {
    return status >= 200 && status < 400;
  }
  for (uint32_t expected : expected_statuses) {
    if (expected == status) {
      return true;
    }
  }
  return false;
}

}  // namespace turnout
