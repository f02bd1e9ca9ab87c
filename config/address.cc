// Parses and prints numeric "host:port" socket addresses ("10.0.0.1:80", "[::1]:8080").
#include "config/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace turnout {
namespace {

// The decimal port, or nullopt when `text` is empty, has a non-digit or exceeds 65535.
std::optional<uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) {
    return std::nullopt;
  }

  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(port);
}

// Splits "host:port" or "[v6]:port" into host (brackets removed) and port text.
// Returns false with `*reason` set when the shape is wrong.
bool splitHostPort(std::string_view text, std::string_view* host, std::string_view* port,
                   bool* bracketed, std::string* reason) {
  *bracketed = !text.empty() && text.front() == '[';
  if (*bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *reason = "expected \"[IPv6]:port\"";
      return false;
    }
    *host = text.substr(1, close - 1);
    *port = text.substr(close + 2);
    return true;
  }

  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *reason = "missing \":port\"";
    return false;
  }

  // A bare IPv6 address has several colons; without brackets its port is ambiguous.
  if (text.find(':') != colon) {
    *reason = "an IPv6 address must be written in brackets, e.g. \"[::1]:80\"";
    return false;
  }
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  return true;
}

}  // namespace

std::optional<SocketAddress> parseSocketAddress(std::string_view text, std::string* reason) {
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (text.empty()) {
    *reason = "address is empty";
    return std::nullopt;
  }
  if (!splitHostPort(text, &host, &port_text, &bracketed, reason)) {
    return std::nullopt;
  }

  std::optional<uint16_t> port = parsePort(port_text);
  if (!port) {
    *reason = "port \"" + std::string(port_text) + "\" is not a number in 0..65535";
    return std::nullopt;
  }

  // inet_pton wants a NUL-terminated string and accepts only numeric forms.
  std::string host_text(host);
  SocketAddress address;
  if (bracketed) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET6, host_text.c_str(), &v6->sin6_addr) != 1) {
      *reason = "\"" + host_text + "\" is not a numeric IPv6 address";
      return std::nullopt;
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*port);
    address.length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    if (inet_pton(AF_INET, host_text.c_str(), &v4->sin_addr) != 1) {
      *reason = "\"" + host_text + "\" is not a numeric IPv4 address (host names are not resolved)";
      return std::nullopt;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(*port);
    address.length = sizeof(sockaddr_in);
  }
  return socketAddressFrom(address.sockaddrPtr(), address.length);
}

SocketAddress socketAddressFrom(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  if (length > sizeof(result.storage)) {
    return result;
  }
  std::memcpy(&result.storage, address, length);
  result.length = length;

  char host[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    result.text = std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
  } else if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    result.text = "[" + std::string(host) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return result;
}

uint16_t socketPort(const SocketAddress& address) {
  const sockaddr* base = address.sockaddrPtr();
  if (base->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(base)->sin_port);
  }
  if (base->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(base)->sin6_port);
  }
  return 0;
}

bool isWildcardAddress(const SocketAddress& address) {
  const sockaddr* base = address.sockaddrPtr();
  if (base->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(base)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (base->sa_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(base)->sin6_addr;
    return IN6_IS_ADDR_UNSPECIFIED(&v6);
  }
  return false;
}

}  // namespace turnout
