// Strict readers of the HTTP/1.1 the proxy writes, for the request-path fuzzer: what it
// forwards upstream and what it answers downstream must be well-formed and unambiguous,
// whatever the client sent.
//
// They accept only what a careful sender emits: CRLF line ends, token names, one framing
// field at most, canonical chunked encoding. Anything else is a finding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turnout::fuzz {

enum class Parse {
  Complete,    // One whole message; `length` bytes.
  Incomplete,  // The bytes end inside the message.
  Invalid,     // Not a message a careful sender writes; `problem` says why.
};

struct Message {
  Parse parse = Parse::Incomplete;
  size_t length = 0;
  std::string problem;

  // Request line or status line.
  std::string method;
  std::string target;
  int status = 0;

  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // Decoded; for an incomplete message, what arrived of it.
};

// Reads one request at the start of `bytes`, as the proxy forwards them: HTTP/1.1, at most
// one Host, at most one of content-length or "transfer-encoding: chunked", no trailers or
// chunk extensions.
Message readForwardedRequest(std::string_view bytes);

// Reads one response at the start of `bytes`. `head_request`: a final response carries no
// body. `closed`: the connection ended after `bytes`, which ends a close-delimited body.
Message readResponse(std::string_view bytes, bool head_request, bool closed);

// The first value of a header (case-insensitive name), or "".
std::string headerValue(const Message& message, std::string_view name);

}  // namespace turnout::fuzz
