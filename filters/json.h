// A small JSON (RFC 8259) reader and writer for comparing response bodies: parses a
// document into a tree with a depth bound, and prints values and strings back as JSON.
//
// Pure functions on any thread; no I/O, no global state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turnout {

struct JsonMember;

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };

  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string text;              // String: the decoded value. Number: the literal as written.
  std::vector<JsonValue> items;  // Array.
  std::vector<JsonMember> members;  // Object, in document order.
};

// One name and value of an object. A struct, not a std::pair: libstdc++'s pair of an
// incomplete type does not compile with clang (the fuzz build).
struct JsonMember {
  std::string first;
  JsonValue second;
};

// Nesting deeper than this is refused: the parser and the comparison recurse.
inline constexpr size_t kMaxJsonDepth = 64;

// The value of a whole document (white space around it allowed), or nullopt when the text
// is not exactly one JSON value, nests deeper than kMaxJsonDepth, or has a string with an
// invalid escape. Strings are decoded to UTF-8 (\u escapes included); other bytes in
// strings are kept as they are.
std::optional<JsonValue> parseJson(std::string_view text);

// Appends `value` as compact JSON; members in their order, numbers as written.
void appendJson(const JsonValue& value, std::string* out);

// Appends `text` as a JSON string: quotes, backslashes and control bytes escaped, valid
// UTF-8 sequences kept, any other byte written as \u00XX so the output is valid JSON.
void appendJsonString(std::string_view text, std::string* out);

}  // namespace turnout
