// Maps a request to a bucket and the bucket to one of the route's weighted clusters.
#include "filters/split.h"

// The hash functions compiled into this file, so that hashing a key of a few bytes is not a
// call into the shared library and its dispatch on the length; the algorithm, and so every
// bucket, is the same.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "filters/cookies.h"
#include "filters/header_index.h"
#include "filters/query.h"
#include "filters/text.h"

namespace turnout {

namespace {

const std::vector<HeaderView> kNoHeaders;

// The value of the first line called `name`, when there is one and it is not empty. Only
// the first line counts, so a client cannot change its bucket by adding a second line.
std::optional<std::string_view> firstHeaderValue(const RequestView& request,
                                                 const HashPolicyRule& rule) {
  HeaderLines lines = headerLines(request, rule.name, rule.name_hash);
  std::string_view value;
  if (lines.next(&value) && !value.empty()) {
    return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> nonEmpty(std::optional<std::string_view> value) {
  return value.has_value() && !value->empty() ? value : std::nullopt;
}

// The bucket one hash policy rule yields for the request, or nullopt when the request
// lacks its key. An empty key yields nothing: hashing "" would pile every such request
// into one bucket, and so onto one pool.
std::optional<uint32_t> bucketFromRule(const HashPolicyRule& rule, uint64_t salt_seed,
                                       const RequestView& request,
                                       const std::vector<HeaderView>& headers) {
  std::optional<std::string_view> key;
  switch (rule.kind) {
    case HashPolicyRule::Kind::Header:
      key = firstHeaderValue(request, rule);
      break;
    case HashPolicyRule::Kind::Cookie:
      key = nonEmpty(findCookie(headers, rule.name));
      break;
    case HashPolicyRule::Kind::QueryParameter:
      key = nonEmpty(findQueryParameter(request.query, rule.name));
      break;
    case HashPolicyRule::Kind::SourceIp:
      key = nonEmpty(request.client_ip);
      break;
    case HashPolicyRule::Kind::BucketHeader: {
      // The value is a bucket chosen by an earlier turnout: used as is, never re-hashed.
      const std::optional<std::string_view> text = firstHeaderValue(request, rule);
      return text.has_value() ? parseBucket(*text) : std::nullopt;
    }
  }
  if (!key.has_value()) {
    return std::nullopt;
  }
  return bucketForKey(salt_seed, *key);
}

SplitDecision decisionFor(const RouteDef& route, uint32_t bucket, bool set_sticky_cookie) {
  const uint32_t share = shareForBucket(route, bucket);
  const uint32_t cluster = route.shares.empty() ? 0 : route.shares[share].cluster_index;
  return SplitDecision{cluster, bucket, set_sticky_cookie};
}

}  // namespace

uint32_t bucketForKey(uint64_t salt_seed, std::string_view key) {
  return static_cast<uint32_t>(XXH3_64bits_withSeed(key.data(), key.size(), salt_seed) %
                               kBucketCount);
}

uint64_t saltSeed(std::string_view salt) {
  return XXH3_64bits(salt.data(), salt.size());
}

uint32_t shareForBucket(const RouteDef& route, uint32_t bucket) {
  // A linear scan: a split has a handful of shares, fewer than a binary search would pay
  // for.
  for (size_t i = 0; i < route.shares.size(); ++i) {
    const ClusterShare& share = route.shares[i];
    if (share.bucket_begin <= bucket && bucket < share.bucket_end) {
      return static_cast<uint32_t>(i);
    }
  }

  // Only a bucket out of range or a malformed route gets here: fall back to the last
  // share that owns any bucket, so a zero-weight pool still receives nothing.
  for (size_t i = route.shares.size(); i > 0; --i) {
    const ClusterShare& share = route.shares[i - 1];
    if (share.bucket_end > share.bucket_begin) {
      return static_cast<uint32_t>(i - 1);
    }
  }
  return 0;
}

// Flattened: the steps are small, and as calls they cost about as much as their work.
[[gnu::flatten]] SplitDecision decideSplit(const RouteDef& route, const RequestView& request,
                                           uint32_t random_bucket) {
  const std::vector<HeaderView>& headers =
      request.headers != nullptr ? *request.headers : kNoHeaders;

  // 1. The first hash policy rule that finds its key in the request.
  for (const HashPolicyRule& rule : route.hash_policy) {
    const std::optional<uint32_t> bucket = bucketFromRule(rule, route.salt_seed, request, headers);
    if (bucket.has_value()) {
      return decisionFor(route, *bucket, false);
    }
  }

  // 2. The bucket this proxy drew for the client earlier and stored in its cookie. A
  // cookie that is not a bucket is ignored and will be overwritten.
  if (route.sticky_cookie.enabled) {
    const std::optional<std::string_view> text = findCookie(headers, route.sticky_cookie.name);
    const std::optional<uint32_t> bucket = text.has_value() ? parseBucket(*text) : std::nullopt;
    if (bucket.has_value()) {
      return decisionFor(route, *bucket, false);
    }
  }

  // 3. A fresh random bucket, remembered in the sticky cookie when the route has one.
  return decisionFor(route, random_bucket % kBucketCount, route.sticky_cookie.enabled);
}

std::optional<uint32_t> parseBucket(std::string_view text) {
  // Digits only, at most four, so the value is below kBucketCount without a range check
  // and no sign, space or overflow can slip through.
  static_assert(kBucketCount == 10000, "parseBucket assumes four-digit buckets");
  if (text.empty() || text.size() > 4) {
    return std::nullopt;
  }
  uint32_t bucket = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    bucket = bucket * 10 + static_cast<uint32_t>(c - '0');
  }
  return bucket;
}

}  // namespace turnout
