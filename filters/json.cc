// Parses JSON documents into JsonValue trees and prints them back.
#include "filters/json.h"

#include <cstdio>
#include <cstdlib>

namespace turnout {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<JsonValue> document() {
    JsonValue value;
    skipSpace();
    if (!parseValue(&value, 0)) {
      return std::nullopt;
    }
    skipSpace();
    if (pos_ != text_.size()) {
      return std::nullopt;
    }
    return value;
  }

 private:
  bool parseValue(JsonValue* value, size_t depth) {
    if (depth >= kMaxJsonDepth || pos_ >= text_.size()) {
      return false;
    }
    switch (text_[pos_]) {
      case '{':
        return parseObject(value, depth);
      case '[':
        return parseArray(value, depth);
      case '"':
        value->type = JsonValue::Type::String;
        return parseString(&value->text);
      case 't':
        value->type = JsonValue::Type::Bool;
        value->boolean = true;
        return literal("true");
      case 'f':
        value->type = JsonValue::Type::Bool;
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return parseNumber(value);
    }
  }

  bool parseObject(JsonValue* value, size_t depth) {
    value->type = JsonValue::Type::Object;
    ++pos_;
    skipSpace();
    if (consume('}')) {
      return true;
    }
    while (true) {
      JsonMember member;
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"' || !parseString(&member.first)) {
        return false;
      }
      skipSpace();
      if (!consume(':')) {
        return false;
      }
      skipSpace();
      if (!parseValue(&member.second, depth + 1)) {
        return false;
      }
      value->members.push_back(std::move(member));
      skipSpace();
      if (consume('}')) {
        return true;
      }
      if (!consume(',')) {
        return false;
      }
    }
  }

  bool parseArray(JsonValue* value, size_t depth) {
    value->type = JsonValue::Type::Array;
    ++pos_;
    skipSpace();
    if (consume(']')) {
      return true;
    }
    while (true) {
      JsonValue item;
      skipSpace();
      if (!parseValue(&item, depth + 1)) {
        return false;
      }
      value->items.push_back(std::move(item));
      skipSpace();
      if (consume(']')) {
        return true;
      }
      if (!consume(',')) {
        return false;
      }
    }
  }

  // number = [ "-" ] int [ frac ] [ exp ] (RFC 8259 6).
  bool parseNumber(JsonValue* value) {
    size_t start = pos_;
    consume('-');
    if (consume('0')) {
      // A leading zero stands alone.
    } else if (!digits()) {
      return false;
    }
    if (consume('.') && !digits()) {
      return false;
    }
    if (consume('e') || consume('E')) {
      if (!consume('+')) {
        consume('-');
      }
      if (!digits()) {
        return false;
      }
    }
    value->type = JsonValue::Type::Number;
    value->text = std::string(text_.substr(start, pos_ - start));
    value->number = std::strtod(value->text.c_str(), nullptr);
    return true;
  }

  bool digits() {
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      ++pos_;
    }
    return pos_ > start;
  }

  bool parseString(std::string* out) {
    ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      if (c != '\\') {
        out->push_back(c);
      } else if (!parseEscape(out)) {
        return false;
      }
    }
    return false;
  }

  bool parseEscape(std::string* out) {
    if (pos_ >= text_.size()) {
      return false;
    }
    char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out->push_back(c);
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'u':
        return parseUnicode(out);
      default:
        return false;
    }
  }

  // \uXXXX, or a surrogate pair \uD8xx\uDCxx; a lone surrogate is kept as U+FFFD.
  bool parseUnicode(std::string* out) {
    std::optional<uint32_t> code = hex4();
    if (!code) {
      return false;
    }
    if (*code >= 0xd800 && *code < 0xdc00 && text_.substr(pos_, 2) == "\\u") {
      size_t saved = pos_;
      pos_ += 2;
      std::optional<uint32_t> low = hex4();
      if (low && *low >= 0xdc00 && *low < 0xe000) {
        *code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
      } else {
        pos_ = saved;
      }
    }
    if (*code >= 0xd800 && *code < 0xe000) {
      *code = 0xfffd;
    }
    appendUtf8(*code, out);
    return true;
  }

  std::optional<uint32_t> hex4() {
    if (pos_ + 4 > text_.size()) {
      return std::nullopt;
    }
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0) {
        return std::nullopt;
      }
      code = code * 16 + static_cast<uint32_t>(digit);
    }
    return code;
  }

  static void appendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// The length of the valid UTF-8 sequence of two to four bytes at `text`, or 0.
size_t utf8SequenceLength(std::string_view text) {
  auto byte = [&text](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length == 0 || text.size() < length) {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) {
      return 0;
    }
  }
  // Overlong three- and four-byte forms, surrogates and code points past U+10FFFF.
  bool overlong = (lead == 0xe0 && byte(1) < 0xa0) || (lead == 0xf0 && byte(1) < 0x90);
  bool surrogate = lead == 0xed && byte(1) >= 0xa0;
  bool too_high = lead == 0xf4 && byte(1) >= 0x90;
  return overlong || surrogate || too_high ? 0 : length;
}

void appendEscapedByte(unsigned char c, std::string* out) {
  char escaped[8];
  snprintf(escaped, sizeof(escaped), "\\u%04x", c);
  out->append(escaped);
}

}  // namespace

std::optional<JsonValue> parseJson(std::string_view text) {
  return Parser(text).document();
}

void appendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out->push_back(static_cast<char>(c));
    } else if (size_t length = c >= 0x80 ? utf8SequenceLength(text.substr(i)) : 0; length > 0) {
      out->append(text.substr(i, length));
      i += length;
      continue;
    } else {
      appendEscapedByte(c, out);
    }
    ++i;
  }
  out->push_back('"');
}

void appendJson(const JsonValue& value, std::string* out) {
  switch (value.type) {
    case JsonValue::Type::Null:
      out->append("null");
      return;
    case JsonValue::Type::Bool:
      out->append(value.boolean ? "true" : "false");
      return;
    case JsonValue::Type::Number:
      out->append(value.text);
      return;
    case JsonValue::Type::String:
      appendJsonString(value.text, out);
      return;
    case JsonValue::Type::Array:
      out->push_back('[');
      for (size_t i = 0; i < value.items.size(); ++i) {
        out->append(i == 0 ? "" : ",");
        appendJson(value.items[i], out);
      }
      out->push_back(']');
      return;
    case JsonValue::Type::Object:
      out->push_back('{');
      for (size_t i = 0; i < value.members.size(); ++i) {
        out->append(i == 0 ? "" : ",");
        appendJsonString(value.members[i].first, out);
        out->push_back(':');
        appendJson(value.members[i].second, out);
      }
      out->push_back('}');
      return;
  }
}

}  // namespace turnout
