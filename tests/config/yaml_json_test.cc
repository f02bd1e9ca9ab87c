// Tests the YAML to JSON front end: scalar conversion, field checks, positions and limits.
#include "config/yaml_json.h"

#include <gtest/gtest.h>

#include "config/turnout.pb.h"

namespace turnout {
namespace {

YamlJson convert(const std::string& text) {
  return yamlToJson(text, *config::Bootstrap::descriptor());
}

struct ScalarCase {
  std::string name;
  std::string yaml;
  std::string json;
};

class ScalarConversion : public testing::TestWithParam<ScalarCase> {};

TEST_P(ScalarConversion, EmitsExpectedJson) {
  YamlJson result = convert(GetParam().yaml);

  ASSERT_TRUE(result.errors.empty()) << result.errors[0].reason;
  EXPECT_EQ(result.json, GetParam().json);
}

// Every scalar is quoted, whatever it looks like, except in bool fields; nulls stay null.
INSTANTIATE_TEST_SUITE_P(
    Scalars, ScalarConversion,
    testing::Values(
        ScalarCase{"NumberStaysText", "clusters: [{name: 123}]",
                   R"({"clusters":[{"name":"123"}]})"},
        ScalarCase{"NumberForNumericField", "listeners: [{max_request_headers_bytes: 2048}]",
                   R"({"listeners":[{"max_request_headers_bytes":"2048"}]})"},
        ScalarCase{"BooleanFieldTakesYamlTrue", "access_log: {disabled: true}",
                   R"({"access_log":{"disabled":true}})"},
        ScalarCase{"BooleanFieldTakesOn", "access_log: {disabled: On}",
                   R"({"access_log":{"disabled":true}})"},
        ScalarCase{"BooleanFieldTakesNo", "access_log: {disabled: no}",
                   R"({"access_log":{"disabled":false}})"},
        ScalarCase{"BooleanFieldPassesOtherText", "access_log: {disabled: maybe}",
                   R"({"access_log":{"disabled":"maybe"}})"},
        ScalarCase{"BooleanLookingStringStaysText", "clusters: [{name: on}]",
                   R"({"clusters":[{"name":"on"}]})"},
        ScalarCase{"EmptyValueIsNull", "access_log:", R"({"access_log":null})"},
        ScalarCase{"TildeIsNull", "access_log: ~", R"({"access_log":null})"},
        ScalarCase{"QuotedNullIsText", "clusters: [{name: 'null'}]",
                   R"({"clusters":[{"name":"null"}]})"},
        ScalarCase{"QuotedEmptyIsText", "clusters: [{name: ''}]", R"({"clusters":[{"name":""}]})"},
        ScalarCase{"EscapesAreKept", R"(clusters: [{name: "a\"b\\c\n\u0001"}])",
                   R"({"clusters":[{"name":"a\"b\\c\n\u0001"}]})"},
        ScalarCase{"Utf8PassesThrough", "clusters: [{name: caf\xc3\xa9}]",
                   "{\"clusters\":[{\"name\":\"caf\xc3\xa9\"}]}"},
        ScalarCase{"DurationIsText", "clusters: [{connect_timeout: 1.5s}]",
                   R"({"clusters":[{"connect_timeout":"1.5s"}]})"},
        ScalarCase{"CamelCaseKeptAsWritten", "listeners: [{maxRequestBodyBytes: 5}]",
                   R"({"listeners":[{"maxRequestBodyBytes":"5"}]})"},
        ScalarCase{"JsonInputWorks", R"({"clusters": [{"name": "a", "endpoints": []}]})",
                   R"({"clusters":[{"name":"a","endpoints":[]}]})"},
        ScalarCase{"EmptyTextIsEmptyObject", "", "{}"},
        ScalarCase{"CommentOnlyIsEmptyObject", "# nothing\n", "{}"}),
    [](const testing::TestParamInfo<ScalarCase>& info) { return info.param.name; });

TEST(YamlJsonFields, EveryUnknownFieldIsReportedWithLineAndHint) {
  YamlJson result = convert(
      "listeners:\n"
      "- name: a\n"
      "  adress: 127.0.0.1:80\n"
      "clusters:\n"
      "- nmae: b\n"
      "  whatever: 1\n");

  ASSERT_EQ(result.errors.size(), 3u);
  EXPECT_EQ(result.errors[0].path, "listeners[0].adress");
  EXPECT_NE(result.errors[0].reason.find("unknown field \"adress\""), std::string::npos);
  EXPECT_NE(result.errors[0].reason.find("did you mean \"address\""), std::string::npos);
  EXPECT_EQ(result.errors[0].line, 3);
  EXPECT_EQ(result.errors[0].column, 3);
  EXPECT_EQ(result.errors[1].path, "clusters[0].nmae");
  EXPECT_EQ(result.errors[1].line, 5);
  EXPECT_EQ(result.errors[2].path, "clusters[0].whatever");
  EXPECT_EQ(result.errors[2].reason.find("did you mean"), std::string::npos);
}

TEST(YamlJsonFields, CamelCaseMarksUseSchemaNames) {
  YamlJson result = convert("listeners:\n- routeConfig:\n    virtualHosts: []\n");

  ASSERT_TRUE(result.errors.empty());
  ASSERT_EQ(result.marks.count("listeners[0].route_config.virtual_hosts"), 1u);
  EXPECT_EQ(result.marks.at("listeners[0].route_config.virtual_hosts").line, 3);
  EXPECT_EQ(result.marks.at("listeners[0]").line, 2);
}

TEST(YamlJsonFields, FieldSetTwiceIsAnError) {
  YamlJson result = convert(
      "listeners:\n- name: a\n  name: b\n- name: c\n  routeConfig: {}\n"
      "  route_config: {}\n");

  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].path, "listeners[0].name");
  EXPECT_EQ(result.errors[0].reason, "set more than once");
  EXPECT_EQ(result.errors[1].path, "listeners[1].route_config");
}

struct TextErrorCase {
  std::string name;
  std::string yaml;
  std::string reason_part;
  int line;
};

class TextErrors : public testing::TestWithParam<TextErrorCase> {};

TEST_P(TextErrors, AreReportedWithPosition) {
  YamlJson result = convert(GetParam().yaml);

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].reason.find(GetParam().reason_part), std::string::npos)
      << result.errors[0].reason;
  EXPECT_EQ(result.errors[0].line, GetParam().line);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, TextErrors,
    testing::Values(TextErrorCase{"UnclosedFlow", "listeners: [1, 2\nclusters: x\n",
                                  "YAML syntax error", 2},
                    TextErrorCase{"BadIndent", "listeners:\n - name: a\n  address: b\n",
                                  "YAML syntax error", 3},
                    TextErrorCase{"TwoDocuments", "listeners: []\n---\nclusters: []\n",
                                  "expected one YAML document, found a second one", 2},
                    TextErrorCase{"StrayComma", ",", "unexpected text", 1},
                    TextErrorCase{"StrayCommaAfterComment", "# a\n, b\n", "unexpected text", 2},
                    TextErrorCase{"ScalarTopLevel", "hello\n", "top level must be a mapping", 1},
                    TextErrorCase{"ListTopLevel", "- a\n", "top level must be a mapping", 1},
                    TextErrorCase{"MapKey", "{[a]: 1}\n", "field name must be a plain string", 1},
                    TextErrorCase{"AliasCycle", "listeners: &a [*a]\n", "nested more than", 1}),
    [](const testing::TestParamInfo<TextErrorCase>& info) { return info.param.name; });

TEST(YamlJsonLimits, DefaultLimitsLeaveRoomForLargeConfigs) {
  std::string yaml = "clusters:\n";
  for (int i = 0; i < 2000; i++) {
    yaml += "- {name: c" + std::to_string(i) + ", endpoints: [{address: '10.0.0.1:80'}]}\n";
  }

  EXPECT_TRUE(convert(yaml).errors.empty());
}

TEST(YamlJsonLimits, AliasExpansionStopsAtTheLimit) {
  // Each level repeats the previous one ten times: 10^7 values if fully expanded.
  std::string yaml = "listeners:\n- route_config:\n    virtual_hosts:\n";
  yaml += "    - domains: &l0 [a, a, a, a, a, a, a, a, a, a]\n";
  for (int level = 1; level < 7; level++) {
    std::string previous = "*l" + std::to_string(level - 1);
    yaml += "    - domains: &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; i++) {
      yaml += (i > 0 ? ", " : "") + previous;
    }
    yaml += "]\n";
  }

  YamlLimits limits;
  limits.max_nodes = 20000;
  YamlJson result = yamlToJson(yaml, *config::Bootstrap::descriptor(), limits);

  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].reason.find("more than 20000 values"), std::string::npos);
}

}  // namespace
}  // namespace turnout
