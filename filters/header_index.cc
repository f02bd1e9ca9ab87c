// Builds the per-request index of header lines by the lower-case hash of their names.
#include "filters/header_index.h"

#include <algorithm>
#include <cstring>

namespace turnout {

HeaderIndex::HeaderIndex(const std::vector<HeaderView>& headers) : headers_(&headers) {
  std::memset(chain_start_, 0, sizeof(chain_start_));

  // Lines are pushed on the front of their chain from the last to the first, so every
  // chain lists its lines in request order: "the first line named x" stays the first.
  const size_t indexed = std::min(headers.size(), kIndexedLines);
  uint64_t bits = 0;
  for (size_t line = indexed; line > 0; --line) {
    const uint32_t hash = headerNameHash(headers[line - 1].name);
    uint8_t& start = chain_start_[chainOf(hash)];
    hashes_[line - 1] = hash;
    next_in_chain_[line - 1] = start;
    start = static_cast<uint8_t>(line);
    bits |= headerNameBit(hash);
  }

  // A line past the indexed ones could have any name.
  name_bits_ = indexed == headers.size() ? bits : ~uint64_t{0};
}

// Flattened: the name compare inlined here costs about half what it costs as a call.
[[gnu::flatten]] size_t HeaderIndex::firstLine(std::string_view lower_name,
                                               uint32_t name_hash) const {
  const std::vector<HeaderView>& headers = *headers_;
  for (size_t link = chain_start_[chainOf(name_hash)]; link != 0; link = next_in_chain_[link - 1]) {
    const size_t line = link - 1;
    if (hashes_[line] == name_hash && equalsLowerCaseByWords(headers[line].name, lower_name)) {
      return link;
    }
  }
  for (size_t line = kIndexedLines; line < headers.size(); ++line) {
    if (equalsIgnoreCaseByWords(headers[line].name, lower_name)) {
      return line + 1;
    }
  }
  return 0;
}

}  // namespace turnout
