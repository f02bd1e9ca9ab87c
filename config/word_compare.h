// Compares and hashes short strings eight bytes at a time, without a call: header names
// case-insensitively (the snapshot compiler hashes each header matcher's name once, the
// filters' header index (filters/header_index.h) each request line's name once per
// request), and values and paths byte for byte.
//
// The case folding is ASCII only, like asciiLower() in filters/text.h: header names are
// tokens (RFC 9110 5.1), and any other byte is compared as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace turnout {

namespace word_detail {

constexpr uint64_t kEveryByte = 0x0101010101010101;

// Lower-cases the ASCII capitals among the eight bytes of `word` at once. Each byte is
// tested on its low seven bits, so no sum carries into the next byte, and a byte with the
// high bit set is never changed.
inline uint64_t lowerWord(uint64_t word) {
  const uint64_t low7 = word & (0x7f * kEveryByte);
  const uint64_t above_z = low7 + (0x7f - 'Z') * kEveryByte;  // High bit: byte > 'Z'.
  const uint64_t from_a = low7 + (0x80 - 'A') * kEveryByte;   // High bit: byte >= 'A'.
  const uint64_t capital = from_a & ~above_z & ~word & (0x80 * kEveryByte);
  return word | (capital >> 2);
}

// Sets bit 5 of every byte: a coarser fold than lowerWord() that costs one instruction.
// Names equal but for case fold alike; so do a few different ones ('^' and '~', or a
// digit and a control byte), which only makes a hash collide, and every hash hit is
// confirmed by a compare.
inline uint64_t caseBlindWord(uint64_t word) {
  return word | (0x20 * kEveryByte);
}

inline uint64_t load64(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

inline uint64_t load32(const char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

// The bytes of a name shorter than eight, packed into one word without reading past its
// end: two overlapping four-byte loads from 4 bytes up, or first, middle and last byte.
inline uint64_t shortWord(const char* bytes, size_t length) {
  if (length >= 4) {
    return load32(bytes) | (load32(bytes + length - 4) << 32);
  }
  if (length == 0) {
    return 0;
  }
  return uint64_t{static_cast<unsigned char>(bytes[0])} |
         uint64_t{static_cast<unsigned char>(bytes[length / 2])} << 8 |
         uint64_t{static_cast<unsigned char>(bytes[length - 1])} << 16;
}

// True when a and b hold the same bytes once each word of a goes through `fold_a` and
// each word of b through `fold_b`. Always inline: as a call, the call and the registers it
// saves cost about as much as comparing a value or a name of a few words.
template <uint64_t (*fold_a)(uint64_t), uint64_t (*fold_b)(uint64_t)>
[[gnu::always_inline]] inline bool wordsEqual(std::string_view a, std::string_view b) {
  const size_t length = a.size();
  if (length != b.size()) {
    return false;
  }
  if (length < 4) {
    // First, middle and last byte are all the bytes there are.
    return length == 0 ||
           (fold_a(static_cast<unsigned char>(a[0])) == fold_b(static_cast<unsigned char>(b[0])) &&
            fold_a(shortWord(a.data(), length)) == fold_b(shortWord(b.data(), length)));
  }
  if (length < 8) {
    // shortWord() keeps every byte of a string this short, each at a place fixed by the
    // length.
    return fold_a(shortWord(a.data(), length)) == fold_b(shortWord(b.data(), length));
  }
  for (size_t offset = 0; offset + 8 < length; offset += 8) {
    if (fold_a(load64(a.data() + offset)) != fold_b(load64(b.data() + offset))) {
      return false;
    }
  }
  return fold_a(load64(a.data() + length - 8)) == fold_b(load64(b.data() + length - 8));
}

// Nonzero when some byte of `word` is zero. A flag may also be set above a zero byte, by
// its borrow, but never when no byte is zero: the yes/no answer is exact.
inline uint64_t hasZeroByte(uint64_t word) {
  return (word - kEveryByte) & ~word & (0x80 * kEveryByte);
}

inline uint64_t sameWord(uint64_t word) {
  return word;
}

}  // namespace word_detail

// A 32-bit hash of `name` folded to lower case: "X-Beta" and "x-beta" hash alike. Never 0,
// so that 0 can mean "not computed" in KeyValueMatch and HashPolicyRule.
//
// It reads only the length and the first and last eight bytes (four, below eight), so it
// costs the same few instructions for every name and covers every byte of a name of up to
// 16. Longer names that differ only in the middle share a hash; so may any two names.
// Equal hashes never prove equal names: callers confirm with a compare, so a collision
// costs a compare and never changes an answer.
inline uint32_t headerNameHash(std::string_view name) {
  using namespace word_detail;
  const char* bytes = name.data();
  const size_t length = name.size();
  uint64_t first;
  uint64_t last;
  if (length >= 8) {
    first = load64(bytes);
    last = load64(bytes + length - 8);
  } else if (length >= 4) {
    first = load32(bytes);
    last = load32(bytes + length - 4);
  } else {
    first = shortWord(bytes, length);
    last = 0;
  }
  const uint64_t state = (caseBlindWord(first) * 0x9e3779b97f4a7c15) ^ caseBlindWord(last);
  return static_cast<uint32_t>(((state ^ length) * 0xbf58476d1ce4e5b9) >> 32) | 1;
}

// One bit of 64 for a header name's hash: a request's header index ORs the bits of its
// lines' names, a route the bits of the headers it needs (RouteMatchPlan). A bit missing
// from the request proves that no line has the name; a bit present proves nothing, since
// many names share a bit. Bit 0 of the hash is always set, so bits 1 to 6 are used.
inline uint64_t headerNameBit(uint32_t name_hash) {
  return uint64_t{1} << ((name_hash >> 1) & 63);
}

// equalsIgnoreCase() of filters/text.h, eight bytes at a time.
inline bool equalsIgnoreCaseByWords(std::string_view a, std::string_view b) {
  using namespace word_detail;
  return wordsEqual<lowerWord, lowerWord>(a, b);
}

// The same for a `lower` already in lower case, as the snapshot compiler writes header
// names and domains: only `text` is folded.
inline bool equalsLowerCaseByWords(std::string_view text, std::string_view lower) {
  using namespace word_detail;
  return wordsEqual<lowerWord, sameWord>(text, lower);
}

// a == b, eight bytes at a time and inline: memcmp is a call, which costs more than the
// compare for the few bytes of a header value or a path prefix.
inline bool equalsByWords(std::string_view a, std::string_view b) {
  using namespace word_detail;
  return wordsEqual<sameWord, sameWord>(a, b);
}

// True when `text` holds `byte`: text.find(byte) without the call, a word at a time.
inline bool containsByte(std::string_view text, char byte) {
  using namespace word_detail;
  const uint64_t pattern = static_cast<unsigned char>(byte) * kEveryByte;
  const char* bytes = text.data();
  const size_t length = text.size();
  if (length < 4) {
    for (size_t i = 0; i < length; ++i) {
      if (bytes[i] == byte) {
        return true;
      }
    }
    return false;
  }
  if (length < 8) {
    // Two overlapping four-byte loads hold every byte, and no padding.
    return hasZeroByte(shortWord(bytes, length) ^ pattern) != 0;
  }
  for (size_t offset = 0; offset + 8 < length; offset += 8) {
    if (hasZeroByte(load64(bytes + offset) ^ pattern) != 0) {
      return true;
    }
  }
  return hasZeroByte(load64(bytes + length - 8) ^ pattern) != 0;
}

}  // namespace turnout
