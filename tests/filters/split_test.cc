// Tests bucket hashing, bucket ranges and the order of split key sources.
#include "filters/split.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/filters/route_builder.h"

namespace turnout {
namespace {

// The cluster owning `bucket` in `route`.
uint32_t clusterFor(const RouteDef& route, uint32_t bucket) {
  return route.shares[shareForBucket(route, bucket)].cluster_index;
}

TEST(BucketForKey, SameKeyGivesSameBucket) {
  const uint64_t seed = saltSeed("checkout");
  EXPECT_EQ(bucketForKey(seed, "user-17"), bucketForKey(seed, "user-17"));
  EXPECT_LT(bucketForKey(seed, "user-17"), kBucketCount);
}

// Every proxy of a fleet, and every other tool that wants to predict a bucket, must get
// the same number: the formula is part of the contract.
TEST(BucketForKey, IsSeededXxh3ModuloBucketCount) {
  const std::string salt = "checkout";
  const std::string key = "user-17";
  const uint64_t seed = XXH3_64bits(salt.data(), salt.size());
  EXPECT_EQ(saltSeed(salt), seed);
  EXPECT_EQ(bucketForKey(seed, key), XXH3_64bits_withSeed(key.data(), key.size(), seed) % 10000);
}

TEST(BucketForKey, DifferentSaltsSpreadTheSameKeys) {
  const uint64_t first = saltSeed("route-a");
  const uint64_t second = saltSeed("route-b");
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "user-" + std::to_string(i);
    same += bucketForKey(first, key) == bucketForKey(second, key) ? 1 : 0;
  }
  EXPECT_LT(same, 10);
}

class ParseBucket
    : public ::testing::TestWithParam<std::pair<std::string_view, std::optional<uint32_t>>> {};

TEST_P(ParseBucket, AcceptsOnlyOneToFourDigits) {
  const auto [text, expected] = GetParam();
  EXPECT_EQ(parseBucket(text), expected) << "text '" << text << "'";
}

INSTANTIATE_TEST_SUITE_P(Texts, ParseBucket,
                         ::testing::Values(std::pair{"0", std::optional<uint32_t>(0)},
                                           std::pair{"7", std::optional<uint32_t>(7)},
                                           std::pair{"0042", std::optional<uint32_t>(42)},
                                           std::pair{"9999", std::optional<uint32_t>(9999)},
                                           std::pair{"", std::optional<uint32_t>()},
                                           std::pair{"10000", std::optional<uint32_t>()},
                                           std::pair{"00001", std::optional<uint32_t>()},
                                           std::pair{"+1", std::optional<uint32_t>()},
                                           std::pair{"-1", std::optional<uint32_t>()},
                                           std::pair{" 1", std::optional<uint32_t>()},
                                           std::pair{"1 ", std::optional<uint32_t>()},
                                           std::pair{"1a", std::optional<uint32_t>()},
                                           std::pair{"0x1", std::optional<uint32_t>()}));

TEST(ShareForBucket, RangesFollowDeclaredOrder) {
  const RouteDef route = fixtures::splitRoute("r", {95, 5});
  for (uint32_t bucket = 0; bucket < kBucketCount; ++bucket) {
    EXPECT_EQ(clusterFor(route, bucket), bucket < 9500 ? 0u : 1u) << "bucket " << bucket;
  }
}

// Raising the last pool's weight step by step, as a canary rollout does: a bucket never
// leaves the canary, so no user flips back to the stable version.
TEST(ShareForBucket, RaisingCanaryWeightOnlyMovesBucketsToCanary) {
  const std::vector<std::vector<uint32_t>> steps = {{100, 0}, {99, 1},  {95, 5},  {90, 10},
                                                    {75, 25}, {50, 50}, {10, 90}, {0, 100}};
  for (size_t step = 1; step < steps.size(); ++step) {
    const RouteDef before = fixtures::splitRoute("r", steps[step - 1]);
    const RouteDef after = fixtures::splitRoute("r", steps[step]);
    for (uint32_t bucket = 0; bucket < kBucketCount; ++bucket) {
      if (clusterFor(before, bucket) == 1) {
        ASSERT_EQ(clusterFor(after, bucket), 1u) << "step " << step << " bucket " << bucket;
      }
    }
  }
}

// With three pools, weight taken from the first and given to the last moves buckets
// only towards later pools, and none out of the pool that grew.
TEST(ShareForBucket, RaisingLastOfThreeOnlyMovesBucketsForward) {
  const RouteDef before = fixtures::splitRoute("r", {80, 10, 10});
  const RouteDef after = fixtures::splitRoute("r", {70, 10, 20});
  for (uint32_t bucket = 0; bucket < kBucketCount; ++bucket) {
    const uint32_t old_cluster = clusterFor(before, bucket);
    const uint32_t new_cluster = clusterFor(after, bucket);
    ASSERT_GE(new_cluster, old_cluster) << "bucket " << bucket;
    if (old_cluster == 2) {
      ASSERT_EQ(new_cluster, 2u) << "bucket " << bucket;
    }
  }
}

class ZeroWeight : public ::testing::TestWithParam<std::vector<uint32_t>> {};

TEST_P(ZeroWeight, ZeroWeightPoolNeverChosen) {
  const std::vector<uint32_t>& weights = GetParam();
  const RouteDef route = fixtures::splitRoute("r", weights);
  const std::vector<HeaderView> headers;
  for (uint32_t bucket = 0; bucket < kBucketCount; ++bucket) {
    const SplitDecision decision = decideSplit(route, fixtures::request(headers), bucket);
    ASSERT_NE(weights[decision.cluster_index], 0u) << "bucket " << bucket;
    ASSERT_EQ(decision.bucket, bucket);
  }
}

INSTANTIATE_TEST_SUITE_P(Weights, ZeroWeight,
                         ::testing::Values(std::vector<uint32_t>{100, 0},
                                           std::vector<uint32_t>{0, 100},
                                           std::vector<uint32_t>{50, 0, 50},
                                           std::vector<uint32_t>{0, 0, 7},
                                           std::vector<uint32_t>{1, 0}));

TEST(ShareForBucket, SinglePoolAtFullWeightAlwaysChosen) {
  const RouteDef route = fixtures::splitRoute("r", {0, 100, 0});
  for (uint32_t bucket = 0; bucket < kBucketCount; ++bucket) {
    ASSERT_EQ(clusterFor(route, bucket), 1u) << "bucket " << bucket;
  }
}

// The statistical check: hashed keys land in each pool in proportion to its weight.
class SplitRatio : public ::testing::TestWithParam<std::vector<uint32_t>> {};

TEST_P(SplitRatio, HashedKeysFollowWeightsWithinHalfAPoint) {
  const std::vector<uint32_t>& weights = GetParam();
  RouteDef route = fixtures::splitRoute("ratio", weights);
  route.hash_policy = {{HashPolicyRule::Kind::Header, "x-user"}};

  constexpr int kKeys = 100000;
  std::vector<int> counts(weights.size(), 0);
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "user-" + std::to_string(i);
    const std::vector<HeaderView> headers = {{"x-user", key}};
    ++counts[decideSplit(route, fixtures::request(headers), 0).cluster_index];
  }

  double total = 0;
  for (const uint32_t weight : weights) {
    total += weight;
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    const double share = 100.0 * counts[i] / kKeys;
    const double expected = 100.0 * weights[i] / total;
    EXPECT_NEAR(share, expected, 0.5) << "pool " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Weights, SplitRatio,
                         ::testing::Values(std::vector<uint32_t>{95, 5},
                                           std::vector<uint32_t>{90, 10},
                                           std::vector<uint32_t>{50, 50},
                                           std::vector<uint32_t>{33, 33, 34},
                                           std::vector<uint32_t>{1, 99}));

// A route with every hash policy kind, in the order the tests below take apart.
class SplitKeySources : public ::testing::Test {
 protected:
  SplitKeySources() : route_(fixtures::splitRoute("keys", {50, 50})) {
    route_.hash_policy = {
        {HashPolicyRule::Kind::BucketHeader, "x-turnout-bucket"},
        {HashPolicyRule::Kind::Header, "x-user"},
        {HashPolicyRule::Kind::Cookie, "uid"},
        {HashPolicyRule::Kind::QueryParameter, "u"},
    };
    route_.sticky_cookie.enabled = true;
    route_.sticky_cookie.name = "tb";
  }

  SplitDecision decide(const std::vector<HeaderView>& headers, std::string_view query = "",
                       uint32_t random_bucket = 777) const {
    return decideSplit(route_, fixtures::request(headers, "/", query), random_bucket);
  }

  uint32_t hashed(std::string_view key) const { return bucketForKey(route_.salt_seed, key); }

  RouteDef route_;
};

TEST_F(SplitKeySources, BucketHeaderUsedWithoutHashing) {
  const SplitDecision decision = decide({{"X-Turnout-Bucket", "9876"}, {"x-user", "ann"}});
  EXPECT_EQ(decision.bucket, 9876u);
  EXPECT_EQ(decision.cluster_index, 1u);
  EXPECT_FALSE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, InvalidBucketHeaderFallsToNextRule) {
  EXPECT_EQ(decide({{"x-turnout-bucket", "12345"}, {"x-user", "ann"}}).bucket, hashed("ann"));
}

TEST_F(SplitKeySources, HeaderKeyIsFirstLineWholeValue) {
  EXPECT_EQ(decide({{"X-User", "ann, bob"}, {"x-user", "carl"}}).bucket, hashed("ann, bob"));
}

TEST_F(SplitKeySources, HeaderBeatsCookieAndQuery) {
  EXPECT_EQ(decide({{"Cookie", "uid=bob"}, {"x-user", "ann"}}, "u=carl").bucket, hashed("ann"));
}

TEST_F(SplitKeySources, EmptyHeaderFallsToCookie) {
  EXPECT_EQ(decide({{"x-user", ""}, {"Cookie", "a=1; uid=\"bob\""}}, "u=carl").bucket,
            hashed("bob"));
}

TEST_F(SplitKeySources, QueryParameterWhenNoHeaderOrCookie) {
  EXPECT_EQ(decide({{"Cookie", "uid="}}, "x=1&u=carl").bucket, hashed("carl"));
}

TEST_F(SplitKeySources, SourceIpKeysByClientAddress) {
  route_.hash_policy = {{HashPolicyRule::Kind::SourceIp, ""}};
  const SplitDecision decision = decide({});
  EXPECT_EQ(decision.bucket, hashed("192.0.2.7"));
  EXPECT_FALSE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, HashedKeyNeverSetsStickyCookie) {
  EXPECT_FALSE(decide({{"x-user", "ann"}}).set_sticky_cookie);
}

TEST_F(SplitKeySources, StickyCookieBucketReused) {
  const SplitDecision decision = decide({{"Cookie", "tb=0042"}});
  EXPECT_EQ(decision.bucket, 42u);
  EXPECT_EQ(decision.cluster_index, 0u);
  EXPECT_FALSE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, NoKeyDrawsRandomBucketAndSetsCookie) {
  const SplitDecision decision = decide({}, "", 6000);
  EXPECT_EQ(decision.bucket, 6000u);
  EXPECT_EQ(decision.cluster_index, 1u);
  EXPECT_TRUE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, InvalidStickyCookieReplaced) {
  const SplitDecision decision = decide({{"Cookie", "tb=ten"}}, "", 10);
  EXPECT_EQ(decision.bucket, 10u);
  EXPECT_TRUE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, NoStickyCookieWhenRouteHasNone) {
  route_.sticky_cookie.enabled = false;
  const SplitDecision decision = decide({{"Cookie", "tb=42"}}, "", 10);
  EXPECT_EQ(decision.bucket, 10u);
  EXPECT_FALSE(decision.set_sticky_cookie);
}

TEST_F(SplitKeySources, RandomBucketOutOfRangeIsFolded) {
  EXPECT_EQ(decide({}, "", kBucketCount + 5).bucket, 5u);
}

}  // namespace
}  // namespace turnout
