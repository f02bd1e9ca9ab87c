// The fixture of the reload and admin API tests: blue and green demo backends, one turnout
// whose config file lives in a Kubernetes-style ConfigMap directory (the path is a symlink
// through "..data"), and a client for its admin API.
#pragma once

#include <signal.h>

#include <map>
#include <string>

#include "config/turnout.pb.h"
#include "tests/e2e/fixture.h"

namespace turnout::e2e {

// A config with one listener and the weighted route "release" over blue and green, hashed
// on the x-user header (random buckets without it). `extra` is appended at the top level.
// The admin API listens on {{ADMIN}}; the access log is off (load tests would flood it).
std::string releaseConfig(int blue, int green, const std::string& extra = "");

class ControlTest : public E2eTest {
 protected:
  // Starts the backends and turnout on `yaml`. False (with the logs printed by TearDown)
  // when something did not come up.
  bool startAll(const std::string& yaml, int workers = 2);

  // Starts turnout again on the current config file (after stopProxy()).
  bool restartProxy(int workers = 2);
  void stopProxy() { proxy_.reset(); }

  // Writes the config the way `kubectl apply` on a mounted ConfigMap does: a new
  // "..<n>" directory, a new "..data" link renamed over the old one.
  void swapConfig(const std::string& yaml);

  // Writes the config in place, through the symlinks, with one write(2).
  void rewriteConfig(const std::string& yaml);

  void signalProxy(int signal) { ::kill(proxy_->pid(), signal); }

  // One admin call on a fresh connection.
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& token = "");

  // The running version as GET /config reports it; -1 when the call failed.
  int64_t runningVersion();

  // Waits up to `limit` for the running version to differ from `version`; the new one,
  // or -1.
  int64_t waitForVersionAfter(int64_t version, Millis limit = Millis(5000));

  // `turnout ctl --admin ... ARGS` through the shell; stdout and stderr together.
  CommandResult ctl(const std::string& args);

  std::string substituted(const std::string& yaml) const { return substitute(yaml, values_); }

  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  std::string config_dir_;   // The ConfigMap mount.
  std::string config_path_;  // config_dir_/turnout.yaml, a symlink through ..data.
  ProcessPtr proxy_;
  std::map<std::string, std::string> values_;
  int generation_ = 0;
};

// Parses an admin answer; a message with no fields set when the text is not that message.
config::ConfigVersion parseConfigVersion(const std::string& json);
config::ChangeReply parseChangeReply(const std::string& json);

// The effective weights of route "release" in a GET /config answer, as "blue/green".
std::string effectiveSplit(const config::ConfigVersion& version);

}  // namespace turnout::e2e
