// Tests the value matcher of config/snapshot.cc that every header, cookie and query
// matcher uses.
#include <gtest/gtest.h>

#include <ostream>

#include "config/snapshot.h"
#include "tests/filters/route_builder.h"

namespace turnout {
namespace {

struct StringMatchCase {
  StringMatch match;
  std::string_view candidate;
  bool expected;
};

void PrintTo(const StringMatchCase& c, std::ostream* os) {
  *os << "'" << c.match.value << "' vs '" << c.candidate << "'";
}

class StringMatchKinds : public ::testing::TestWithParam<StringMatchCase> {};

TEST_P(StringMatchKinds, ComparesCaseSensitively) {
  const StringMatchCase& c = GetParam();
  EXPECT_EQ(c.match.matches(c.candidate), c.expected)
      << "value '" << c.match.value << "' candidate '" << c.candidate << "'";
}

INSTANTIATE_TEST_SUITE_P(Kinds, StringMatchKinds,
                         ::testing::Values(StringMatchCase{fixtures::exact("beta"), "beta", true},
                                           StringMatchCase{fixtures::exact("beta"), "Beta", false},
                                           StringMatchCase{fixtures::exact("beta"), "beta2", false},
                                           StringMatchCase{fixtures::exact(""), "", true},
                                           StringMatchCase{fixtures::prefix("be"), "beta", true},
                                           StringMatchCase{fixtures::prefix("be"), "abet", false},
                                           StringMatchCase{fixtures::prefix(""), "", true},
                                           StringMatchCase{fixtures::suffix("ta"), "beta", true},
                                           StringMatchCase{fixtures::suffix("ta"), "beTA", false},
                                           StringMatchCase{fixtures::contains("et"), "beta", true},
                                           StringMatchCase{fixtures::contains("ET"), "beta", false},
                                           StringMatchCase{fixtures::regex("b.t"), "bet", true},
                                           StringMatchCase{fixtures::regex("b.t"), "beta", false},
                                           StringMatchCase{fixtures::regex("b.t"), "abet", false},
                                           StringMatchCase{fixtures::regex("(?i)BETA"), "beta",
                                                           true}));

TEST(StringMatch, RegexWithoutCompiledPatternMatchesNothing) {
  StringMatch match;
  match.kind = StringMatch::Kind::Regex;
  match.value = ".*";
  EXPECT_FALSE(match.matches("anything"));
}

}  // namespace
}  // namespace turnout
