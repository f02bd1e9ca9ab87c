// Small allocation-free text helpers for HTTP tokens: ASCII case folding, trimming and
// splitting a list on a separator.
#pragma once

#include <cstddef>
#include <string_view>

namespace turnout {

// ASCII only: HTTP names and host names are ASCII (RFC 9110 5.1), and folding other
// bytes by locale would make the proxy's decisions depend on its environment.
constexpr char asciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

constexpr bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

constexpr bool endsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         equalsIgnoreCase(text.substr(text.size() - suffix.size()), suffix);
}

// Removes spaces and horizontal tabs (HTTP's OWS, RFC 9110 5.6.3) from both ends.
constexpr std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Walks the pieces of `text` between `separator` characters, left to right, without
// copying. Every piece is returned, empty ones included, so "a,,b" gives "a", "", "b"
// and "" gives one empty piece; callers trim and skip as their grammar says.
class Splitter {
 public:
  constexpr Splitter(std::string_view text, char separator) : rest_(text), separator_(separator) {}

  // Stores the next piece in `piece` and returns true, or returns false at the end.
  constexpr bool next(std::string_view* piece) {
    if (done_) {
      return false;
    }
    const size_t end = rest_.find(separator_);
    if (end == std::string_view::npos) {
      *piece = rest_;
      done_ = true;
      return true;
    }
    *piece = rest_.substr(0, end);
    rest_.remove_prefix(end + 1);
    return true;
  }

 private:
  std::string_view rest_;
  char separator_;
  bool done_ = false;
};

}  // namespace turnout
