// Parses and prints the JSON paths of MirrorCompare.ignored_json_paths.
#include "config/json_path.h"

#include <charconv>

namespace turnout {
namespace {

bool isKeyByte(char c) {
  return c != '.' && c != '[' && c != ']' && c != '*';
}

// "[N]" or "[*]" at the start of `rest`; advances past it.
std::optional<JsonPathStep> parseBracket(std::string_view* rest, std::string* reason) {
  size_t close = rest->find(']');
  if (close == std::string_view::npos) {
    *reason = "'[' without a closing ']'";
    return std::nullopt;
  }
  std::string_view inside = rest->substr(1, close - 1);
  rest->remove_prefix(close + 1);

  JsonPathStep step;
  if (inside == "*") {
    step.kind = JsonPathStep::Kind::AnyIndex;
    return step;
  }
  step.kind = JsonPathStep::Kind::Index;
  auto [end, error] = std::from_chars(inside.data(), inside.data() + inside.size(), step.index);
  if (inside.empty() || error != std::errc() || end != inside.data() + inside.size()) {
    *reason = "\"[" + std::string(inside) + "]\" is not an array index ([N] or [*])";
    return std::nullopt;
  }
  return step;
}

// A key or "*" at the start of `rest`; advances past it.
std::optional<JsonPathStep> parseKey(std::string_view* rest, std::string* reason) {
  JsonPathStep step;
  if (!rest->empty() && rest->front() == '*') {
    rest->remove_prefix(1);
    step.kind = JsonPathStep::Kind::AnyKey;
    return step;
  }
  size_t length = 0;
  while (length < rest->size() && isKeyByte((*rest)[length])) {
    ++length;
  }
  if (length == 0) {
    *reason = "an empty key";
    return std::nullopt;
  }
  step.key = std::string(rest->substr(0, length));
  rest->remove_prefix(length);
  return step;
}

}  // namespace

std::optional<JsonPath> parseJsonPath(std::string_view text, std::string* reason) {
  std::string_view rest = text;
  if (rest == "$") {
    return JsonPath{};
  }
  if (rest.starts_with("$.") || rest.starts_with("$[")) {
    rest.remove_prefix(rest[1] == '.' ? 2 : 1);
  }

  // A key opens the path or follows a '.'; brackets follow a key or another bracket.
  JsonPath path;
  bool want_key = rest.empty() || rest.front() != '[';
  while (!rest.empty() || want_key) {
    std::optional<JsonPathStep> step =
        want_key ? parseKey(&rest, reason) : parseBracket(&rest, reason);
    if (!step) {
      return std::nullopt;
    }
    path.push_back(std::move(*step));
    if (rest.empty()) {
      break;
    }
    if (rest.front() == '.') {
      rest.remove_prefix(1);
      want_key = true;
    } else if (rest.front() == '[') {
      want_key = false;
    } else {
      *reason = "unexpected '" + std::string(1, rest.front()) + "' after a step";
      return std::nullopt;
    }
  }
  return path;
}

std::string jsonPathText(const JsonPath& path) {
  std::string text = "$";
  for (const JsonPathStep& step : path) {
    switch (step.kind) {
      case JsonPathStep::Kind::Key:
        text += "." + step.key;
        break;
      case JsonPathStep::Kind::Index:
        text += "[" + std::to_string(step.index) + "]";
        break;
      case JsonPathStep::Kind::AnyKey:
        text += ".*";
        break;
      case JsonPathStep::Kind::AnyIndex:
        text += "[*]";
        break;
    }
  }
  return text;
}

}  // namespace turnout
