// Tests the ASCII text helpers shared by the filters.
#include "filters/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnout {
namespace {

TEST(EqualsIgnoreCase, FoldsAsciiLettersOnly) {
  EXPECT_TRUE(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(equalsIgnoreCase("content-length", "content-lengt"));
  EXPECT_FALSE(equalsIgnoreCase("a-b", "a_b"));
  EXPECT_FALSE(equalsIgnoreCase("\xc3\x84", "\xc3\xa4"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
}

TEST(AffixIgnoreCase, ComparesEnds) {
  EXPECT_TRUE(startsWithIgnoreCase("API.example.com", "api."));
  EXPECT_FALSE(startsWithIgnoreCase("ap", "api."));
  EXPECT_TRUE(endsWithIgnoreCase("www.EXAMPLE.com", ".example.com"));
  EXPECT_FALSE(endsWithIgnoreCase("example.com", ".example.com"));
}

TEST(TrimSpaces, RemovesSpacesAndTabsOnly) {
  EXPECT_EQ(trimSpaces(" \t a b\t "), "a b");
  EXPECT_EQ(trimSpaces("\r\na\n"), "\r\na\n");
  EXPECT_EQ(trimSpaces("  "), "");
}

TEST(Splitter, KeepsEmptyPieces) {
  Splitter splitter("a,,b,", ',');
  std::vector<std::string> pieces;
  std::string_view piece;
  while (splitter.next(&piece)) {
    pieces.emplace_back(piece);
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"a", "", "b", ""}));
}

TEST(Splitter, EmptyTextIsOneEmptyPiece) {
  Splitter splitter("", ',');
  std::string_view piece = "unset";
  EXPECT_TRUE(splitter.next(&piece));
  EXPECT_EQ(piece, "");
  EXPECT_FALSE(splitter.next(&piece));
}

}  // namespace
}  // namespace turnout
