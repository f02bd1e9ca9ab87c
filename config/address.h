// Parses and prints numeric "host:port" socket addresses ("10.0.0.1:80", "[::1]:8080").
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.h"

namespace turnout {

// The address written in `text`, or nullopt with `*reason` saying what is wrong. The host
// is a numeric IPv4 address or a bracketed numeric IPv6 address (no names, no zone ids:
// resolving names would make a config's meaning depend on DNS at load time). The port is
// decimal, 0..65535; port 0 is accepted here and refused by callers that need a real one.
// The result's text is the canonical form ("[::1]:80" for "[0:0::1]:80").
std::optional<SocketAddress> parseSocketAddress(std::string_view text, std::string* reason);

// The SocketAddress of a kernel address (e.g. from getsockname or accept), with its text.
// Families other than AF_INET and AF_INET6 give an empty text.
SocketAddress socketAddressFrom(const sockaddr* address, socklen_t length);

// The port of an AF_INET or AF_INET6 address in host byte order; 0 for other families.
uint16_t socketPort(const SocketAddress& address);

// True for 0.0.0.0 and [::], which bind every local address of their family.
bool isWildcardAddress(const SocketAddress& address);

}  // namespace turnout
