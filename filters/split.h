// Picks the cluster of a route for a request from the route's weighted split.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/snapshot.h"
#include "filters/request_view.h"

namespace turnout {

// The bucket of a key: XXH3-64 of the key seeded with the route's salt seed, modulo
// kBucketCount. Every process computes the same bucket for the same (salt, key).
uint32_t bucketForKey(uint64_t salt_seed, std::string_view key);

// The seed for a salt string (XXH3-64 of the salt).
uint64_t saltSeed(std::string_view salt);

// The index into route.shares of the share owning `bucket`. The shares cover every
// bucket; a zero-weight share owns none.
uint32_t shareForBucket(const RouteDef& route, uint32_t bucket);

struct SplitDecision {
  uint32_t cluster_index = 0;  // Index into Snapshot::clusters.
  uint32_t bucket = 0;

  // True when the bucket was drawn at random and the route asks for a sticky cookie:
  // the response should carry Set-Cookie: <route.sticky_cookie.name>=<bucket>.
  bool set_sticky_cookie = false;
};

// The decision for one request. The key is taken from the first hash policy that yields
// one; then the sticky cookie's bucket; else `random_bucket` (a value the caller drew
// uniformly from [0, kBucketCount)). Any thread; no allocation.
SplitDecision decideSplit(const RouteDef& route, const RequestView& request,
                          uint32_t random_bucket);

// Parses a bucket written by this proxy ("0".."9999"); nullopt for anything else.
std::optional<uint32_t> parseBucket(std::string_view text);

}  // namespace turnout
