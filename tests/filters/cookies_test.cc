// Tests finding cookies across Cookie header lines.
#include "filters/cookies.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnout {
namespace {

std::vector<std::string> allValues(const std::vector<HeaderView>& headers, std::string_view name) {
  std::vector<std::string> values;
  CookieScanner scanner(headers, name);
  std::string_view value;
  while (scanner.next(&value)) {
    values.emplace_back(value);
  }
  return values;
}

TEST(FindCookie, FirstOccurrenceAcrossLines) {
  const std::vector<HeaderView> headers = {
      {"Cookie", "a=1"}, {"Accept", "uid=no"}, {"cookie", "uid=7; b=2"}, {"Cookie", "uid=8"}};
  EXPECT_EQ(findCookie(headers, "uid"), "7");
  EXPECT_EQ(findCookie(headers, "b"), "2");
  EXPECT_EQ(findCookie(headers, "c"), std::nullopt);
}

TEST(FindCookie, EmptyValueIsPresent) {
  const std::vector<HeaderView> headers = {{"Cookie", "uid=; a=1"}};
  EXPECT_EQ(findCookie(headers, "uid"), "");
}

TEST(FindCookie, NoHeadersGivesNothing) {
  EXPECT_EQ(findCookie({}, "uid"), std::nullopt);
}

TEST(CookieScanner, YieldsEveryValueInRequestOrder) {
  const std::vector<HeaderView> headers = {
      {"Cookie", "uid=1;uid=\"2\""}, {"Cookie", ""}, {"Cookie", " ; uid = 3 ;"}};
  EXPECT_EQ(allValues(headers, "uid"), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(CookieScanner, LoneQuoteIsKept) {
  const std::vector<HeaderView> headers = {{"Cookie", "a=\"; b=\"x"}};
  EXPECT_EQ(allValues(headers, "a"), (std::vector<std::string>{"\""}));
  EXPECT_EQ(allValues(headers, "b"), (std::vector<std::string>{"\"x"}));
}

TEST(CookieScanner, ValueMayContainEquals) {
  const std::vector<HeaderView> headers = {{"Cookie", "token=a=b=="}};
  EXPECT_EQ(allValues(headers, "token"), (std::vector<std::string>{"a=b=="}));
}

}  // namespace
}  // namespace turnout
