// End to end: what the upstream sees of a request (forwarding and decision headers, the
// client's header lines) and what the access log says about it.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// One route to blue; `{{ROUTE_CONFIG_EXTRA}}` and `{{ACCESS_LOG}}` are filled per test.
constexpr const char* kHeadersConfig = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
{{ROUTE_CONFIG_EXTRA}}
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: all
              match:
                prefix: "/"
              route:
                cluster: blue
{{ACCESS_LOG}}
)";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) {
    text += (text.empty() ? "" : ", ") + value;
  }
  return text;
}

class HeadersTest : public E2eTest {
 protected:
  // Starts blue and green and a proxy with the given extras; returns its port.
  uint16_t start(const std::string& route_config_extra = "", const std::string& access_log = "") {
    if (!env_.startBackends({"blue", "green"})) {
      return 0;
    }
    env_.setValue("ROUTE_CONFIG_EXTRA", route_config_extra);
    env_.setValue("ACCESS_LOG", access_log);
    return env_.startProxy(std::string(kHeadersConfig) + kBlueGreenClusters);
  }
};

// The client address in X-Forwarded-For is the peer's, digit for digit: curl binds the
// loopback addresses given, so every octet width is covered.
TEST_F(HeadersTest, ForwardedForCarriesTheClientAddress) {
  uint16_t port = start();
  ASSERT_NE(port, 0);
  for (const std::string address : {"127.0.0.1", "127.10.200.5", "127.0.99.250"}) {
    CommandResult result = runCommand(curlPrefix() + " --interface " + address +
                                      " http://127.0.0.1:" + std::to_string(port) + "/a");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    Echo echo = parseEcho(result.output);
    ASSERT_TRUE(echo.ok) << result.output;
    EXPECT_EQ(joined(echo.values("x-forwarded-for")), address);
  }
}

TEST_F(HeadersTest, UpstreamSeesForwardingHeadersAndClientLinesInOrder) {
  uint16_t port = start();
  ASSERT_NE(port, 0);

  // Keep-Alive, Connection and the header Connection names are hop-by-hop
  // (RFC 9110 section 7.6.1); everything else keeps its spelling, value and order.
  HttpClient client(port);
  HttpResponse resp = client.raw(
      "GET /where?x=1 HTTP/1.1\r\n"
      "Host: app.example\r\n"
      "X-First: 1\r\n"
      "x-MiXeD-CaSe: two words\r\n"
      "Connection: keep-alive, X-Hop\r\n"
      "X-Hop: drop me\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Forwarded-For: 10.1.2.3\r\n"
      "X-Request-Id: req-abc-123\r\n"
      "Accept: */*\r\n"
      "X-Repeated: a\r\n"
      "X-Repeated: b\r\n"
      "X-Last: 3\r\n"
      "\r\n");
  ASSERT_EQ(resp.status, 200) << resp.error;
  Echo echo = parseEcho(resp.body);
  ASSERT_TRUE(echo.ok) << resp.body;
  EXPECT_EQ(echo.path, "/where");
  EXPECT_EQ(echo.query, "x=1");

  EXPECT_EQ(joined(echo.values("x-forwarded-for")), "10.1.2.3, 127.0.0.1");
  EXPECT_EQ(echo.values("x-forwarded-proto"), std::vector<std::string>{"http"});
  EXPECT_EQ(echo.values("x-request-id"), std::vector<std::string>{"req-abc-123"});
  EXPECT_EQ(echo.values("x-turnout-cluster"), std::vector<std::string>{"blue"});
  std::vector<std::string> bucket = echo.values("x-turnout-bucket");
  ASSERT_EQ(bucket.size(), 1u);
  EXPECT_GE(std::atoi(bucket[0].c_str()), 0);
  EXPECT_LT(std::atoi(bucket[0].c_str()), 10000);

  EXPECT_TRUE(echo.values("x-hop").empty());
  EXPECT_TRUE(echo.values("keep-alive").empty());
  for (const std::string& value : echo.values("connection")) {
    EXPECT_EQ(lower(value).find("x-hop"), std::string::npos) << value;
  }

  // The client's own end-to-end lines, minus those the proxy adds or rewrites.
  std::set<std::string> proxy_owned = {"x-forwarded-for",   "x-forwarded-proto", "x-request-id",
                                       "x-turnout-cluster", "x-turnout-bucket",  "connection"};
  Headers passed;
  for (const auto& header : echo.headers) {
    if (proxy_owned.count(lower(header.first)) == 0) {
      passed.push_back(header);
    }
  }
  Headers expected = {{"Host", "app.example"}, {"X-First", "1"},    {"x-MiXeD-CaSe", "two words"},
                      {"Accept", "*/*"},       {"X-Repeated", "a"}, {"X-Repeated", "b"},
                      {"X-Last", "3"}};
  EXPECT_EQ(passed, expected);
}

TEST_F(HeadersTest, MissingRequestIdIsGeneratedFreshPerRequest) {
  uint16_t port = start();
  ASSERT_NE(port, 0);
  HttpClient client(port);

  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    Echo echo = parseEcho(client.get("/").body);
    std::vector<std::string> values = echo.values("x-request-id");
    ASSERT_EQ(values.size(), 1u);
    EXPECT_FALSE(values[0].empty());
    ids.insert(values[0]);
  }
  EXPECT_EQ(ids.size(), 5u);
}

// decision_headers settings and the header names the upstream must then see.
struct DecisionCase {
  std::string name;
  std::string settings;
  std::string cluster_header;  // Empty: no decision headers at all.
  std::string bucket_header;
};

// GoogleTest prints a failing case by its name.
void PrintTo(const DecisionCase& param, std::ostream* out) {
  *out << param.name;
}

using DecisionHeadersTest = E2eParamTest<DecisionCase>;

TEST_P(DecisionHeadersTest, UpstreamSeesConfiguredDecisionHeaders) {
  const DecisionCase& param = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  env_.setValue("ROUTE_CONFIG_EXTRA", param.settings);
  env_.setValue("ACCESS_LOG", "");
  uint16_t port = env_.startProxy(std::string(kHeadersConfig) + kBlueGreenClusters);
  ASSERT_NE(port, 0);

  HttpClient client(port);
  Echo echo = parseEcho(client.get("/").body);
  ASSERT_TRUE(echo.ok);
  std::set<std::string> names;
  for (const auto& header : echo.headers) {
    names.insert(lower(header.first));
  }

  for (const char* name : {"x-turnout-cluster", "x-turnout-bucket", "x-pool", "x-slot"}) {
    bool wanted = name == param.cluster_header || name == param.bucket_header;
    EXPECT_EQ(names.count(name), wanted ? 1u : 0u) << name;
  }
  if (!param.cluster_header.empty()) {
    EXPECT_EQ(echo.values(param.cluster_header), std::vector<std::string>{"blue"});
  }
}

INSTANTIATE_TEST_SUITE_P(
    DecisionHeaders, DecisionHeadersTest,
    ::testing::Values(DecisionCase{"Defaults", "", "x-turnout-cluster", "x-turnout-bucket"},
                      DecisionCase{"Renamed",
                                   "      decision_headers:\n"
                                   "        cluster_header: x-pool\n"
                                   "        bucket_header: x-slot\n",
                                   "x-pool", "x-slot"},
                      DecisionCase{"Disabled", "      decision_headers:\n        disabled: true\n",
                                   "", ""}),
    [](const ::testing::TestParamInfo<DecisionCase>& info) { return info.param.name; });

// Polls the file for up to 3 s until it holds a complete line; returns that first line.
std::string firstLogLine(const std::string& path) {
  for (int attempt = 0; attempt < 150; ++attempt) {
    std::string text = readFile(path);
    size_t end = text.find('\n');
    if (end != std::string::npos) {
      return text.substr(0, end);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

const std::vector<std::string> kAccessLogKeys = {
    "time",     "request_id", "method",   "path",      "status",      "route",    "cluster",
    "endpoint", "bucket",     "bytes_in", "bytes_out", "upstream_ms", "total_ms", "error"};

// A JSON value as text: strings as they are, numbers without a fraction when whole.
std::string valueText(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kNumberValue: {
      std::ostringstream out;
      out << value.number_value();
      return out.str();
    }
    default:
      return "";
  }
}

// "key=value key=value ..." into a map; a value runs to the next space.
std::map<std::string, std::string> parseTextLine(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::istringstream in(line);
  std::string pair;
  while (in >> pair) {
    size_t equals = pair.find('=');
    if (equals != std::string::npos) {
      fields[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
  }
  return fields;
}

std::map<std::string, std::string> parseJsonLine(const std::string& line) {
  std::map<std::string, std::string> fields;
  google::protobuf::Struct root;
  if (google::protobuf::util::JsonStringToMessage(line, &root).ok()) {
    for (const auto& [key, value] : root.fields()) {
      fields[key] = valueText(value);
    }
  }
  return fields;
}

class AccessLogTest : public E2eParamTest<std::string> {};

TEST_P(AccessLogTest, LineCarriesEveryKey) {
  const std::string& format = GetParam();
  ASSERT_TRUE(env_.startBackends({"blue", "green"}));
  std::string log_path = env_.dir().file("access.txt");
  env_.setValue("ROUTE_CONFIG_EXTRA", "");
  env_.setValue("ACCESS_LOG",
                "access_log:\n  path: \"" + log_path + "\"\n  format: " + format + "\n");
  uint16_t port = env_.startProxy(std::string(kHeadersConfig) + kBlueGreenClusters);
  ASSERT_NE(port, 0);

  HttpClient client(port);
  HttpResponse resp = client.get("/logged", {{"X-Request-Id", "log-id-1"}});
  ASSERT_EQ(resp.status, 200) << resp.error;

  std::string line = firstLogLine(log_path);
  ASSERT_FALSE(line.empty()) << "no access log line in " << log_path;
  auto fields = format == "JSON" ? parseJsonLine(line) : parseTextLine(line);
  for (const std::string& key : kAccessLogKeys) {
    EXPECT_EQ(fields.count(key), 1u) << "no " << key << " in: " << line;
  }
  EXPECT_EQ(fields["request_id"], "log-id-1") << line;
  EXPECT_EQ(fields["method"], "GET") << line;
  EXPECT_EQ(fields["path"], "/logged") << line;
  EXPECT_EQ(fields["status"], "200") << line;
  EXPECT_EQ(fields["route"], "all") << line;
  EXPECT_EQ(fields["cluster"], "blue") << line;
  EXPECT_EQ(fields["endpoint"], "127.0.0.1:" + std::to_string(env_.backendPort("blue"))) << line;
}

INSTANTIATE_TEST_SUITE_P(AccessLog, AccessLogTest, ::testing::Values("TEXT", "JSON"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace turnout::e2e
