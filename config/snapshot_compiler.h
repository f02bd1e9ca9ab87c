// Compiles a validated config into the immutable Snapshot the data path reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/snapshot.h"
#include "config/turnout.pb.h"

namespace turnout {

// The Snapshot of `config`, which must have passed validateConfig (config/validator.h):
// the compiler trusts it and does not report errors. It resolves cluster names to indices,
// lower-cases header names and domains, compiles each regex once, parses addresses,
// applies the defaults stated in config/turnout.proto and precomputes bucket ranges.
// `source` and `content_hash` are copied into the snapshot. Any thread.
std::shared_ptr<Snapshot> compileSnapshot(const config::Bootstrap& config,
                                          const std::string& source, uint64_t content_hash);

// The buckets of a split: share i owns [floor(N * cum(i-1) / total), floor(N * cum(i) /
// total)) where N is kBucketCount, cum(i) the sum of the first i+1 weights and total the
// sum of all. The ranges are contiguous, in declared order, and cover [0, N) exactly.
// `shares` carry cluster_index and weight on entry; the sum must be positive.
void assignBucketRanges(std::vector<ClusterShare>* shares);

// XXH3-64 of `salt`: the seed of a route's bucket hash. The same function as saltSeed()
// in filters/split.h, repeated here because config/ must not depend on filters/.
uint64_t computeSaltSeed(std::string_view salt);

}  // namespace turnout
