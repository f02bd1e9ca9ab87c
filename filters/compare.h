// Compares a mirrored copy's answer with the primary answer, as a parallel run's compare
// block says: the status, chosen headers, and the body byte for byte or as JSON with
// ignored paths; with a second answer of the primary's own version, differences that
// version shows by itself are noise and are not counted (the noise filter of Diffy).
//
// Pure functions on any thread; the proxy captures the answers (proxy/mirror_exchange.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/snapshot.h"

namespace turnout {

// What was kept of one answer for the comparison.
struct ResponseSample {
  int status = 0;

  // The compared headers only, by lower-cased name; all lines of a name joined with ", ".
  std::vector<std::pair<std::string, std::string>> headers;

  std::string body;         // The first MirrorCompareDef::max_body_bytes bytes.
  uint64_t body_bytes = 0;  // The whole body's length.

  bool truncated() const { return body_bytes > body.size(); }

  // The joined value of a compared header, or nullptr when the answer had none.
  const std::string* header(const std::string& lower_name) const;
};

enum class DifferenceKind { Status, Header, Body };

const char* differenceKindName(DifferenceKind kind);

struct Difference {
  DifferenceKind kind = DifferenceKind::Status;
  std::string where;    // "status", a header name, "body", or a JSON path like "$.a[2]".
  std::string primary;  // Short renderings of each side's value; "(absent)" when none.
  std::string candidate;
};

struct CompareResult {
  std::vector<Difference> differences;  // Counted against the candidate.
  uint32_t noise = 0;                   // Differences the noise filter discounted.

  bool equal() const { return differences.empty(); }
  bool differs(DifferenceKind kind) const;
};

// A comparison records at most this many differences; beyond it the rest are dropped
// (the kinds already recorded still say what differed).
inline constexpr size_t kMaxDifferences = 256;

// Compares `candidate` with `primary` under `spec`. With `secondary` (a second answer of
// the primary's version), a difference whose place also differs between `primary` and
// `secondary` (or lies inside such a place, for JSON paths) is noise.
//
// Bodies: IGNORE compares none. JSON compares parsed values when both bodies were kept
// whole and parse, leaving out ignored_json_paths; otherwise bodies compare byte for byte,
// and a body cut at max_body_bytes compares by its kept bytes and its total length.
CompareResult compareResponses(const MirrorCompareDef& spec, const ResponseSample& primary,
                               const ResponseSample& candidate,
                               const ResponseSample* secondary = nullptr);

// One line per difference, "status: 200 -> 503", "header x-version: \"1\" -> \"2\"",
// "body $.price: 10 -> 12", at most `max_lines` lines and then a count of the rest.
std::string describeDifferences(const CompareResult& result, size_t max_lines);

}  // namespace turnout
