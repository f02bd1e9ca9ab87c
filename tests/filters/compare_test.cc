// Tests the comparison of a mirrored answer with the primary answer: status, headers,
// exact and JSON bodies, ignored paths, truncated bodies and the noise filter.
#include "filters/compare.h"

#include <gtest/gtest.h>

#include "config/json_path.h"

namespace turnout {
namespace {

MirrorCompareDef jsonSpec(const std::vector<std::string>& ignored = {}) {
  MirrorCompareDef spec;
  spec.enabled = true;
  spec.headers = {"x-version", "content-type"};
  spec.body = MirrorCompareDef::Body::Json;
  for (const std::string& text : ignored) {
    std::string reason;
    spec.ignored_json_paths.push_back(parseJsonPath(text, &reason).value());
  }
  return spec;
}

ResponseSample sample(int status, const std::string& body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  ResponseSample response;
  response.status = status;
  response.headers = std::move(headers);
  response.body = body;
  response.body_bytes = body.size();
  return response;
}

std::vector<std::string> places(const CompareResult& result) {
  std::vector<std::string> out;
  for (const Difference& difference : result.differences) {
    out.push_back(std::string(differenceKindName(difference.kind)) + " " + difference.where);
  }
  return out;
}

TEST(Compare, IdenticalAnswersAreEqual) {
  ResponseSample answer = sample(200, "{\"a\":1}", {{"x-version", "1"}});
  CompareResult result = compareResponses(jsonSpec(), answer, answer);
  EXPECT_TRUE(result.equal());
  EXPECT_EQ(result.noise, 0u);
}

TEST(Compare, StatusHeaderAndBodyDifferencesAreEachReported) {
  ResponseSample primary = sample(200, "{\"a\":1,\"b\":[1,2]}", {{"x-version", "1"}});
  ResponseSample candidate =
      sample(500, "{\"a\":2,\"b\":[1],\"c\":null}", {{"x-version", "2"}, {"content-type", "t"}});
  CompareResult result = compareResponses(jsonSpec(), primary, candidate);
  EXPECT_EQ(places(result),
            (std::vector<std::string>{"status status", "header x-version", "header content-type",
                                      "body $.a", "body $.b[1]", "body $.c"}));
  EXPECT_TRUE(result.differs(DifferenceKind::Status));
  EXPECT_TRUE(result.differs(DifferenceKind::Header));
  EXPECT_TRUE(result.differs(DifferenceKind::Body));
  EXPECT_EQ(describeDifferences(result, 3),
            "status: 200 -> 500\nheader x-version: \"1\" -> \"2\"\n"
            "header content-type: (absent) -> \"t\"\n... and 3 more\n");
}

TEST(Compare, JsonIgnoresKeyOrderSpacingAndNumberSpelling) {
  ResponseSample primary = sample(200, "{\"a\": 1.0, \"b\": {\"x\": [1e2, \"s\"]}}");
  ResponseSample candidate = sample(200, "{\"b\":{\"x\":[100,\"s\"]},\"a\":1}");
  EXPECT_TRUE(compareResponses(jsonSpec(), primary, candidate).equal());
}

TEST(Compare, LargeIntegersCompareByTheirDigits) {
  ResponseSample primary = sample(200, "[9007199254740993]");
  ResponseSample candidate = sample(200, "[9007199254740992]");
  EXPECT_EQ(places(compareResponses(jsonSpec(), primary, candidate)),
            (std::vector<std::string>{"body $[0]"}));
}

struct IgnoredCase {
  std::string name;
  std::vector<std::string> ignored;
  std::vector<std::string> expected;
};

class IgnoredPaths : public testing::TestWithParam<IgnoredCase> {};

TEST_P(IgnoredPaths, LeaveOutOnlyWhatTheyName) {
  ResponseSample primary = sample(
      200,
      "{\"meta\":{\"time\":1,\"id\":\"a\"},\"items\":[{\"id\":1,\"v\":1},{\"id\":2,\"v\":2}]}");
  ResponseSample candidate = sample(
      200,
      "{\"meta\":{\"time\":2,\"id\":\"b\"},\"items\":[{\"id\":7,\"v\":1},{\"id\":8,\"v\":3}]}");
  CompareResult result = compareResponses(jsonSpec(GetParam().ignored), primary, candidate);
  EXPECT_EQ(places(result), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IgnoredPaths,
    testing::Values(IgnoredCase{"None",
                                {},
                                {"body $.items[0].id", "body $.items[1].id", "body $.items[1].v",
                                 "body $.meta.id", "body $.meta.time"}},
                    IgnoredCase{"OneKey",
                                {"$.meta.time"},
                                {"body $.items[0].id", "body $.items[1].id", "body $.items[1].v",
                                 "body $.meta.id"}},
                    IgnoredCase{"WholeObject",
                                {"meta"},
                                {"body $.items[0].id", "body $.items[1].id", "body $.items[1].v"}},
                    IgnoredCase{"AnyIndex", {"items[*].id", "meta"}, {"body $.items[1].v"}},
                    IgnoredCase{"OneIndex", {"items[1]", "meta"}, {"body $.items[0].id"}},
                    IgnoredCase{"AnyKey",
                                {"*.id", "*.time"},
                                {"body $.items[0].id", "body $.items[1].id", "body $.items[1].v"}},
                    IgnoredCase{"Root", {"$"}, {}}),
    [](const auto& info) { return info.param.name; });

TEST(Compare, BodyThatIsNoJsonIsComparedByBytes) {
  CompareResult result =
      compareResponses(jsonSpec(), sample(200, "not json"), sample(200, "not jsox"));
  ASSERT_EQ(places(result), (std::vector<std::string>{"body body"}));
  EXPECT_EQ(result.differences[0].candidate, "8 bytes, first difference at byte 7");
}

TEST(Compare, ExactModeSeesSpacing) {
  MirrorCompareDef spec = jsonSpec();
  spec.body = MirrorCompareDef::Body::Exact;
  CompareResult result =
      compareResponses(spec, sample(200, "{\"a\":1}"), sample(200, "{\"a\": 1}"));
  EXPECT_EQ(places(result), (std::vector<std::string>{"body body"}));
}

TEST(Compare, IgnoreModeComparesNoBody) {
  MirrorCompareDef spec = jsonSpec();
  spec.body = MirrorCompareDef::Body::Ignore;
  EXPECT_TRUE(compareResponses(spec, sample(200, "a"), sample(200, "b")).equal());
}

TEST(Compare, TruncatedBodiesCompareKeptBytesAndLength) {
  ResponseSample primary = sample(200, "{\"a\":");
  ResponseSample candidate = primary;
  primary.body_bytes = 100;
  candidate.body_bytes = 100;
  EXPECT_TRUE(compareResponses(jsonSpec(), primary, candidate).equal());

  candidate.body_bytes = 101;
  CompareResult result = compareResponses(jsonSpec(), primary, candidate);
  ASSERT_EQ(places(result), (std::vector<std::string>{"body body"}));
  EXPECT_EQ(result.differences[0].primary, "100 bytes");
}

TEST(Compare, HeadersAbsentOnBothSidesAreEqual) {
  EXPECT_TRUE(compareResponses(jsonSpec(), sample(204, ""), sample(204, "")).equal());
}

TEST(NoiseFilter, DifferencesThePrimaryVersionShowsItselfAreNotCounted) {
  ResponseSample primary =
      sample(200, "{\"time\":1,\"req\":{\"id\":\"x\"},\"price\":10}", {{"x-version", "1"}});
  ResponseSample secondary =
      sample(200, "{\"time\":2,\"req\":{\"id\":\"y\"},\"price\":10}", {{"x-version", "1"}});
  ResponseSample candidate =
      sample(200, "{\"time\":3,\"req\":{\"id\":\"z\"},\"price\":12}", {{"x-version", "2"}});
  CompareResult result = compareResponses(jsonSpec(), primary, candidate, &secondary);
  EXPECT_EQ(places(result), (std::vector<std::string>{"header x-version", "body $.price"}));
  EXPECT_EQ(result.noise, 2u);
}

TEST(NoiseFilter, DifferenceInsideANoisyValueIsNoise) {
  ResponseSample primary = sample(200, "{\"req\":{\"id\":1}}");
  ResponseSample secondary = sample(200, "{\"req\":null}");
  ResponseSample candidate = sample(200, "{\"req\":{\"id\":2}}");
  CompareResult result = compareResponses(jsonSpec(), primary, candidate, &secondary);
  EXPECT_TRUE(result.equal());
  EXPECT_EQ(result.noise, 1u);
}

TEST(NoiseFilter, NoisyStatusOnlyCoversTheStatus) {
  ResponseSample primary = sample(200, "{}");
  ResponseSample secondary = sample(503, "{}");
  ResponseSample candidate = sample(500, "{\"a\":1}");
  CompareResult result = compareResponses(jsonSpec(), primary, candidate, &secondary);
  EXPECT_EQ(places(result), (std::vector<std::string>{"body $.a"}));
  EXPECT_EQ(result.noise, 1u);
}

TEST(Compare, ManyDifferencesAreCappedButStillCounted) {
  std::string a = "[";
  std::string b = "[";
  for (size_t i = 0; i < kMaxDifferences + 10; ++i) {
    a += (i == 0 ? "" : ",") + std::to_string(i);
    b += (i == 0 ? "" : ",") + std::to_string(i + 1);
  }
  CompareResult result = compareResponses(jsonSpec(), sample(200, a + "]"), sample(200, b + "]"));
  EXPECT_EQ(result.differences.size(), kMaxDifferences);
  EXPECT_TRUE(result.differs(DifferenceKind::Body));
}

}  // namespace
}  // namespace turnout
