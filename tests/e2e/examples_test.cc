// End to end: every turnout config in examples/ validates and serves a request, with its
// ports moved to free ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/fixture.h"

namespace turnout::e2e {
namespace {

// By the examples' convention, loopback ports 19000..19999 are demo backends; any other
// loopback port is a listener.
bool isBackendPort(int port) {
  return port >= 19000 && port <= 19999;
}

// examples/*.yaml files that are turnout configs (they have a top-level listeners key).
std::vector<std::string> exampleConfigs() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(repoRoot() + "/examples", error)) {
    std::string text = readFile(entry.path());
    if (entry.path().extension() == ".yaml" && text.find("\nlisteners:") != std::string::npos) {
      names.push_back(entry.path().filename());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The example's text with each distinct 127.0.0.1 port replaced by a free one. Fills
// `backends` (new backend ports) and `listeners` (new listener ports, in file order).
std::string movePorts(const std::string& text, std::vector<uint16_t>& backends,
                      std::vector<uint16_t>& listeners) {
  std::regex address(R"(127\.0\.0\.1:(\d+))");
  std::map<int, uint16_t> moved;
  std::string out;
  auto last = text.cbegin();
  for (std::sregex_iterator it(text.begin(), text.end(), address), end; it != end; ++it) {
    int old_port = std::stoi((*it)[1].str());
    if (moved.count(old_port) == 0) {
      moved[old_port] = freePort();
      (isBackendPort(old_port) ? backends : listeners).push_back(moved[old_port]);
    }
    out.append(last, (*it)[0].first);
    out += "127.0.0.1:" + std::to_string(moved[old_port]);
    last = (*it)[0].second;
  }
  out.append(last, text.cend());
  return out;
}

using ExampleTest = E2eParamTest<std::string>;

TEST_P(ExampleTest, ValidatesAndServesARequest) {
  std::string original = repoRoot() + "/examples/" + GetParam();
  CommandResult checked =
      runCommand(shellQuote(turnoutBin()) + " validate " + shellQuote(original) + " 2>&1");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("OK"), std::string::npos) << checked.output;

  // Same file on free ports, one demo backend per backend port.
  std::vector<uint16_t> backends;
  std::vector<uint16_t> listeners;
  std::string text = movePorts(readFile(original), backends, listeners);
  ASSERT_FALSE(listeners.empty()) << "no listener address in " << original;
  std::vector<ProcessPtr> processes;
  for (uint16_t port : backends) {
    processes.push_back(startBackend("b" + std::to_string(port), port, env_.dir()));
    ASSERT_NE(processes.back(), nullptr);
  }
  std::string path = writeConfig(env_.dir(), GetParam(), text, {});
  ProcessPtr proxy = startTurnout(path, listeners[0], env_.dir());
  ASSERT_NE(proxy, nullptr) << "turnout did not start with " << GetParam();

  HttpClient client(listeners[0]);
  HttpResponse resp = client.get("/");
  EXPECT_EQ(resp.status, 200) << resp.error << resp.body;
  EXPECT_EQ(resp.header("x-backend").rfind("b", 0), 0u) << "answered by no demo backend";
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ExampleTest);
INSTANTIATE_TEST_SUITE_P(Examples, ExampleTest, ::testing::ValuesIn(exampleConfigs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace turnout::e2e
