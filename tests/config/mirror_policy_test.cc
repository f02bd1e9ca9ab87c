// Tests that request mirror policies, their comparison and the mirroring limits are
// checked with a path and a reason, and compile to the data path's form with defaults.
#include "config/mirror_policy.h"

#include <gtest/gtest.h>

#include "config/json_path.h"
#include "config/loader.h"
#include "tests/config/config_text.h"

namespace turnout {
namespace {

using namespace testing_config;

const std::string kPolicies = kRoutePath + ".route.request_mirror_policies";

std::string mirrored(const std::string& policies) {
  return withAction("{cluster: stable, timeout: 3s, request_mirror_policies: " + policies + "}");
}

struct InvalidMirrorCase {
  std::string name;
  std::string yaml;
  std::string path;
  std::string reason_part;
};

class InvalidMirrorConfig : public testing::TestWithParam<InvalidMirrorCase> {};

TEST_P(InvalidMirrorConfig, IsRefusedWithPathAndReason) {
  LoadResult result = loadConfigText(GetParam().yaml, "test.yaml");

  EXPECT_EQ(result.snapshot, nullptr);
  ASSERT_EQ(result.errors.size(), 1u) << formatErrors("test.yaml", result.errors);
  EXPECT_EQ(result.errors[0].path, GetParam().path);
  EXPECT_NE(result.errors[0].reason.find(GetParam().reason_part), std::string::npos)
      << result.errors[0].reason;
}

const InvalidMirrorCase kInvalidCases[] = {
    {"UnknownCluster", mirrored("[{cluster: purple}]"), kPolicies + "[0].cluster",
     "unknown cluster"},
    {"EmptyCluster", mirrored("[{fraction_percent: 5}]"), kPolicies + "[0].cluster",
     "must not be empty"},
    {"SameClusterTwice", mirrored("[{cluster: canary}, {cluster: canary}]"),
     kPolicies + "[1].cluster", "already mirrored"},
    {"FiveMirrors",
     mirrored("[{cluster: canary}, {cluster: stable}, {cluster: c3}, {cluster: c4}, "
              "{cluster: c5}]") +
         "- {name: c3, endpoints: []}\n- {name: c4, endpoints: []}\n"
         "- {name: c5, endpoints: []}\n",
     kPolicies, "at most 4"},
    {"FractionAbove100", mirrored("[{cluster: canary, fraction_percent: 100.5}]"),
     kPolicies + "[0].fraction_percent", "0..100"},
    {"NegativeFraction", mirrored("[{cluster: canary, fraction_percent: -1}]"),
     kPolicies + "[0].fraction_percent", "0..100"},
    {"ZeroTimeout", mirrored("[{cluster: canary, timeout: 0s}]"), kPolicies + "[0].timeout",
     "positive"},
    {"HugeConcurrency", mirrored("[{cluster: canary, max_concurrent: 100001}]"),
     kPolicies + "[0].max_concurrent", "at most 100000"},
    {"HugeBodyBudget", mirrored("[{cluster: canary, max_body_bytes: 1073741825}]"),
     kPolicies + "[0].max_body_bytes", "at most"},
    {"HostWithSpace", mirrored("[{cluster: canary, host_rewrite: 'a b'}]"),
     kPolicies + "[0].host_rewrite", "not a host"},
    {"HostWithNewline", mirrored("[{cluster: canary, host_rewrite: \"a\\nb\"}]"),
     kPolicies + "[0].host_rewrite", "not a host"},
    {"HeaderNotToken", mirrored("[{cluster: canary, compare: {headers: ['x y']}}]"),
     kPolicies + "[0].compare.headers[0]", "not a valid header name"},
    {"IgnoredPathWithoutJson",
     mirrored("[{cluster: canary, compare: {body: EXACT, ignored_json_paths: [a]}}]"),
     kPolicies + "[0].compare.ignored_json_paths[0]", "needs body: JSON"},
    {"BadIgnoredPath",
     mirrored("[{cluster: canary, compare: {body: JSON, ignored_json_paths: ['a..b']}}]"),
     kPolicies + "[0].compare.ignored_json_paths[0]", "empty key"},
    {"HugeCompareBody", mirrored("[{cluster: canary, compare: {max_body_bytes: 16777217}}]"),
     kPolicies + "[0].compare.max_body_bytes", "at most"},
    {"TooManyKeptDiffs", withAction("{cluster: stable}") + "mirroring: {max_kept_diffs: 10001}\n",
     "mirroring.max_kept_diffs", "at most 10000"},
    {"HugeDiffBodies",
     withAction("{cluster: stable}") + "mirroring: {max_diff_body_bytes: 65537}\n",
     "mirroring.max_diff_body_bytes", "at most 65536"},
};

INSTANTIATE_TEST_SUITE_P(Mirrors, InvalidMirrorConfig, testing::ValuesIn(kInvalidCases),
                         [](const auto& info) { return info.param.name; });

TEST(InvalidMirrorConfig, UnknownBodyModeIsRefusedByTheSchema) {
  LoadResult result =
      loadConfigText(mirrored("[{cluster: canary, compare: {body: XML}}]"), "test.yaml");
  EXPECT_EQ(result.snapshot, nullptr);
  EXPECT_FALSE(result.errors.empty());
}

SnapshotPtr compile(const std::string& yaml) {
  LoadResult result = loadConfigText(yaml, "test.yaml");
  EXPECT_TRUE(result.errors.empty()) << formatErrors("test.yaml", result.errors);
  return result.snapshot;
}

const RouteDef& onlyRoute(const SnapshotPtr& snapshot) {
  return snapshot->listeners.at(0).route_table.virtual_hosts.at(0).routes.at(0);
}

TEST(MirrorCompile, BarePolicyGetsDefaultsAndTheRouteTimeout) {
  SnapshotPtr snapshot = compile(mirrored("[{cluster: canary}]"));
  ASSERT_NE(snapshot, nullptr);
  const std::vector<MirrorPolicyDef>& mirrors = onlyRoute(snapshot).mirrors;
  ASSERT_EQ(mirrors.size(), 1u);
  EXPECT_EQ(mirrors[0].cluster_index, 1u);
  EXPECT_EQ(mirrors[0].bucket_limit, kBucketCount);
  EXPECT_EQ(mirrors[0].timeout_ms, 3000u);
  EXPECT_EQ(mirrors[0].max_concurrent, 100u);
  EXPECT_EQ(mirrors[0].max_body_bytes, 1048576u);
  EXPECT_FALSE(mirrors[0].allow_unsafe_methods);
  EXPECT_TRUE(mirrors[0].host_rewrite.empty());
  EXPECT_FALSE(mirrors[0].compare.enabled);
  EXPECT_EQ(snapshot->mirroring.max_buffered_bytes, uint64_t{64} << 20);
  EXPECT_EQ(snapshot->mirroring.max_kept_diffs, 100u);
  EXPECT_EQ(snapshot->mirroring.max_diff_body_bytes, 2048u);
}

TEST(MirrorCompile, FullPolicyKeepsEveryValue) {
  SnapshotPtr snapshot = compile(
      mirrored("[{cluster: canary, fraction_percent: 12.34, timeout: 0.5s, max_concurrent: 7, "
               "max_body_bytes: 4096, allow_unsafe_methods: true, host_rewrite: 'c.local:81', "
               "compare: {headers: [X-Version, ETag], body: JSON, noise_filter: true, "
               "ignored_json_paths: ['$.meta.time', 'items[*].id'], max_body_bytes: 100}}]") +
      "mirroring: {max_buffered_bytes: 1000, max_kept_diffs: 5, max_diff_body_bytes: 64}\n");
  ASSERT_NE(snapshot, nullptr);
  const MirrorPolicyDef& policy = onlyRoute(snapshot).mirrors.at(0);
  EXPECT_EQ(policy.bucket_limit, 1234u);
  EXPECT_EQ(policy.timeout_ms, 500u);
  EXPECT_EQ(policy.max_concurrent, 7u);
  EXPECT_EQ(policy.max_body_bytes, 4096u);
  EXPECT_TRUE(policy.allow_unsafe_methods);
  EXPECT_EQ(policy.host_rewrite, "c.local:81");
  EXPECT_TRUE(policy.compare.enabled);
  EXPECT_EQ(policy.compare.headers, (std::vector<std::string>{"x-version", "etag"}));
  EXPECT_EQ(policy.compare.body, MirrorCompareDef::Body::Json);
  EXPECT_TRUE(policy.compare.noise_filter);
  EXPECT_EQ(policy.compare.max_body_bytes, 100u);
  ASSERT_EQ(policy.compare.ignored_json_paths.size(), 2u);
  EXPECT_EQ(jsonPathText(policy.compare.ignored_json_paths[1]), "$.items[*].id");
  EXPECT_EQ(snapshot->mirroring.max_buffered_bytes, 1000u);
  EXPECT_EQ(snapshot->mirroring.max_kept_diffs, 5u);
  EXPECT_EQ(snapshot->mirroring.max_diff_body_bytes, 64u);
}

TEST(MirrorCompile, ZeroFractionMirrorsNoBucket) {
  SnapshotPtr snapshot = compile(mirrored("[{cluster: canary, fraction_percent: 0}]"));
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(onlyRoute(snapshot).mirrors.at(0).bucket_limit, 0u);
}

TEST(MirrorCompile, UnspecifiedBodyModeComparesExactly) {
  SnapshotPtr snapshot = compile(mirrored("[{cluster: canary, compare: {}}]"));
  ASSERT_NE(snapshot, nullptr);
  const MirrorCompareDef& compare = onlyRoute(snapshot).mirrors.at(0).compare;
  EXPECT_TRUE(compare.enabled);
  EXPECT_EQ(compare.body, MirrorCompareDef::Body::Exact);
  EXPECT_EQ(compare.max_body_bytes, 65536u);
}

struct PathCase {
  std::string text;
  std::string printed;  // Empty: refused.
};

class JsonPathSyntax : public testing::TestWithParam<PathCase> {};

TEST_P(JsonPathSyntax, ParsesToItsCanonicalTextOrIsRefused) {
  std::string reason;
  std::optional<JsonPath> path = parseJsonPath(GetParam().text, &reason);
  if (GetParam().printed.empty()) {
    EXPECT_FALSE(path.has_value()) << GetParam().text;
    EXPECT_FALSE(reason.empty());
    return;
  }
  ASSERT_TRUE(path.has_value()) << GetParam().text << ": " << reason;
  EXPECT_EQ(jsonPathText(*path), GetParam().printed);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, JsonPathSyntax,
    testing::Values(PathCase{"$", "$"}, PathCase{"$.meta.timestamp", "$.meta.timestamp"},
                    PathCase{"meta.timestamp", "$.meta.timestamp"},
                    PathCase{"items[*].id", "$.items[*].id"}, PathCase{"$[0]", "$[0]"},
                    PathCase{"[2][*]", "$[2][*]"}, PathCase{"*.etag", "$.*.etag"},
                    PathCase{"a-b_c:d", "$.a-b_c:d"}, PathCase{"", ""}, PathCase{"a..b", ""},
                    PathCase{"a.", ""}, PathCase{"a[x]", ""}, PathCase{"a[1", ""},
                    PathCase{"a[1]b", ""}, PathCase{"a*", ""}, PathCase{"a[-1]", ""}),
    [](const auto& info) { return "Case" + std::to_string(info.index); });

}  // namespace
}  // namespace turnout
