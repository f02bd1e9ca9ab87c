// A read-only view of one downstream request head, as the filters see it.
//
// Every string_view points into the connection's header storage and is valid until the
// filters return; filters never keep them.
#pragma once

#include <string_view>
#include <vector>

namespace turnout {

class HeaderIndex;

struct HeaderView {
  std::string_view name;  // As the client spelled it.
  std::string_view value;  // Leading and trailing whitespace removed.
};

struct RequestView {
  std::string_view method;  // "GET", "POST", ...
  std::string_view path;  // The target's path, without the query ("/a/b").
  std::string_view query;  // After '?', without it; empty when there is none.
  std::string_view host;  // Host header without the port, as sent (any case).
  std::string_view client_ip;  // Textual IP of the downstream peer.
  const std::vector<HeaderView>* headers = nullptr;  // Every header line, in order.

  // The index of `headers` by name (filters/header_index.h), built once per request; the
  // filters look lines up through it. Without one they compare every line's name.
  const HeaderIndex* header_index = nullptr;
};

}  // namespace turnout
