// End to end: the raw HTTP cases of tests/e2e/http_cases/*.txt, each sent by a client to a
// real turnout in front of a recording backend; checks what the client gets back and the
// exact bytes the backend receives (tests/e2e/http_cases/README.md has the file format).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/fixture.h"
#include "tests/e2e/raw_backend.h"

namespace turnout::e2e {
namespace {

// Small limits, so the limit cases stay small; one route with a 1 s timeout to the
// recording backend; no decision headers, so the forwarded head is deterministic.
constexpr const char* kCasesConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    max_request_headers_bytes: 2048
    max_request_body_bytes: 1024
{{LISTENER_SETTINGS}}
    route_config:
      decision_headers:
        disabled: true
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: all
              match:
                prefix: "/"
              route:
                cluster: raw
                timeout: "1s"
clusters:
  - name: raw
    endpoints:
      - address: "{{BACKEND}}"
)";

constexpr auto kReadDeadline = std::chrono::milliseconds(5000);
constexpr int kQuietMs = 150;

struct HttpCase {
  std::string name;      // "<file stem>_<case name>", a valid test name.
  std::string location;  // "file.txt:line", for failure messages.
  std::string client;
  bool has_answer = false;
  std::string answer;
  bool silent = false;
  RawBackend::AfterAnswer after = RawBackend::AfterAnswer::KeepOpen;
  std::vector<int> statuses;
  bool upstream_nothing = false;
  std::string upstream;
  std::vector<std::string> client_gets;
  std::vector<std::string> client_never_gets;
  std::string connection;  // "", "closed" or "open".
  std::string known_bug;   // Set: the case shows a proxy bug not fixed yet; skipped.
  std::string listener_settings;  // YAML lines added to the listener, indented.
};

void PrintTo(const HttpCase& param, std::ostream* out) {
  *out << param.name << " (" << param.location << ")";
}

// ---- reading the case files ----

// Expands every "{{N*text}}" into N copies of text; other "{{" stay as written.
std::string expandRepeats(const std::string& line) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t open = line.find("{{", pos);
    if (open == std::string::npos) {
      return out + line.substr(pos);
    }
    size_t digits_end = line.find_first_not_of("0123456789", open + 2);
    size_t close = line.find("}}", open);
    bool repeat = digits_end != std::string::npos && digits_end > open + 2 &&
                  line[digits_end] == '*' && close != std::string::npos && close > digits_end;
    if (!repeat) {
      out += line.substr(pos, open + 2 - pos);
      pos = open + 2;
      continue;
    }
    out += line.substr(pos, open - pos);
    size_t count = std::strtoul(line.c_str() + open + 2, nullptr, 10);
    std::string text = line.substr(digits_end + 1, close - digits_end - 1);
    for (size_t i = 0; i < count; ++i) {
      out += text;
    }
    pos = close + 2;
  }
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// \r \n \t \\ and \xHH; anything else after a backslash stays as written.
std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char next = text[i + 1];
    if (next == 'r' || next == 'n' || next == 't' || next == '\\') {
      out += next == 'r' ? '\r' : next == 'n' ? '\n' : next == 't' ? '\t' : '\\';
      ++i;
    } else if (next == 'x' && i + 3 < text.size() && hexDigit(text[i + 2]) >= 0 &&
               hexDigit(text[i + 3]) >= 0) {
      out += static_cast<char>(hexDigit(text[i + 2]) * 16 + hexDigit(text[i + 3]));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  size_t end = text.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// Applies one "key | data" line to the case; false for an unknown key.
bool applyLine(const std::string& key, const std::string& data, HttpCase* test) {
  std::string bytes = unescape(expandRepeats(data));
  if (key == "client") {
    test->client += bytes;
  } else if (key == "answer") {
    test->has_answer = true;
    test->answer += bytes;
  } else if (key == "after" && data == "silent") {
    test->silent = true;
  } else if (key == "after") {
    test->after = data == "close"   ? RawBackend::AfterAnswer::Close
                  : data == "reset" ? RawBackend::AfterAnswer::Reset
                                    : RawBackend::AfterAnswer::KeepOpen;
  } else if (key == "status") {
    std::istringstream words(data);
    std::string word;
    while (words >> word) {
      if (word != "none") {
        test->statuses.push_back(std::atoi(word.c_str()));
      }
    }
  } else if (key == "upstream") {
    test->upstream_nothing =
        test->upstream_nothing || (data == "nothing" && test->upstream.empty());
    if (data != "nothing") {
      test->upstream += bytes;
    }
  } else if (key == "client-gets") {
    test->client_gets.push_back(bytes);
  } else if (key == "client-never-gets") {
    test->client_never_gets.push_back(bytes);
  } else if (key == "connection") {
    test->connection = data;
  } else if (key == "known-bug") {
    test->known_bug = data;
  } else if (key == "listener") {
    test->listener_settings += "    " + data + "\n";
  } else {
    return false;
  }
  return true;
}

void loadFile(const std::filesystem::path& path, std::vector<HttpCase>* cases) {
  std::ifstream in(path);
  std::string line;
  int number = 0;
  std::string stem = path.stem().string();
  std::replace(stem.begin(), stem.end(), '-', '_');
  while (std::getline(in, line)) {
    ++number;
    std::string where = path.filename().string() + ":" + std::to_string(number);
    if (line.rfind("=== ", 0) == 0) {
      HttpCase test;
      test.name = stem + "_" + trimmed(line.substr(4));
      test.location = where;
      cases->push_back(test);
      continue;
    }
    size_t bar = line.find('|');
    if (trimmed(line).empty() || line.front() == '#' || bar == std::string::npos) {
      continue;
    }

    // "key | data": data starts after the one space that follows the bar.
    std::string key = trimmed(line.substr(0, bar));
    std::string data = line.substr(bar + 1);
    if (!data.empty() && data.front() == ' ') {
      data.erase(0, 1);
    }
    if (cases->empty() || !applyLine(key, data, &cases->back())) {
      HttpCase broken;
      broken.name = stem + "_UnreadableLine" + std::to_string(number);
      broken.location = where + ": unknown key or line before the first case: " + line;
      cases->push_back(broken);
    }
  }
}

std::vector<HttpCase> loadCases() {
  std::vector<std::filesystem::path> files;
  std::filesystem::path folder = std::filesystem::path(repoRoot()) / "tests/e2e/http_cases";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    if (entry.path().extension() == ".txt") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());

  std::vector<HttpCase> cases;
  for (const auto& file : files) {
    loadFile(file, &cases);
  }
  return cases;
}

// ---- reading the client's side ----

struct ClientSide {
  std::string bytes;          // Everything the proxy sent back.
  std::vector<int> statuses;  // One per complete response, 1xx included.
  bool closed = false;        // The proxy closed the connection.
};

// The end of the response head at `pos`, its status, and its body framing, parsed from
// `bytes`; false while the head is incomplete.
bool parseHead(const std::string& bytes, size_t pos, size_t* head_end, int* status,
               std::string* lower_head) {
  size_t end = bytes.find("\r\n\r\n", pos);
  if (end == std::string::npos || bytes.compare(pos, 5, "HTTP/") != 0) {
    return false;
  }
  *head_end = end + 4;
  *status = std::atoi(bytes.c_str() + pos + 9);
  *lower_head = bytes.substr(pos, end + 2 - pos);
  std::transform(lower_head->begin(), lower_head->end(), lower_head->begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return true;
}

// The end of the chunked body at `pos`, or npos while incomplete.
size_t chunkedEnd(const std::string& bytes, size_t pos) {
  for (;;) {
    size_t line_end = bytes.find("\r\n", pos);
    if (line_end == std::string::npos) {
      return std::string::npos;
    }
    size_t size = std::strtoul(bytes.c_str() + pos, nullptr, 16);
    pos = line_end + 2;
    if (size == 0) {
      size_t end = bytes.find("\r\n\r\n", line_end);
      return end == std::string::npos ? end : end + 4;
    }
    pos += size + 2;
    if (pos > bytes.size()) {
      return std::string::npos;
    }
  }
}

// The statuses of the complete responses in `bytes`. `head_request`: final responses
// carry no body. A body without framing ends at the close.
std::vector<int> parseResponses(const std::string& bytes, bool head_request, bool closed) {
  std::vector<int> statuses;
  size_t pos = 0;
  for (;;) {
    size_t head_end = 0;
    int status = 0;
    std::string head;
    if (!parseHead(bytes, pos, &head_end, &status, &head)) {
      return statuses;
    }

    size_t end = head_end;
    bool bodiless = status < 200 || status == 204 || status == 304 || head_request;
    size_t length_at = head.find("\r\ncontent-length:");
    if (bodiless) {
      // Nothing follows the head.
    } else if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
      end = chunkedEnd(bytes, head_end);
    } else if (length_at != std::string::npos) {
      end = head_end + std::strtoul(head.c_str() + length_at + 17, nullptr, 10);
      end = end <= bytes.size() ? end : std::string::npos;
    } else {
      end = closed ? bytes.size() : std::string::npos;
    }
    if (end == std::string::npos) {
      return statuses;
    }
    statuses.push_back(status);
    pos = end;
  }
}

// Sends the case's bytes and reads until the proxy closes, or until the expected number
// of responses came and nothing followed for a moment, or until the deadline.
ClientSide exchange(uint16_t port, const HttpCase& test) {
  ClientSide side;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::send(fd, test.client.data(), test.client.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(test.client.size())) {
    ::close(fd);
    return side;
  }

  bool head_request = test.client.rfind("HEAD ", 0) == 0;
  auto deadline = std::chrono::steady_clock::now() + kReadDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    bool enough = side.statuses.size() >= test.statuses.size();
    pollfd wait{fd, POLLIN, 0};
    if (::poll(&wait, 1, enough ? kQuietMs : 50) <= 0) {
      if (enough) {
        break;
      }
      continue;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      side.closed = true;
      break;
    }
    side.bytes.append(chunk, static_cast<size_t>(n));
    side.statuses = parseResponses(side.bytes, head_request, false);
  }
  side.statuses = parseResponses(side.bytes, head_request, side.closed);
  ::close(fd);
  return side;
}

// The proxy's generated request ids are random: "x-request-id: <uuid>" becomes
// "x-request-id: *" (a client's own id keeps its spelling and value).
std::string normalizeRequestIds(std::string bytes) {
  const std::string mark = "\r\nx-request-id: ";
  for (size_t at = bytes.find(mark); at != std::string::npos; at = bytes.find(mark, at + 1)) {
    size_t value = at + mark.size();
    size_t end = bytes.find("\r\n", value);
    if (end != std::string::npos && end - value == 36) {
      bytes.replace(value, 36, "*");
    }
  }
  return bytes;
}

// Shows \r and \n, so a failure message can be compared with the case file.
std::string visible(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string joined(const std::vector<int>& statuses) {
  std::string text;
  for (int status : statuses) {
    text += (text.empty() ? "" : " ") + std::to_string(status);
  }
  return text.empty() ? "none" : text;
}

using HttpCaseTest = E2eParamTest<HttpCase>;

TEST_P(HttpCaseTest, ClientAndBackendSeeExactlyTheExpectedBytes) {
  const HttpCase& test = GetParam();
  if (!test.known_bug.empty() && std::getenv("TURNOUT_RUN_KNOWN_BUGS") == nullptr) {
    GTEST_SKIP() << test.location << ": known bug: " << test.known_bug;
  }
  ASSERT_FALSE(test.client.empty()) << test.location << ": a case needs client bytes";
  ASSERT_NE(test.upstream_nothing, !test.upstream.empty())
      << test.location << ": a case needs either upstream bytes or \"upstream | nothing\"";
  RawBackend backend;
  ASSERT_NE(backend.port(), 0);
  std::string answer = test.has_answer ? test.answer : kDefaultRawAnswer;
  backend.setAnswer(test.silent ? std::string() : answer, test.after);
  env_.setValue("BACKEND", "127.0.0.1:" + std::to_string(backend.port()));
  env_.setValue("LISTENER_SETTINGS", test.listener_settings);
  uint16_t port = env_.startProxy(kCasesConfig, 1);
  ASSERT_NE(port, 0);

  ClientSide side = exchange(port, test);
  EXPECT_EQ(joined(side.statuses), joined(test.statuses)) << test.location << "\nthe client got:\n"
                                                          << visible(side.bytes);
  for (const std::string& text : test.client_gets) {
    EXPECT_NE(side.bytes.find(text), std::string::npos)
        << test.location << ": missing " << visible(text) << " in:\n"
        << visible(side.bytes);
  }
  for (const std::string& text : test.client_never_gets) {
    EXPECT_EQ(side.bytes.find(text), std::string::npos)
        << test.location << ": unexpected " << visible(text) << " in:\n"
        << visible(side.bytes);
  }
  if (!test.connection.empty()) {
    EXPECT_EQ(side.closed ? "closed" : "open", test.connection) << test.location;
  }

  backend.waitIdle();
  std::string received = normalizeRequestIds(backend.received());
  std::string expected =
      substitute(test.upstream, {{"BACKEND", "127.0.0.1:" + std::to_string(backend.port())}});
  EXPECT_TRUE(received == expected) << test.location << "\nthe backend got:\n"
                                    << visible(received) << "\nexpected:\n"
                                    << visible(expected);
}

INSTANTIATE_TEST_SUITE_P(Files, HttpCaseTest, ::testing::ValuesIn(loadCases()),
                         [](const ::testing::TestParamInfo<HttpCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace turnout::e2e
