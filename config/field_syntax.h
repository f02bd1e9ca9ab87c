// The syntax of single config values (HTTP tokens, Host patterns, durations), shared by the
// validator, which explains what is wrong, and the snapshot compiler, which trusts it.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.h"

namespace turnout {

namespace detail {

// tchar of RFC 9110 5.6.2, as a table: the request path asks this once per header byte.
constexpr std::array<bool, 256> makeTokenTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[c] = true;
    table[c - 'a' + 'A'] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}

inline constexpr std::array<bool, 256> kTokenChars = makeTokenTable();

}  // namespace detail

// True for a character allowed in an HTTP token (a header name, a method).
constexpr bool isTokenChar(char c) { return detail::kTokenChars[static_cast<unsigned char>(c)]; }

// True for a non-empty RFC 9110 5.6.2 token: the syntax of header names, methods and
// (RFC 6265 4.1.1) cookie names.
bool isHttpToken(std::string_view text);

// ASCII lower case; other bytes are kept.
std::string toLowerAscii(std::string_view text);

// The compiled form of a virtual host domain, or nullopt with `*reason` set. Accepted:
// "*", "*.suffix" (Suffix ".suffix"), "prefix.*" (Prefix "prefix.") and exact names, each
// made of dot-separated non-empty labels of letters, digits, '-' and '_', or a bracketed
// IPv6 literal. The value is lower-cased.
std::optional<DomainMatch> parseDomainPattern(std::string_view text, std::string* reason);

// A Duration in milliseconds, rounded up so that any positive duration stays positive.
// Negative durations give a negative count; callers validate the sign first.
int64_t durationMillis(const google::protobuf::Duration& duration);

// True when the duration is below zero.
bool isNegative(const google::protobuf::Duration& duration);

// True when the duration is exactly zero.
bool isZero(const google::protobuf::Duration& duration);

}  // namespace turnout
