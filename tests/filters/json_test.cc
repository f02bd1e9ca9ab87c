// Tests the JSON reader and writer used to compare response bodies.
#include "filters/json.h"

#include <gtest/gtest.h>

#include <string>

namespace turnout {
namespace {

std::string roundTrip(const std::string& text) {
  std::optional<JsonValue> value = parseJson(text);
  if (!value) {
    return "(refused)";
  }
  std::string out;
  appendJson(*value, &out);
  return out;
}

struct RoundTripCase {
  std::string text;
  std::string printed;
};

class JsonRoundTrip : public testing::TestWithParam<RoundTripCase> {};

TEST_P(JsonRoundTrip, PrintsTheCompactFormOrRefuses) {
  EXPECT_EQ(roundTrip(GetParam().text), GetParam().printed) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Documents, JsonRoundTrip,
    testing::Values(RoundTripCase{" {\"a\" : [1, -2.5e3, true, false, null], \"b\": {}} ",
                                  "{\"a\":[1,-2.5e3,true,false,null],\"b\":{}}"},
                    RoundTripCase{"\"x\\u00e9\\ud83d\\ude00\\n\\\"\"",
                                  "\"x\xc3\xa9\xf0\x9f\x98\x80\\u000a\\\"\""},
                    RoundTripCase{"[]", "[]"}, RoundTripCase{"0", "0"},
                    RoundTripCase{"-0.0", "-0.0"}, RoundTripCase{"", "(refused)"},
                    RoundTripCase{"{", "(refused)"}, RoundTripCase{"[1,]", "(refused)"},
                    RoundTripCase{"{\"a\":1,}", "(refused)"}, RoundTripCase{"01", "(refused)"},
                    RoundTripCase{"1.", "(refused)"}, RoundTripCase{"-", "(refused)"},
                    RoundTripCase{"1 2", "(refused)"}, RoundTripCase{"\"a\\x\"", "(refused)"},
                    RoundTripCase{"\"a\nb\"", "(refused)"}, RoundTripCase{"{a:1}", "(refused)"},
                    RoundTripCase{"tru", "(refused)"},
                    RoundTripCase{"\"\\ud800\"", "\"\xef\xbf\xbd\""}),
    [](const auto& info) { return "Case" + std::to_string(info.index); });

TEST(JsonParse, NestingPastTheLimitIsRefusedAndAtItAccepted) {
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_FALSE(parseJson(deep).has_value());

  std::string limit(kMaxJsonDepth, '[');
  limit += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parseJson(limit).has_value());
}

TEST(JsonParse, NumbersKeepTheirLiteralAndValue) {
  std::optional<JsonValue> value = parseJson("12.50");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->type, JsonValue::Type::Number);
  EXPECT_EQ(value->text, "12.50");
  EXPECT_DOUBLE_EQ(value->number, 12.5);
}

TEST(JsonString, InvalidUtf8AndControlBytesAreEscapedValidUtf8Kept) {
  std::string out;
  appendJsonString(std::string("a\x01\x7f\xff\xc3\xa9\xe0\x80\x80", 9), &out);
  EXPECT_EQ(out, "\"a\\u0001\\u007f\\u00ff\xc3\xa9\\u00e0\\u0080\\u0080\"");
}

}  // namespace
}  // namespace turnout
