// Strict readers of the requests the proxy forwards and the responses it answers.
#include "tests/fuzz/http_check.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace turnout::fuzz {
namespace {

bool isTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!isTokenChar(c)) {
      return false;
    }
  }
  return true;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) {
      return false;
    }
  }
  return true;
}

Message invalid(Message message, std::string problem) {
  message.parse = Parse::Invalid;
  message.problem = std::move(problem);
  return message;
}

// Reads the line at *pos, which must end in CRLF with no other CR or LF in it.
Parse readLine(std::string_view bytes, size_t* pos, std::string_view* line, std::string* problem) {
  size_t end = bytes.find_first_of("\r\n", *pos);
  if (end == std::string_view::npos || end + 1 == bytes.size()) {
    return Parse::Incomplete;
  }
  if (bytes[end] == '\n' || bytes[end + 1] != '\n') {
    *problem = "a line does not end in CRLF";
    return Parse::Invalid;
  }
  *line = bytes.substr(*pos, end - *pos);
  *pos = end + 2;
  return Parse::Complete;
}

// Header lines up to the empty line: token names, values without controls but HTAB.
Parse readHeaders(std::string_view bytes, size_t* pos, Message* message) {
  for (;;) {
    std::string_view line;
    Parse parse = readLine(bytes, pos, &line, &message->problem);
    if (parse != Parse::Complete || line.empty()) {
      return parse;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      message->problem = "header line without a token name: " + std::string(line);
      return Parse::Invalid;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        message->problem = "control byte in a header value";
        return Parse::Invalid;
      }
    }
    message->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
}

size_t countHeaders(const Message& message, std::string_view name) {
  size_t count = 0;
  for (const auto& header : message.headers) {
    count += equalsIgnoreCase(header.first, name) ? 1 : 0;
  }
  return count;
}

// How the body is framed: -1 chunked, -2 none given, else the content length. -3: the
// framing is ambiguous or malformed (message->problem says how).
int64_t framing(Message* message) {
  size_t lengths = countHeaders(*message, "content-length");
  size_t encodings = countHeaders(*message, "transfer-encoding");
  if (lengths + encodings > 1) {
    message->problem = "more than one framing header";
    return -3;
  }
  if (encodings == 1) {
    if (!equalsIgnoreCase(headerValue(*message, "transfer-encoding"), "chunked")) {
      message->problem = "transfer-encoding other than chunked";
      return -3;
    }
    return -1;
  }
  if (lengths == 0) {
    return -2;
  }
  std::string value = headerValue(*message, "content-length");
  if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != value.npos) {
    message->problem = "content-length is not a small decimal number";
    return -3;
  }
  return std::strtoll(value.c_str(), nullptr, 10);
}

// A canonical chunked body: hex sizes without extensions, and no trailers.
Parse readChunked(std::string_view bytes, size_t* pos, Message* message) {
  for (;;) {
    std::string_view line;
    Parse parse = readLine(bytes, pos, &line, &message->problem);
    if (parse != Parse::Complete) {
      return parse;
    }
    if (line.empty() || line.size() > 16 || !std::all_of(line.begin(), line.end(), isHex)) {
      message->problem = "chunk size line is not plain hex: " + std::string(line);
      return Parse::Invalid;
    }
    size_t size = std::strtoull(std::string(line).c_str(), nullptr, 16);
    if (size == 0) {
      break;
    }
    if (bytes.size() - *pos < size + 2) {
      message->body.append(bytes.substr(*pos, std::min(size, bytes.size() - *pos)));
      *pos = bytes.size();
      return Parse::Incomplete;
    }
    message->body.append(bytes.substr(*pos, size));
    if (bytes.substr(*pos + size, 2) != "\r\n") {
      message->problem = "chunk data not followed by CRLF";
      return Parse::Invalid;
    }
    *pos += size + 2;
  }

  std::string_view end;
  Parse parse = readLine(bytes, pos, &end, &message->problem);
  if (parse == Parse::Complete && !end.empty()) {
    message->problem = "trailer after the last chunk";
    return Parse::Invalid;
  }
  return parse;
}

// The body at *pos framed by `length` (from framing()); `until_close` ends it at the end.
Parse readBody(std::string_view bytes, size_t* pos, int64_t length, bool until_close,
               Message* message) {
  if (length == -1) {
    return readChunked(bytes, pos, message);
  }
  if (length == -2) {
    if (until_close) {
      message->body.append(bytes.substr(*pos));
      *pos = bytes.size();
    }
    return Parse::Complete;
  }
  size_t available = bytes.size() - *pos;
  size_t wanted = static_cast<size_t>(length);
  message->body.append(bytes.substr(*pos, std::min(wanted, available)));
  if (available < wanted) {
    *pos = bytes.size();
    return Parse::Incomplete;
  }
  *pos += wanted;
  return Parse::Complete;
}

Message finish(Message message, Parse parse, size_t pos) {
  message.parse = parse;
  message.length = pos;
  return message;
}

}  // namespace

std::string headerValue(const Message& message, std::string_view name) {
  for (const auto& header : message.headers) {
    if (equalsIgnoreCase(header.first, name)) {
      return header.second;
    }
  }
  return "";
}

Message readForwardedRequest(std::string_view bytes) {
  Message message;
  size_t pos = 0;
  std::string_view line;
  Parse parse = readLine(bytes, &pos, &line, &message.problem);
  if (parse != Parse::Complete) {
    return finish(message, parse, pos);
  }
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last || line.substr(last) != " HTTP/1.1" ||
      !isToken(line.substr(0, first))) {
    return invalid(message, "bad request line: " + std::string(line));
  }
  message.method = line.substr(0, first);
  message.target = line.substr(first + 1, last - first - 1);
  if (message.target.empty() || message.target.find_first_of(" \t") != std::string::npos) {
    return invalid(message, "bad request target");
  }

  parse = readHeaders(bytes, &pos, &message);
  if (parse != Parse::Complete) {
    return finish(message, parse, pos);
  }
  if (countHeaders(message, "host") > 1) {
    return invalid(message, "more than one Host");
  }
  int64_t length = framing(&message);
  if (length == -3) {
    return finish(message, Parse::Invalid, pos);
  }
  parse = readBody(bytes, &pos, length, false, &message);
  return finish(message, parse, pos);
}

Message readResponse(std::string_view bytes, bool head_request, bool closed) {
  Message message;
  size_t pos = 0;
  std::string_view line;
  Parse parse = readLine(bytes, &pos, &line, &message.problem);
  if (parse != Parse::Complete) {
    return finish(message, parse, pos);
  }
  bool digits = line.size() >= 12 && std::isdigit(static_cast<unsigned char>(line[9])) &&
                std::isdigit(static_cast<unsigned char>(line[10])) &&
                std::isdigit(static_cast<unsigned char>(line[11]));
  if (line.substr(0, 9) != "HTTP/1.1 " || !digits || (line.size() > 12 && line[12] != ' ')) {
    return invalid(message, "bad status line: " + std::string(line));
  }
  message.status = std::atoi(std::string(line.substr(9, 3)).c_str());

  parse = readHeaders(bytes, &pos, &message);
  if (parse != Parse::Complete) {
    return finish(message, parse, pos);
  }
  bool bodiless =
      message.status < 200 || message.status == 204 || message.status == 304 || head_request;
  if (bodiless) {
    return finish(message, Parse::Complete, pos);
  }
  int64_t length = framing(&message);
  if (length == -3) {
    return finish(message, Parse::Invalid, pos);
  }
  if (length == -2 && !equalsIgnoreCase(headerValue(message, "connection"), "close")) {
    return invalid(message, "a body without length on a connection that stays open");
  }
  parse = readBody(bytes, &pos, length, closed, &message);
  if (length == -2 && !closed) {
    parse = Parse::Incomplete;
  }
  return finish(message, parse, pos);
}

}  // namespace turnout::fuzz
