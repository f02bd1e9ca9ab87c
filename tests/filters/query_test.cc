// Tests finding parameters in a query string.
#include "filters/query.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnout {
namespace {

TEST(FindQueryParameter, FirstOccurrence) {
  EXPECT_EQ(findQueryParameter("a=1&b=2&a=3", "a"), "1");
  EXPECT_EQ(findQueryParameter("a=1&b=2&a=3", "b"), "2");
  EXPECT_EQ(findQueryParameter("a=1&b=2", "c"), std::nullopt);
  EXPECT_EQ(findQueryParameter("", "a"), std::nullopt);
}

TEST(FindQueryParameter, BareNameHasEmptyValue) {
  EXPECT_EQ(findQueryParameter("debug&a=1", "debug"), "");
  EXPECT_EQ(findQueryParameter("debug=", "debug"), "");
}

TEST(FindQueryParameter, NameMustMatchWholly) {
  EXPECT_EQ(findQueryParameter("ab=1&b=2", "b"), "2");
  EXPECT_EQ(findQueryParameter("a%62=1", "ab"), std::nullopt);
}

TEST(QueryScanner, YieldsEveryValueInOrder) {
  QueryScanner scanner("v=1&&v&x=0&v=a%2Cb", "v");
  std::vector<std::string> values;
  std::string_view value;
  while (scanner.next(&value)) {
    values.emplace_back(value);
  }
  EXPECT_EQ(values, (std::vector<std::string>{"1", "", "a%2Cb"}));
}

}  // namespace
}  // namespace turnout
