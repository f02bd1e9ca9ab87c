// Tests that the per-request header index finds exactly the lines a scan of every name
// finds, in request order, whatever the hashes do.
#include "filters/header_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/word_compare.h"

namespace turnout {
namespace {

// Every value `lines` yields, in order.
std::vector<std::string_view> values(HeaderLines lines) {
  std::vector<std::string_view> found;
  std::string_view value;
  while (lines.next(&value)) {
    found.push_back(value);
  }
  return found;
}

std::vector<std::string_view> indexed(const HeaderIndex& index, std::string_view lower_name) {
  return values(index.find(lower_name, headerNameHash(lower_name)));
}

std::vector<std::string_view> scanned(const std::vector<HeaderView>& headers,
                                      std::string_view lower_name) {
  return values(HeaderLines(headers, lower_name));
}

TEST(HeaderNameHash, IgnoresCaseOnly) {
  EXPECT_EQ(headerNameHash("X-Canary-Group"), headerNameHash("x-canary-group"));
  EXPECT_EQ(headerNameHash("ACCEPT"), headerNameHash("accept"));
  EXPECT_NE(headerNameHash("x-canary"), headerNameHash("x-canary2"));
  EXPECT_NE(headerNameHash("x-a"), headerNameHash("x-b"));
}

TEST(WordCompare, FoldsAsciiCapitalsOnly) {
  EXPECT_TRUE(equalsIgnoreCaseByWords("Content-Type", "content-TYPE"));
  EXPECT_TRUE(equalsLowerCaseByWords("X-Forwarded-For", "x-forwarded-for"));
  EXPECT_FALSE(equalsLowerCaseByWords("x-forwarded-for", "X-Forwarded-For"));
  EXPECT_FALSE(equalsIgnoreCaseByWords("x-a", "x-b"));
  EXPECT_FALSE(equalsIgnoreCaseByWords("a@", "a`"));  // '@' and '`' differ in bit 5 only.
  EXPECT_FALSE(equalsIgnoreCaseByWords("\xc3\x89t\xc3\xa9", "\xc3\xa9t\xc3\xa9"));
  EXPECT_TRUE(equalsByWords("route-9", "route-9"));
  EXPECT_FALSE(equalsByWords("route-9", "Route-9"));
  EXPECT_FALSE(equalsByWords("a-long-value-of-twenty", "a-long-value-of-twentY"));
  EXPECT_TRUE(containsByte("free, beta", ','));
  EXPECT_TRUE(containsByte("0123456789abcdef,", ','));
  EXPECT_FALSE(containsByte("0123456789abcdef", ','));
  EXPECT_FALSE(containsByte("ab", ','));
}

TEST(HeaderIndex, FindsEveryLineOfANameInRequestOrder) {
  const std::vector<HeaderView> headers = {
      {"Host", "shop.example.com"}, {"X-Tier", "free"}, {"Accept", "*/*"},
      {"x-tier", "beta, gold"},     {"X-TIER", ""},     {"Cookie", "a=1"},
  };
  const HeaderIndex index(headers);
  EXPECT_EQ(indexed(index, "x-tier"), (std::vector<std::string_view>{"free", "beta, gold", ""}));
  EXPECT_EQ(indexed(index, "host"), (std::vector<std::string_view>{"shop.example.com"}));
  EXPECT_TRUE(indexed(index, "x-absent").empty());
  EXPECT_TRUE(indexed(index, "x-tie").empty());
}

// Names that agree in length and in their first and last eight bytes share a hash; the
// index must still tell them apart, also when it is asked for the same name again.
TEST(HeaderIndex, CollidingNamesAreToldApart) {
  const std::string first = "x-canary-A-group-name";
  const std::string second = "x-canary-b-group-name";
  const std::string lower_first = "x-canary-a-group-name";
  ASSERT_EQ(headerNameHash(lower_first), headerNameHash(second));

  const std::vector<HeaderView> headers = {{first, "1"}, {second, "2"}, {first, "3"}};
  const HeaderIndex index(headers);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(indexed(index, lower_first), (std::vector<std::string_view>{"1", "3"}));
    EXPECT_EQ(indexed(index, second), (std::vector<std::string_view>{"2"}));
  }
  EXPECT_TRUE(indexed(index, "x-canary-c-group-name").empty());
}

// Any two names may share a chain of the index; every name of a large head must still find
// exactly its own lines, past the indexed ones too.
TEST(HeaderIndex, AgreesWithScanOnALargeHead) {
  std::vector<std::string> names;
  for (int i = 0; i < 90; ++i) {
    names.push_back("X-Flag-" + std::to_string(i % 40));
  }
  std::vector<std::string> texts;
  for (int i = 0; i < 90; ++i) {
    texts.push_back("v" + std::to_string(i));
  }
  std::vector<HeaderView> headers;
  for (int i = 0; i < 90; ++i) {
    headers.push_back({names[i], texts[i]});
  }
  ASSERT_GT(headers.size(), HeaderIndex::kIndexedLines);

  const HeaderIndex index(headers);
  for (int i = 0; i < 41; ++i) {
    const std::string lower = "x-flag-" + std::to_string(i);
    EXPECT_EQ(indexed(index, lower), scanned(headers, lower)) << lower;
  }
  EXPECT_EQ(indexed(index, "x-flag-3").size(), 3u);
  EXPECT_TRUE(indexed(index, "x-flag-40").empty());
}

TEST(HeaderIndex, RequestWithoutIndexScansItsLines) {
  const std::vector<HeaderView> headers = {{"X-User", "u1"}, {"x-user", "u2"}};
  RequestView request;
  request.headers = &headers;
  EXPECT_EQ(values(headerLines(request, "x-user", 0)), (std::vector<std::string_view>{"u1", "u2"}));

  const HeaderIndex index(headers);
  request.header_index = &index;
  EXPECT_EQ(values(headerLines(request, "x-user", 0)), (std::vector<std::string_view>{"u1", "u2"}));

  RequestView empty;
  EXPECT_TRUE(values(headerLines(empty, "x-user", 0)).empty());
}

}  // namespace
}  // namespace turnout
