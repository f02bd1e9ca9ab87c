// Starts and stops the processes of one end-to-end test.
#include "tests/e2e/fixture.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

namespace turnout::e2e {
namespace {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string loopbackAddress(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

}  // namespace

E2eFixture::~E2eFixture() {
  // Proxies first, so none of them sees its backends vanish mid-request.
  proxies_.clear();
  backends_.clear();
}

bool E2eFixture::startBackends(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    uint16_t port = freePort();
    ProcessPtr process = startBackend(name, port, dir_);
    if (process == nullptr) {
      return false;
    }
    backends_[name] = std::move(process);
    backend_ports_[name] = port;
    values_[upper(name)] = loopbackAddress(port);
  }
  return true;
}

uint16_t E2eFixture::startProxy(const std::string& yaml, int workers) {
  uint16_t port = freePort();
  values_["LISTEN"] = loopbackAddress(port);
  std::string name = "turnout-" + std::to_string(++config_count_) + ".yaml";
  std::string path = writeConfig(dir_, name, yaml, values_);

  // A proxy that did not come up has been stopped; its log stays in dir_ for logs().
  ProcessPtr process = startTurnout(path, port, dir_, workers);
  if (process == nullptr) {
    return 0;
  }
  proxies_.push_back(std::move(process));
  return port;
}

std::string E2eFixture::logs() {
  // Every process logs into dir_, including the ones that failed to start.
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().extension() == ".log") {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());

  std::string text;
  for (const std::string& path : paths) {
    std::string content = readFile(path);
    size_t keep = 4000;
    if (content.size() > keep) {
      content = "...\n" + content.substr(content.size() - keep);
    }
    text += "---- " + path + "\n" + content;
  }
  return text;
}

void E2eTest::TearDown() {
  if (HasFailure()) {
    std::cerr << env_.logs();
  }
}

std::map<std::string, int> countBackends(uint16_t port, int count, int connections,
                                         const std::string& target, const Headers& headers) {
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < connections; ++i) {
    clients.push_back(std::make_unique<HttpClient>(port));
  }

  std::map<std::string, int> counts;
  for (int i = 0; i < count; ++i) {
    HttpResponse resp = clients[i % connections]->get(target, headers);
    if (resp.status == 200) {
      ++counts[resp.header("x-backend")];
    } else {
      ++counts["status " + std::to_string(resp.status) + ": " + resp.error];
    }
  }
  return counts;
}

}  // namespace turnout::e2e
