// Collects the pieces of one HTTP message head as llhttp reports them, within a byte limit,
// and exposes the header lines as views once the head is complete.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filters/request_view.h"

namespace turnout {

class MessageHead {
 public:
  // Forgets the previous message. `limit` bounds the stored bytes (names, values, target).
  void reset(size_t limit);

  // Each returns false once the head would exceed the limit; nothing more is stored then.
  // Every header line also counts the 4 bytes it takes at least on the wire (": " and
  // CRLF), so that a head of many tiny lines is held to the limit too.
  bool appendTarget(const char* data, size_t length);
  bool appendStatus(const char* data, size_t length);
  bool appendField(const char* data, size_t length);
  bool appendValue(const char* data, size_t length);

  // Builds the header views. Call once, when llhttp reports the head complete; the views
  // stay valid until the next reset().
  void finish();

  std::string_view target() const { return view(target_); }
  std::string_view status() const { return view(status_); }
  const std::vector<HeaderView>& headers() const { return headers_; }

  // The value of the first line named `lower_name` (give it lower-cased), or an empty view.
  std::string_view find(std::string_view lower_name) const;
  bool has(std::string_view lower_name) const;

  // True when every header name is a token (RFC 9110 5.1): not empty, no white space, no
  // separators. llhttp 8 lets "X A", "X-A " and "" through.
  bool namesAreTokens() const;

  size_t storedBytes() const { return bytes_.size(); }

  // Header lines begun so far (the one being read included).
  size_t lineCount() const { return lines_.size(); }

  // Releases the memory of a large head once the connection goes idle.
  void shrink();

  // Heap bytes the head keeps for reuse.
  size_t capacityBytes() const {
    return bytes_.capacity() + lines_.capacity() * sizeof(lines_[0]) +
           headers_.capacity() * sizeof(headers_[0]);
  }

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  enum class Piece { None, Target, Status, Field, Value };

  bool append(Piece piece, Span* span, const char* data, size_t length);
  std::string_view view(Span span) const { return {bytes_.data() + span.offset, span.length}; }

  std::string bytes_;
  size_t limit_ = 0;
  size_t line_overhead_ = 0;  // Bytes charged to the limit for the header lines' syntax.
  Span target_;
  Span status_;
  std::vector<std::pair<Span, Span>> lines_;
  std::vector<HeaderView> headers_;
  Piece last_ = Piece::None;
};

}  // namespace turnout
