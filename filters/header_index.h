// Finds a request's header lines by name without comparing every name: the lower-case
// hash of each line's name is computed once per request, and each lookup compares hashes
// first and reads a name only when its hash is found.
//
// The index answers exactly as a scan of every line with equalsIgnoreCase() would: a
// hash hit is confirmed by comparing the names, and lines past the indexed ones are
// scanned. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "config/word_compare.h"
#include "filters/request_view.h"

namespace turnout {

class HeaderIndex;

// Yields the value of every line with one name, in request order.
class HeaderLines {
 public:
  // Every line of `headers` named `lower_name` (any case in the request), by scanning them
  // all. Holds references to `headers` and `lower_name`: both must outlive the scanner.
  HeaderLines(const std::vector<HeaderView>& headers, std::string_view lower_name)
      : headers_(&headers), name_(lower_name) {}

  // Stores the next value in `value` and returns true, or returns false at the end.
  bool next(std::string_view* value);

 private:
  friend class HeaderIndex;

  HeaderLines(const HeaderIndex& index, std::string_view lower_name, uint32_t name_hash,
              size_t first_line);

  const std::vector<HeaderView>* headers_;
  std::string_view name_;
  const HeaderIndex* index_ = nullptr;
  uint32_t hash_ = 0;
  uint8_t link_ = 0;      // 1 + the next indexed line of the hash's chain; 0: chain done.
  size_t confirmed_ = 0;  // 1 + a line known to carry the name, yielded first; 0: none.
  size_t unindexed_ = 0;  // The next line to test by name alone.
};

// The name index of one request head: built once per request (on the worker thread, as
// the proxy parses the head or starts the stream), then read by the route match and the
// split. Holds a reference to the header vector, which must outlive the index and not
// change while it is used. About 370 bytes, meant to live on the stack. Read-only once
// built.
class HeaderIndex {
 public:
  // Lines past this many are not indexed; lookups compare their names one by one, so a
  // head with more lines costs more per lookup but gets the same answers.
  static constexpr size_t kIndexedLines = 64;

  explicit HeaderIndex(const std::vector<HeaderView>& headers);

  const std::vector<HeaderView>& headers() const { return *headers_; }

  // The lines named `lower_name` (lower case); `name_hash` is headerNameHash(lower_name).
  HeaderLines find(std::string_view lower_name, uint32_t name_hash) const;

  // headerNameBit() of every line's name ORed together (config/word_compare.h), or every
  // bit when some lines are not indexed: a bit that is clear proves that no line has a
  // name with that bit, which lets the route match skip a route needing such a header.
  uint64_t nameBits() const { return name_bits_; }

 private:
  friend class HeaderLines;

  // A hash picks its chain by its top bits (its lowest bit is always set).
  static constexpr unsigned kChainBits = 5;
  static constexpr size_t kChains = size_t{1} << kChainBits;

  static size_t chainOf(uint32_t hash) { return hash >> (32 - kChainBits); }

  // 1 + the first line named `lower_name`, or 0 when none is.
  size_t firstLine(std::string_view lower_name, uint32_t name_hash) const;

  const std::vector<HeaderView>* headers_;
  uint64_t name_bits_ = 0;
  uint8_t chain_start_[kChains];          // 1 + the first line of each chain; 0: empty chain.
  uint8_t next_in_chain_[kIndexedLines];  // 1 + the next line of the same chain; 0: last.
  uint32_t hashes_[kIndexedLines];        // headerNameHash() of each indexed line's name.
};

// The lines of `request` named `lower_name`: through its header index when it has one,
// else by scanning. `name_hash` is headerNameHash(lower_name), or 0 to have it computed.
inline HeaderLines headerLines(const RequestView& request, std::string_view lower_name,
                               uint32_t name_hash) {
  static const std::vector<HeaderView> kNoHeaders;
  if (request.header_index != nullptr) {
    return request.header_index->find(lower_name,
                                      name_hash != 0 ? name_hash : headerNameHash(lower_name));
  }
  return HeaderLines(request.headers != nullptr ? *request.headers : kNoHeaders, lower_name);
}

inline HeaderLines::HeaderLines(const HeaderIndex& index, std::string_view lower_name,
                                uint32_t name_hash, size_t first_line)
    : headers_(index.headers_), name_(lower_name), index_(&index), hash_(name_hash) {
  // The lines after the first one: the rest of its chain, then the unindexed lines; or
  // only the unindexed lines after it when it is one of them.
  confirmed_ = first_line;
  if (first_line == 0) {
    unindexed_ = headers_->size();
  } else if (first_line <= HeaderIndex::kIndexedLines) {
    link_ = index.next_in_chain_[first_line - 1];
    unindexed_ = HeaderIndex::kIndexedLines;
  } else {
    unindexed_ = first_line;
  }
}

inline HeaderLines HeaderIndex::find(std::string_view lower_name, uint32_t name_hash) const {
  return HeaderLines(*this, lower_name, name_hash, firstLine(lower_name, name_hash));
}

inline bool HeaderLines::next(std::string_view* value) {
  const std::vector<HeaderView>& headers = *headers_;
  if (confirmed_ != 0) {
    *value = headers[confirmed_ - 1].value;
    confirmed_ = 0;
    return true;
  }

  // The indexed lines of the hash's chain: a different hash is a different name, an
  // equal one is confirmed, since two names can share a hash.
  while (link_ != 0) {
    const size_t line = link_ - 1u;
    link_ = index_->next_in_chain_[line];
    if (index_->hashes_[line] == hash_ && equalsLowerCaseByWords(headers[line].name, name_)) {
      *value = headers[line].value;
      return true;
    }
  }

  // Lines the index does not cover, or every line when there is no index.
  while (unindexed_ < headers.size()) {
    const HeaderView& header = headers[unindexed_++];
    if (equalsIgnoreCaseByWords(header.name, name_)) {
      *value = header.value;
      return true;
    }
  }
  return false;
}

}  // namespace turnout
