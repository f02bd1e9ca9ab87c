// Collects the pieces of one HTTP message head as llhttp reports them.
#include "proxy/message_head.h"

#include "config/field_syntax.h"

#include "filters/text.h"

namespace turnout {
namespace {

std::string_view trimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// RFC 9110 5.6.2: tchar.
// The wire bytes of a header line besides its name and value: ": " and CRLF.
constexpr size_t kLineOverhead = 4;

}  // namespace

void MessageHead::reset(size_t limit) {
  bytes_.clear();
  limit_ = limit;
  line_overhead_ = 0;
  target_ = {};
  status_ = {};
  lines_.clear();
  headers_.clear();
  last_ = Piece::None;
}

bool MessageHead::append(Piece piece, Span* span, const char* data, size_t length) {
  if (bytes_.size() + line_overhead_ + length > limit_) {
    return false;
  }

  // llhttp may deliver one name or value in several calls (split across reads); a call
  // that continues the previous piece extends its span, any other starts a new one.
  if (last_ != piece) {
    span->offset = static_cast<uint32_t>(bytes_.size());
    span->length = 0;
  }
  bytes_.append(data, length);
  span->length += static_cast<uint32_t>(length);
  last_ = piece;
  return true;
}

bool MessageHead::appendTarget(const char* data, size_t length) {
  return append(Piece::Target, &target_, data, length);
}

bool MessageHead::appendStatus(const char* data, size_t length) {
  return append(Piece::Status, &status_, data, length);
}

bool MessageHead::appendField(const char* data, size_t length) {
  if (last_ != Piece::Field) {
    if (bytes_.size() + line_overhead_ + kLineOverhead > limit_) {
      return false;
    }
    line_overhead_ += kLineOverhead;
    lines_.emplace_back();
  }
  return append(Piece::Field, &lines_.back().first, data, length);
}

bool MessageHead::appendValue(const char* data, size_t length) {
  if (lines_.empty()) {
    return false;
  }
  return append(Piece::Value, &lines_.back().second, data, length);
}

void MessageHead::finish() {
  headers_.clear();
  headers_.reserve(lines_.size());
  for (const auto& [name, value] : lines_) {
    headers_.push_back(HeaderView{view(name), trimWhitespace(view(value))});
  }
  last_ = Piece::None;
}

std::string_view MessageHead::find(std::string_view lower_name) const {
  for (const HeaderView& header : headers_) {
    if (equalsIgnoreCase(header.name, lower_name)) {
      return header.value;
    }
  }
  return {};
}

bool MessageHead::has(std::string_view lower_name) const {
  for (const HeaderView& header : headers_) {
    if (equalsIgnoreCase(header.name, lower_name)) {
      return true;
    }
  }
  return false;
}

bool MessageHead::namesAreTokens() const {
  for (const HeaderView& header : headers_) {
    if (!isHttpToken(header.name)) {
      return false;
    }
  }
  return true;
}

void MessageHead::shrink() {
  std::string().swap(bytes_);
  std::vector<std::pair<Span, Span>>().swap(lines_);
  std::vector<HeaderView>().swap(headers_);
}

}  // namespace turnout
