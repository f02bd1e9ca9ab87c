// Tests parsing and printing of numeric "host:port" socket addresses.
#include "config/address.h"

#include <gtest/gtest.h>

#include <string>

namespace turnout {
namespace {

struct GoodAddress {
  std::string text;
  std::string canonical;
  int family;
  uint16_t port;
};

class GoodAddressParse : public testing::TestWithParam<GoodAddress> {};

TEST_P(GoodAddressParse, ParsesToCanonicalText) {
  std::string reason;
  std::optional<SocketAddress> address = parseSocketAddress(GetParam().text, &reason);

  ASSERT_TRUE(address.has_value()) << reason;
  EXPECT_EQ(address->text, GetParam().canonical);
  EXPECT_EQ(address->sockaddrPtr()->sa_family, GetParam().family);
  EXPECT_EQ(socketPort(*address), GetParam().port);
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, GoodAddressParse,
    testing::Values(GoodAddress{"127.0.0.1:8080", "127.0.0.1:8080", AF_INET, 8080},
                    GoodAddress{"0.0.0.0:0", "0.0.0.0:0", AF_INET, 0},
                    GoodAddress{"10.1.2.3:65535", "10.1.2.3:65535", AF_INET, 65535},
                    GoodAddress{"[::1]:80", "[::1]:80", AF_INET6, 80},
                    GoodAddress{"[0:0::1]:443", "[::1]:443", AF_INET6, 443},
                    GoodAddress{"[::]:9000", "[::]:9000", AF_INET6, 9000},
                    GoodAddress{"[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.1]:1", AF_INET6, 1}));

struct BadAddress {
  std::string text;
  std::string reason_part;
};

class BadAddressParse : public testing::TestWithParam<BadAddress> {};

TEST_P(BadAddressParse, IsRefusedWithReason) {
  std::string reason;
  std::optional<SocketAddress> address = parseSocketAddress(GetParam().text, &reason);

  EXPECT_FALSE(address.has_value());
  EXPECT_NE(reason.find(GetParam().reason_part), std::string::npos) << reason;
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, BadAddressParse,
    testing::Values(BadAddress{"", "empty"}, BadAddress{"127.0.0.1", "missing"},
                    BadAddress{"127.0.0.1:", "port"}, BadAddress{"127.0.0.1:65536", "port"},
                    BadAddress{"127.0.0.1:-1", "port"}, BadAddress{"127.0.0.1:+80", "port"},
                    BadAddress{"127.0.0.1:80a", "port"}, BadAddress{"localhost:80", "numeric IPv4"},
                    BadAddress{"1.2.3:80", "numeric IPv4"}, BadAddress{"1.2.3.256:80", "IPv4"},
                    BadAddress{"::1:80", "brackets"}, BadAddress{"[::1]80", "[IPv6]:port"},
                    BadAddress{"[::1]", "[IPv6]:port"}, BadAddress{"[1.2.3.4]:80", "IPv6"},
                    BadAddress{"[fe80::1%eth0]:80", "IPv6"}, BadAddress{":80", "IPv4"}));

TEST(SocketAddressFrom, KernelAddressGetsText) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(4242);
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  SocketAddress address = socketAddressFrom(reinterpret_cast<sockaddr*>(&v4), sizeof(v4));

  EXPECT_EQ(address.text, "127.0.0.1:4242");
  EXPECT_EQ(address.length, sizeof(v4));
}

TEST(WildcardAddress, OnlyUnspecifiedAddressesAreWildcards) {
  std::string reason;
  EXPECT_TRUE(isWildcardAddress(*parseSocketAddress("0.0.0.0:80", &reason)));
  EXPECT_TRUE(isWildcardAddress(*parseSocketAddress("[::]:80", &reason)));
  EXPECT_FALSE(isWildcardAddress(*parseSocketAddress("127.0.0.1:80", &reason)));
  EXPECT_FALSE(isWildcardAddress(*parseSocketAddress("[::1]:80", &reason)));
}

}  // namespace
}  // namespace turnout
