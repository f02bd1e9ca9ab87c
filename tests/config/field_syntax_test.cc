// Tests the syntax rules of single config values: tokens, Host patterns, durations.
#include "config/field_syntax.h"

#include <gtest/gtest.h>

namespace turnout {
namespace {

struct DomainCase {
  std::string text;
  bool valid;
  DomainMatch::Kind kind;
  std::string value;
};

class DomainPattern : public testing::TestWithParam<DomainCase> {};

TEST_P(DomainPattern, CompilesOrIsRefused) {
  std::string reason;
  std::optional<DomainMatch> match = parseDomainPattern(GetParam().text, &reason);

  ASSERT_EQ(match.has_value(), GetParam().valid) << GetParam().text << ": " << reason;
  if (match) {
    EXPECT_EQ(match->kind, GetParam().kind);
    EXPECT_EQ(match->value, GetParam().value);
  } else {
    EXPECT_FALSE(reason.empty());
  }
}

using Kind = DomainMatch::Kind;

INSTANTIATE_TEST_SUITE_P(
    Domains, DomainPattern,
    testing::Values(DomainCase{"*", true, Kind::Any, ""},
                    DomainCase{"api.example.com", true, Kind::Exact, "api.example.com"},
                    DomainCase{"API.Example.COM", true, Kind::Exact, "api.example.com"},
                    DomainCase{"*.Example.com", true, Kind::Suffix, ".example.com"},
                    DomainCase{"api.*", true, Kind::Prefix, "api."},
                    DomainCase{"my_host-1", true, Kind::Exact, "my_host-1"},
                    DomainCase{"[::1]", true, Kind::Exact, "[::1]"},
                    DomainCase{"a*b", false, Kind::Any, ""}, DomainCase{"*.", false, Kind::Any, ""},
                    DomainCase{".*", false, Kind::Any, ""}, DomainCase{"*.*", false, Kind::Any, ""},
                    DomainCase{"**", false, Kind::Any, ""}, DomainCase{"", false, Kind::Any, ""},
                    DomainCase{"a..b", false, Kind::Any, ""},
                    DomainCase{"example.com.", false, Kind::Any, ""},
                    DomainCase{"*example.com", false, Kind::Any, ""},
                    DomainCase{"api.*.com", false, Kind::Any, ""},
                    DomainCase{"exa mple.com", false, Kind::Any, ""},
                    DomainCase{"example.com:80", false, Kind::Any, ""}));

TEST(HttpToken, AcceptsTokenCharactersOnly) {
  EXPECT_TRUE(isHttpToken("x-turnout-cluster"));
  EXPECT_TRUE(isHttpToken("GET"));
  EXPECT_TRUE(isHttpToken("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(isHttpToken(""));
  EXPECT_FALSE(isHttpToken("two words"));
  EXPECT_FALSE(isHttpToken("name:"));
  EXPECT_FALSE(isHttpToken("a=b"));
  EXPECT_FALSE(isHttpToken("caf\xc3\xa9"));
}

struct DurationCase {
  int64_t seconds;
  int32_t nanos;
  int64_t millis;
};

class DurationMillis : public testing::TestWithParam<DurationCase> {};

TEST_P(DurationMillis, RoundsUpToWholeMilliseconds) {
  google::protobuf::Duration duration;
  duration.set_seconds(GetParam().seconds);
  duration.set_nanos(GetParam().nanos);

  EXPECT_EQ(durationMillis(duration), GetParam().millis);
}

INSTANTIATE_TEST_SUITE_P(Durations, DurationMillis,
                         testing::Values(DurationCase{0, 0, 0}, DurationCase{1, 0, 1000},
                                         DurationCase{0, 1, 1}, DurationCase{1, 500000000, 1500},
                                         DurationCase{0, 1500000, 2},
                                         DurationCase{-1, -500000000, -1500}));

TEST(DurationSign, NegativeAndZeroAreRecognised) {
  google::protobuf::Duration duration;
  EXPECT_TRUE(isZero(duration));
  EXPECT_FALSE(isNegative(duration));

  duration.set_nanos(-1);
  EXPECT_TRUE(isNegative(duration));
  EXPECT_FALSE(isZero(duration));
}

}  // namespace
}  // namespace turnout
