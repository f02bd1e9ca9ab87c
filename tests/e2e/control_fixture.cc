// Backends, a turnout with a ConfigMap-style config directory, and its admin API.
#include "tests/e2e/control_fixture.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace turnout::e2e {
namespace {

template <typename Message>
Message parseMessage(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(json, &message, options).ok()) {
    message.Clear();
  }
  return message;
}

}  // namespace

std::string releaseConfig(int blue, int green, const std::string& extra) {
  return R"(
listeners:
  - name: main
    address: "{{LISTEN}}"
    route_config:
      virtual_hosts:
        - name: site
          domains: ["*"]
          routes:
            - name: release
              match: {prefix: "/"}
              route:
                hash_policy: [{header: {header_name: x-user}}]
                weighted_clusters:
                  clusters:
                    - {name: blue, weight: )" +
         std::to_string(blue) + R"(}
                    - {name: green, weight: )" +
         std::to_string(green) + R"(}
admin: {address: "{{ADMIN}}"}
access_log: {disabled: true}
)" + extra +
         kBlueGreenClusters;
}

bool ControlTest::startAll(const std::string& yaml, int workers) {
  if (!env_.startBackends({"blue", "green"})) {
    return false;
  }
  port_ = freePort();
  admin_port_ = freePort();
  values_["LISTEN"] = "127.0.0.1:" + std::to_string(port_);
  values_["ADMIN"] = "127.0.0.1:" + std::to_string(admin_port_);
  values_["BLUE"] = "127.0.0.1:" + std::to_string(env_.backendPort("blue"));
  values_["GREEN"] = "127.0.0.1:" + std::to_string(env_.backendPort("green"));
  values_["DIR"] = env_.dir().path();

  config_dir_ = env_.dir().file("configmap");
  config_path_ = config_dir_ + "/turnout.yaml";
  std::filesystem::create_directory(config_dir_);
  swapConfig(yaml);
  std::filesystem::create_symlink("..data/turnout.yaml", config_path_);
  return restartProxy(workers);
}

bool ControlTest::restartProxy(int workers) {
  proxy_ = startTurnout(config_path_, port_, env_.dir(), workers);
  return proxy_ != nullptr;
}

void ControlTest::swapConfig(const std::string& yaml) {
  std::string version = "..v" + std::to_string(++generation_);
  std::filesystem::create_directory(config_dir_ + "/" + version);
  writeConfig(env_.dir(), "configmap/" + version + "/turnout.yaml", yaml, values_);
  std::string temp = config_dir_ + "/..data_tmp";
  std::filesystem::remove(temp);
  std::filesystem::create_directory_symlink(version, temp);
  std::filesystem::rename(temp, config_dir_ + "/..data");
}

void ControlTest::rewriteConfig(const std::string& yaml) {
  std::string text = substitute(yaml, values_);
  int fd = ::open(config_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

HttpResponse ControlTest::admin(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& token) {
  HttpClient client(admin_port_);
  HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  if (!token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + token);
  }
  if (body.empty() && method != "GET") {
    request.headers.emplace_back("Content-Length", "0");
  }
  return client.request(request);
}

int64_t ControlTest::runningVersion() {
  HttpResponse response = admin("GET", "/config");
  return response.status == 200 ? parseConfigVersion(response.body).version() : -1;
}

int64_t ControlTest::waitForVersionAfter(int64_t version, Millis limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse response = admin("GET", "/ready");
    size_t at = response.body.find("\"version\":");
    int64_t now = at == std::string::npos ? -1 : std::atoll(response.body.c_str() + at + 10);
    if (now >= 0 && now != version) {
      return now;
    }
    std::this_thread::sleep_for(Millis(2));
  }
  return -1;
}

CommandResult ControlTest::ctl(const std::string& args) {
  return runCommand(shellQuote(turnoutBin()) +
                    " ctl --admin 127.0.0.1:" + std::to_string(admin_port_) + " " + args + " 2>&1");
}

config::ConfigVersion parseConfigVersion(const std::string& json) {
  return parseMessage<config::ConfigVersion>(json);
}

config::ChangeReply parseChangeReply(const std::string& json) {
  return parseMessage<config::ChangeReply>(json);
}

std::string effectiveSplit(const config::ConfigVersion& version) {
  const auto& config = version.effective();
  if (config.listeners_size() == 0) {
    return "";
  }
  const auto& split =
      config.listeners(0).route_config().virtual_hosts(0).routes(0).route().weighted_clusters();
  std::string text;
  for (const auto& entry : split.clusters()) {
    text += (text.empty() ? "" : "/") + std::to_string(entry.weight());
  }
  return text;
}

}  // namespace turnout::e2e
