// Tests the matcher semantics, virtual host selection and first-match route choice.
#include "filters/route_match.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "config/field_syntax.h"
#include "config/word_compare.h"
#include "filters/header_index.h"
#include "tests/filters/route_builder.h"

namespace turnout {
namespace {

using fixtures::contains;
using fixtures::exact;
using fixtures::inverted;
using fixtures::prefix;
using fixtures::presentMatch;
using fixtures::regex;
using fixtures::suffix;
using fixtures::valueMatch;

// Where a matcher looks.
enum class Source { Header, Cookie, Query };

struct MatcherCase {
  std::string name;  // The scenario, used as the test name.
  Source source;
  std::vector<HeaderView> headers;
  std::string_view query;
  KeyValueMatch matcher;
  bool expected;
};

// Failure messages name the scenario instead of dumping the struct's bytes.
void PrintTo(const MatcherCase& c, std::ostream* os) {
  *os << c.name;
}

class MatcherSemantics : public ::testing::TestWithParam<MatcherCase> {};

TEST_P(MatcherSemantics, GivesExpectedResult) {
  const MatcherCase& c = GetParam();
  bool result = false;
  switch (c.source) {
    case Source::Header: {
      result = headerMatches(c.matcher, c.headers);

      // Through the header index, with the name lower-cased as the compiler writes it.
      KeyValueMatch compiled = c.matcher;
      compiled.name = toLowerAscii(compiled.name);
      compiled.name_hash = headerNameHash(compiled.name);
      EXPECT_EQ(headerMatches(compiled, HeaderIndex(c.headers)), c.expected) << "indexed";
      break;
    }
    case Source::Cookie:
      result = cookieMatches(c.matcher, c.headers);
      break;
    case Source::Query:
      result = queryParameterMatches(c.matcher, c.query);
      break;
  }
  EXPECT_EQ(result, c.expected);
}

std::string caseName(const ::testing::TestParamInfo<MatcherCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    Headers, MatcherSemantics,
    ::testing::Values(
        MatcherCase{"ExactWholeValue",
                    Source::Header,
                    {{"x-flag", "on"}},
                    "",
                    valueMatch("x-flag", exact("on")),
                    true},
        MatcherCase{"ValueIsCaseSensitive",
                    Source::Header,
                    {{"x-flag", "ON"}},
                    "",
                    valueMatch("x-flag", exact("on")),
                    false},
        MatcherCase{"NameIsCaseInsensitive",
                    Source::Header,
                    {{"X-FLAG", "on"}},
                    "",
                    valueMatch("x-flag", exact("on")),
                    true},
        MatcherCase{"MatcherNameCaseIgnored",
                    Source::Header,
                    {{"x-flag", "on"}},
                    "",
                    valueMatch("X-Flag", exact("on")),
                    true},
        MatcherCase{"CommaListElementMatches",
                    Source::Header,
                    {{"x-tier", "free, beta,\tgold"}},
                    "",
                    valueMatch("x-tier", exact("beta")),
                    true},
        MatcherCase{"LastCommaElementTrimmedOfTab",
                    Source::Header,
                    {{"x-tier", "free, beta,\tgold"}},
                    "",
                    valueMatch("x-tier", exact("gold")),
                    true},
        MatcherCase{"WholeListValueMatches",
                    Source::Header,
                    {{"x-tier", "free, beta"}},
                    "",
                    valueMatch("x-tier", exact("free, beta")),
                    true},
        MatcherCase{"ElementSpacesAreNotPartOfValue",
                    Source::Header,
                    {{"x-tier", "free, beta"}},
                    "",
                    valueMatch("x-tier", exact(" beta")),
                    false},
        MatcherCase{"SecondLineMatches",
                    Source::Header,
                    {{"x-tier", "free"}, {"X-Tier", "beta"}},
                    "",
                    valueMatch("x-tier", exact("beta")),
                    true},
        MatcherCase{"OtherHeaderIgnored",
                    Source::Header,
                    {{"x-other", "on"}},
                    "",
                    valueMatch("x-flag", exact("on")),
                    false},
        MatcherCase{"AbsentFailsValueMatcher",
                    Source::Header,
                    {},
                    "",
                    valueMatch("x-flag", exact("")),
                    false},
        MatcherCase{"AbsentFailsPresence", Source::Header, {}, "", presentMatch("x-flag"), false},
        MatcherCase{"AbsentInvertedSucceeds",
                    Source::Header,
                    {},
                    "",
                    inverted(valueMatch("x-flag", exact("on"))),
                    true},
        MatcherCase{"AbsentInvertedPresenceSucceeds",
                    Source::Header,
                    {},
                    "",
                    inverted(presentMatch("x-flag")),
                    true},
        MatcherCase{"PresentWithEmptyValue",
                    Source::Header,
                    {{"x-flag", ""}},
                    "",
                    presentMatch("x-flag"),
                    true},
        MatcherCase{"InvertedMatchFails",
                    Source::Header,
                    {{"x-flag", "on"}},
                    "",
                    inverted(valueMatch("x-flag", exact("on"))),
                    false},
        MatcherCase{"InvertedMismatchSucceeds",
                    Source::Header,
                    {{"x-flag", "off"}},
                    "",
                    inverted(valueMatch("x-flag", exact("on"))),
                    true},
        MatcherCase{"InvertAppliesAfterAnyLine",
                    Source::Header,
                    {{"x-flag", "off"}, {"x-flag", "on"}},
                    "",
                    inverted(valueMatch("x-flag", exact("on"))),
                    false},
        MatcherCase{"RegexMustMatchWholeValue",
                    Source::Header,
                    {{"x-v", "v22"}},
                    "",
                    valueMatch("x-v", regex("v2")),
                    false},
        MatcherCase{"RegexFullMatch",
                    Source::Header,
                    {{"x-v", "v22"}},
                    "",
                    valueMatch("x-v", regex("v[0-9]+")),
                    true},
        MatcherCase{"RegexOnCommaElement",
                    Source::Header,
                    {{"x-v", "alpha, v3"}},
                    "",
                    valueMatch("x-v", regex("v[0-9]")),
                    true},
        MatcherCase{"PrefixOnElement",
                    Source::Header,
                    {{"x-v", "a, beta-2"}},
                    "",
                    valueMatch("x-v", prefix("beta")),
                    true},
        MatcherCase{"SuffixOnElement",
                    Source::Header,
                    {{"x-v", "beta-2, a"}},
                    "",
                    valueMatch("x-v", suffix("-2")),
                    true},
        MatcherCase{"ContainsOnWholeValue",
                    Source::Header,
                    {{"x-v", "a, b"}},
                    "",
                    valueMatch("x-v", contains(", b")),
                    true},
        MatcherCase{"PrefixIsCaseSensitive",
                    Source::Header,
                    {{"x-v", "Beta"}},
                    "",
                    valueMatch("x-v", prefix("beta")),
                    false}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    Cookies, MatcherSemantics,
    ::testing::Values(
        MatcherCase{"SecondPairOfLine",
                    Source::Cookie,
                    {{"Cookie", "a=1; user=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"FoundInLaterCookieLine",
                    Source::Cookie,
                    {{"Cookie", "a=1"}, {"x-other", "user=beta"}, {"cookie", "user=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"RepeatedCookieAnyValueMatches",
                    Source::Cookie,
                    {{"Cookie", "user=alpha"}, {"Cookie", "user=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"QuotesRemoved",
                    Source::Cookie,
                    {{"Cookie", "user=\"beta tester\""}},
                    "",
                    valueMatch("user", exact("beta tester")),
                    true},
        MatcherCase{"QuotesNotPartOfValue",
                    Source::Cookie,
                    {{"Cookie", "user=\"beta\""}},
                    "",
                    valueMatch("user", exact("\"beta\"")),
                    false},
        MatcherCase{"NoSpaceAfterSemicolon",
                    Source::Cookie,
                    {{"Cookie", "a=1;user=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"SpacesAroundPairAndEquals",
                    Source::Cookie,
                    {{"Cookie", "a=1 ;  user = beta ;"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"NameIsCaseSensitive",
                    Source::Cookie,
                    {{"Cookie", "User=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    false},
        MatcherCase{"HeaderNameCaseInsensitive",
                    Source::Cookie,
                    {{"COOKIE", "user=beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    true},
        MatcherCase{"ValueNotSplitOnCommas",
                    Source::Cookie,
                    {{"Cookie", "user=a,beta"}},
                    "",
                    valueMatch("user", exact("beta")),
                    false},
        MatcherCase{"ValueWithCommaWhole",
                    Source::Cookie,
                    {{"Cookie", "user=a,beta"}},
                    "",
                    valueMatch("user", exact("a,beta")),
                    true},
        MatcherCase{"OtherNameWithSameSuffixIgnored",
                    Source::Cookie,
                    {{"Cookie", "xuser=beta"}},
                    "",
                    presentMatch("user"),
                    false},
        MatcherCase{"PairWithoutEqualsIsNoCookie",
                    Source::Cookie,
                    {{"Cookie", "user; a=1"}},
                    "",
                    presentMatch("user"),
                    false},
        MatcherCase{"PresentWithEmptyValue",
                    Source::Cookie,
                    {{"Cookie", "user="}},
                    "",
                    presentMatch("user"),
                    true},
        MatcherCase{"AbsentInvertedSucceeds",
                    Source::Cookie,
                    {{"Cookie", "a=1"}},
                    "",
                    inverted(valueMatch("user", exact("beta"))),
                    true},
        MatcherCase{"NoCookieHeaderFails", Source::Cookie, {}, "", presentMatch("user"), false},
        MatcherCase{"RegexFullMatch",
                    Source::Cookie,
                    {{"Cookie", "user=id-42"}},
                    "",
                    valueMatch("user", regex("id-[0-9]+")),
                    true}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    QueryParameters, MatcherSemantics,
    ::testing::Values(
        MatcherCase{"SecondParameter",
                    Source::Query,
                    {},
                    "a=1&flag=on",
                    valueMatch("flag", exact("on")),
                    true},
        MatcherCase{"BareNameIsPresent", Source::Query, {}, "a=1&flag", presentMatch("flag"), true},
        MatcherCase{"BareNameHasEmptyValue",
                    Source::Query,
                    {},
                    "flag&a=1",
                    valueMatch("flag", exact("")),
                    true},
        MatcherCase{"NotPercentDecoded",
                    Source::Query,
                    {},
                    "q=a%20b",
                    valueMatch("q", exact("a b")),
                    false},
        MatcherCase{"EncodedValueMatchesAsSent",
                    Source::Query,
                    {},
                    "q=a%20b",
                    valueMatch("q", exact("a%20b")),
                    true},
        MatcherCase{
            "PlusNotDecoded", Source::Query, {}, "q=a+b", valueMatch("q", exact("a+b")), true},
        MatcherCase{
            "NameIsCaseSensitive", Source::Query, {}, "Flag=on", presentMatch("flag"), false},
        MatcherCase{"RepeatedParameterAnyValueMatches",
                    Source::Query,
                    {},
                    "v=1&v=2",
                    valueMatch("v", exact("2")),
                    true},
        MatcherCase{"ValueKeepsLaterEquals",
                    Source::Query,
                    {},
                    "t=a=b",
                    valueMatch("t", exact("a=b")),
                    true},
        MatcherCase{"EmptyPiecesSkipped",
                    Source::Query,
                    {},
                    "&&flag=on&",
                    valueMatch("flag", exact("on")),
                    true},
        MatcherCase{"ValueNotSplitOnCommas",
                    Source::Query,
                    {},
                    "v=1,2",
                    valueMatch("v", exact("2")),
                    false},
        MatcherCase{"AbsentInvertedSucceeds",
                    Source::Query,
                    {},
                    "a=1",
                    inverted(presentMatch("flag")),
                    true},
        MatcherCase{"EmptyQueryFails", Source::Query, {}, "", presentMatch("flag"), false}),
    caseName);

// A list in one line and the same elements on repeated lines are one field (RFC 9110
// 5.3), so every matcher must give the same answer for both spellings.
TEST(HeaderMatcher, RepeatedLinesEquivalentToCommaList) {
  const std::vector<HeaderView> as_list = {{"x-tier", "free, beta ,gold"}};
  const std::vector<HeaderView> as_lines = {
      {"x-tier", "free"}, {"X-Tier", "beta"}, {"x-tier", "gold"}};
  const std::vector<KeyValueMatch> matchers = {
      valueMatch("x-tier", exact("beta")),
      valueMatch("x-tier", exact("gold")),
      valueMatch("x-tier", exact("silver")),
      valueMatch("x-tier", prefix("go")),
      valueMatch("x-tier", suffix("ee")),
      valueMatch("x-tier", regex("b.*a")),
      valueMatch("x-tier", regex("b")),
      inverted(valueMatch("x-tier", exact("free"))),
      presentMatch("x-tier"),
  };
  for (const KeyValueMatch& matcher : matchers) {
    EXPECT_EQ(headerMatches(matcher, as_list), headerMatches(matcher, as_lines))
        << "value " << matcher.value.value << " invert " << matcher.invert;
  }
}

class VirtualHostSelection
    : public ::testing::TestWithParam<std::pair<std::string_view, std::string_view>> {
 protected:
  static RouteTable table() {
    RouteTable table;
    const std::vector<std::pair<std::string, std::vector<std::string>>> hosts = {
        {"exact", {"api.example.com"}},
        {"example-suffix", {"*.example.com"}},
        {"api-suffix", {"*.API.example.com"}},
        {"api-prefix", {"api.*"}},
        {"api-example-prefix", {"www.other.org", "api.example.*"}},
        {"long-prefix", {"api.v2.staging.*"}},
        {"any", {"*"}},
    };
    for (const auto& [name, patterns] : hosts) {
      VirtualHostDef virtual_host;
      virtual_host.name = name;
      for (const std::string& pattern : patterns) {
        virtual_host.domains.push_back(fixtures::domain(pattern));
      }
      table.virtual_hosts.push_back(virtual_host);
    }
    return table;
  }
};

TEST_P(VirtualHostSelection, PicksMostSpecificDomain) {
  const auto [host, expected] = GetParam();
  const RouteTable routes = table();
  const VirtualHostDef* chosen = matchVirtualHost(routes, host);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->name, expected) << "host " << host;
}

INSTANTIATE_TEST_SUITE_P(
    Domains, VirtualHostSelection,
    ::testing::Values(std::pair{"api.example.com", "exact"}, std::pair{"API.Example.COM", "exact"},
                      std::pair{"www.other.org", "api-example-prefix"},
                      std::pair{"x.api.example.com", "api-suffix"},
                      std::pair{"a.b.api.example.com", "api-suffix"},
                      std::pair{"www.example.com", "example-suffix"},
                      std::pair{"WWW.EXAMPLE.COM", "example-suffix"},
                      std::pair{"example.com", "any"}, std::pair{".example.com", "any"},
                      std::pair{"api.example.org", "api-example-prefix"},
                      std::pair{"api.internal", "api-prefix"}, std::pair{"api", "any"},
                      std::pair{"api.", "any"},
                      std::pair{"api.v2.staging.example.com", "example-suffix"},
                      std::pair{"api.v2.staging.local", "long-prefix"},
                      std::pair{"unrelated.net", "any"}, std::pair{"", "any"}));

TEST(VirtualHostSelection, NoDomainCoversHostGivesNull) {
  RouteTable table;
  VirtualHostDef virtual_host;
  virtual_host.domains = {fixtures::domain("*.example.com")};
  table.virtual_hosts.push_back(virtual_host);
  EXPECT_EQ(matchVirtualHost(table, "example.com"), nullptr);
  EXPECT_EQ(matchVirtualHost(table, "other.org"), nullptr);
}

class RouteSelection : public ::testing::Test {
 protected:
  RouteSelection() {
    VirtualHostDef virtual_host;
    virtual_host.domains = {fixtures::domain("*")};

    RouteDef beta = fixtures::pathRoute("beta", fixtures::pathMatch(PathMatch::Kind::Prefix, "/"));
    beta.headers = {valueMatch("x-beta", exact("1"))};
    virtual_host.routes.push_back(beta);

    RouteDef exact_path =
        fixtures::pathRoute("exact", fixtures::pathMatch(PathMatch::Kind::Exact, "/api"));
    exact_path.methods = {"GET", "HEAD"};
    virtual_host.routes.push_back(exact_path);

    virtual_host.routes.push_back(fixtures::pathRoute(
        "versioned", fixtures::pathMatch(PathMatch::Kind::Regex, "/api/v[0-9]+")));
    virtual_host.routes.push_back(
        fixtures::pathRoute("api", fixtures::pathMatch(PathMatch::Kind::Prefix, "/api/")));
    table_.virtual_hosts.push_back(virtual_host);
  }

  // The name of the chosen route, or "none".
  std::string chosen(const RequestView& request) const {
    const RouteDef* route = matchRoute(table_, request);
    return route == nullptr ? "none" : route->name;
  }

  RouteTable table_;
};

TEST_F(RouteSelection, FirstMatchingRouteWins) {
  const std::vector<HeaderView> headers = {{"X-Beta", "1"}};
  EXPECT_EQ(chosen(fixtures::request(headers, "/api")), "beta");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api/v2")), "beta");
}

TEST_F(RouteSelection, LaterRouteWhenEarlierMatcherFails) {
  const std::vector<HeaderView> headers = {{"X-Beta", "0"}};
  EXPECT_EQ(chosen(fixtures::request(headers, "/api")), "exact");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api/v2")), "versioned");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api/v2/users")), "api");
  EXPECT_EQ(chosen(fixtures::request(headers, "/apix")), "none");
}

TEST_F(RouteSelection, MethodListIsCaseSensitive) {
  const std::vector<HeaderView> headers;
  EXPECT_EQ(chosen(fixtures::request(headers, "/api", "", "HEAD")), "exact");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api", "", "POST")), "none");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api", "", "get")), "none");
}

TEST_F(RouteSelection, PathIsCaseSensitive) {
  const std::vector<HeaderView> headers;
  EXPECT_EQ(chosen(fixtures::request(headers, "/API")), "none");
  EXPECT_EQ(chosen(fixtures::request(headers, "/api/V2")), "api");
}

TEST_F(RouteSelection, MissingHeaderVectorMeansNoHeaders) {
  RequestView request = fixtures::request({}, "/api");
  request.headers = nullptr;
  EXPECT_EQ(chosen(request), "exact");
}

TEST_F(RouteSelection, UnknownHostMatchesNothing) {
  table_.virtual_hosts[0].domains = {fixtures::domain("only.example.com")};
  const std::vector<HeaderView> headers;
  EXPECT_EQ(chosen(fixtures::request(headers, "/api")), "none");
}

TEST(RouteMatches, EveryMatcherKindMustSucceed) {
  RouteDef route = fixtures::pathRoute("all", fixtures::pathMatch(PathMatch::Kind::Prefix, "/"));
  route.headers = {valueMatch("x-tier", exact("beta"))};
  route.cookies = {valueMatch("group", exact("qa"))};
  route.query_parameters = {presentMatch("debug")};

  const std::vector<HeaderView> all = {{"x-tier", "beta"}, {"Cookie", "group=qa"}};
  const std::vector<HeaderView> no_cookie = {{"x-tier", "beta"}};
  const std::vector<HeaderView> no_header = {{"Cookie", "group=qa"}};
  EXPECT_TRUE(routeMatches(route, fixtures::request(all, "/", "debug")));
  EXPECT_FALSE(routeMatches(route, fixtures::request(all, "/", "nodebug=1")));
  EXPECT_FALSE(routeMatches(route, fixtures::request(no_cookie, "/", "debug")));
  EXPECT_FALSE(routeMatches(route, fixtures::request(no_header, "/", "debug")));
}

TEST(RouteMatches, ConnectTakesOnlyConnectRoutesAndTheyTakeNothingElse) {
  RouteDef connect = fixtures::pathRoute("c", fixtures::pathMatch(PathMatch::Kind::Connect, ""));
  RouteDef everything =
      fixtures::pathRoute("all", fixtures::pathMatch(PathMatch::Kind::Prefix, ""));
  const std::vector<HeaderView> headers;

  EXPECT_TRUE(routeMatches(connect, fixtures::request(headers, "", "", "CONNECT")));
  EXPECT_FALSE(routeMatches(connect, fixtures::request(headers, "/", "", "GET")));
  EXPECT_FALSE(routeMatches(everything, fixtures::request(headers, "", "", "CONNECT")));
  EXPECT_TRUE(routeMatches(everything, fixtures::request(headers, "/", "", "GET")));
}

TEST(TunnelsUpgrade, NamesOneEnabledProtocolByItsName) {
  RouteDef route = fixtures::pathRoute("r", fixtures::pathMatch(PathMatch::Kind::Prefix, "/"));
  route.upgrade_types = {"websocket", "connect"};

  EXPECT_TRUE(tunnelsUpgrade(route, "websocket"));
  EXPECT_TRUE(tunnelsUpgrade(route, " WebSocket/13 "));
  EXPECT_FALSE(tunnelsUpgrade(route, "h2c"));
  EXPECT_FALSE(tunnelsUpgrade(route, "websocket, h2c"));  // A list is the server's choice.
  EXPECT_FALSE(tunnelsUpgrade(route, "connect"));         // CONNECT is a method, not an Upgrade.
  EXPECT_FALSE(tunnelsUpgrade(route, ""));
  EXPECT_FALSE(acceptsConnect(route));  // No connect matcher.

  RouteDef connect = fixtures::pathRoute("c", fixtures::pathMatch(PathMatch::Kind::Connect, ""));
  EXPECT_FALSE(acceptsConnect(connect));
  connect.upgrade_types = {"connect"};
  EXPECT_TRUE(acceptsConnect(connect));
}

}  // namespace
}  // namespace turnout
