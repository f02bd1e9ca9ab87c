// The control side of the running config: every change (file, admin API, signal,
// rollback) goes through one ConfigManager, which turns it into a new version, keeps the
// last 16 versions, holds the weight overrides and writes both to the state directory.
//
// The apply pipeline: text -> Bootstrap -> apply the weight overrides -> validate ->
// compile -> publish (through the Publisher the proxy gives) -> record the version. A
// change that fails any step leaves everything as it was. Changes serialize on one mutex;
// the data path never takes it (workers read the published Snapshot). No threads of its
// own: each method runs on the caller's thread (admin thread, signal thread, file watch).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/turnout.pb.h"
#include "config/weight_overrides.h"

namespace turnout {

// What caused a change. The names ("file", "admin", "signal", "rollback") appear in the
// history and in the stats.
enum class ChangeSource { File, Admin, Signal, Rollback };
inline constexpr size_t kChangeSourceCount = 4;
const char* changeSourceName(ChangeSource source);

enum class ChangeOutcome {
  Applied,    // A new version runs.
  Unchanged,  // Valid, but the effective config is the running one: no new version.
  Invalid,    // The config or the request is wrong; `errors` says how (400).
  NotFound,   // The route or the version named does not exist (404).
  Failed,     // Valid, but it could not be put into service, e.g. a listener did not bind.
};
inline constexpr size_t kChangeOutcomeCount = 5;
const char* changeOutcomeName(ChangeOutcome outcome);

struct ChangeResult {
  ChangeOutcome outcome = ChangeOutcome::Unchanged;
  uint64_t version = 0;           // Running after the call.
  uint64_t previous_version = 0;  // Running before it.
  std::vector<std::string> changes;
  std::vector<ConfigError> errors;

  bool ok() const {
    return outcome == ChangeOutcome::Applied || outcome == ChangeOutcome::Unchanged;
  }
};

// Counts of changes by source and outcome, for the stats.
using ChangeCounts = std::array<std::array<uint64_t, kChangeOutcomeCount>, kChangeSourceCount>;

class ConfigManager {
 public:
  // Puts a compiled snapshot into service: binds new listeners, publishes it to the
  // workers. Called with the manager's mutex held; must not call back into the manager.
  // False with `*error` set when nothing changed.
  using Publisher = std::function<bool(std::shared_ptr<Snapshot> snapshot, std::string* error)>;

  // Gets one line per applied or refused change; `error` marks a refusal.
  using Reporter = std::function<void(bool error, const std::string& line)>;

  static constexpr size_t kHistoryLimit = 16;

  ConfigManager(std::string config_path, Publisher publisher, Reporter reporter);

  // Start-up: reads the config file and the state directory it names, applies the saved
  // overrides and publishes. When the result equals the last saved version, that version id
  // is kept; otherwise the next id is taken. Call once, before any other method.
  ChangeResult start();

  // Re-reads the config file. With ChangeSource::File (the file watch) a file whose bytes
  // did not change since the last read is not applied again.
  ChangeResult reloadFile(ChangeSource source);

  // A full config posted through the admin API (YAML or JSON).
  ChangeResult applyText(std::string_view text);

  // Sets the weight override of one route (PUT /routes/{route}/weights).
  ChangeResult setWeights(const std::string& route, const WeightMap& weights);

  // Drops the override of `route`, or every override when `route` is empty.
  ChangeResult clearWeights(const std::string& route);

  // Restores the version before the running one, or `version` when given, exactly.
  ChangeResult rollback(std::optional<uint64_t> version);

  // The running version with its configured and effective config and its overrides.
  config::ConfigVersion running() const;

  // The kept versions, oldest first, without their configs.
  config::ConfigHistory history() const;

  uint64_t runningVersion() const;
  ChangeCounts counts() const;

  // The state directory named by the running config ("" when none).
  std::string stateDir() const;

 private:
  // A candidate version before it runs.
  struct Candidate {
    config::Bootstrap configured;
    WeightOverrides overrides;
    ChangeSource source = ChangeSource::File;
    std::string origin;
    uint64_t rolled_back_to = 0;
    std::optional<config::Bootstrap> exact;  // Rollback: run this effective config as is.
  };

  ChangeResult commit(Candidate candidate);
  ChangeResult publishVersion(Candidate candidate, config::Bootstrap effective,
                              std::vector<std::string> changes);
  ChangeResult keepRunning(Candidate candidate, std::vector<std::string> changes);
  void recordLayers(config::Bootstrap configured, WeightOverrides overrides);
  ChangeResult parseAndCommit(std::string_view text, ChangeSource source, std::string origin);
  ChangeResult refuse(ChangeSource source, ChangeOutcome outcome, std::vector<ConfigError> errors);
  void restoreState(const std::string& state_dir);
  // Rewrites state.json whole, every kept config included, after the new version already
  // serves. With configs of megabytes a change costs that much writing before its admin
  // call returns.
  void persist();
  void report(ChangeSource source, const ChangeResult& result, const std::string& origin);

  const std::string config_path_;
  const Publisher publisher_;
  const Reporter reporter_;

  mutable std::mutex mutex_;
  std::deque<config::ConfigVersion> history_;  // Oldest first; back() runs.
  WeightOverrides overrides_;                  // Of the running version.
  uint64_t last_version_ = 0;
  uint64_t last_file_hash_ = 0;
  bool file_read_ = false;
  bool published_ = false;  // start() has put a version into service.
  ChangeCounts counts_{};
};

}  // namespace turnout
