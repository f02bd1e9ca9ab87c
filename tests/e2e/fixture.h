// The fixture every end-to-end test uses: demo backends and turnout processes on free
// loopback ports, all stopped when the test ends, their logs printed when it failed.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/harness.h"

namespace turnout::e2e {

// One listener whose only route sends everything to cluster "blue"; add the clusters.
inline constexpr const char* kBlueOnlyListener = R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: all
              match:
                prefix: "/"
              route:
                cluster: blue
)";

// Two clusters, "blue" and "green", each one demo backend. Tests append it to their own
// listener section.
inline constexpr const char* kBlueGreenClusters = R"(
clusters:
  - name: blue
    endpoints:
      - address: "{{BLUE}}"
  - name: green
    endpoints:
      - address: "{{GREEN}}"
)";

class E2eFixture {
 public:
  E2eFixture() = default;
  ~E2eFixture();
  E2eFixture(const E2eFixture&) = delete;
  E2eFixture& operator=(const E2eFixture&) = delete;

  // Starts one demo backend per name on a free port and records "{{NAME}}" (upper case)
  // as its "127.0.0.1:port". False if one did not come up.
  bool startBackends(const std::vector<std::string>& names);

  // Writes the config with "{{LISTEN}}" set to a fresh free address (and every backend
  // address set) and starts turnout on it. Returns the listen port, or 0 on failure.
  uint16_t startProxy(const std::string& yaml, int workers = 2);

  // Sets another "{{KEY}}" for configs written afterwards.
  void setValue(const std::string& key, const std::string& value) { values_[key] = value; }

  uint16_t backendPort(const std::string& name) const { return backend_ports_.at(name); }
  Process& backend(const std::string& name) { return *backends_.at(name); }
  Process& proxy(size_t index) { return *proxies_.at(index); }
  const TempDir& dir() const { return dir_; }

  // The tail of every log, for a failure message.
  std::string logs();

 private:
  // Declared first, destroyed last: the logs stay readable while processes stop.
  TempDir dir_;
  std::map<std::string, std::string> values_;
  std::map<std::string, uint16_t> backend_ports_;
  std::map<std::string, ProcessPtr> backends_;
  std::vector<ProcessPtr> proxies_;  // Destroyed before the backends they talk to.
  int config_count_ = 0;
};

// A GoogleTest fixture around E2eFixture that prints the logs of a failed test.
class E2eTest : public ::testing::Test {
 protected:
  void TearDown() override;

  E2eFixture env_;
};

// Same, for parameterized tests.
template <typename Param>
class E2eParamTest : public ::testing::TestWithParam<Param> {
 protected:
  void TearDown() override {
    if (this->HasFailure()) {
      std::cerr << env_.logs();
    }
  }

  E2eFixture env_;
};

// Requests GET `target` `count` times, spread round-robin over `connections` keep-alive
// connections, and counts answers per x-backend value; a failed request counts under
// "status <code>: <error>".
std::map<std::string, int> countBackends(uint16_t port, int count, int connections,
                                         const std::string& target = "/",
                                         const Headers& headers = {});

}  // namespace turnout::e2e
