// The control side of the running config: versions, history, overrides and persistence.
#include "config/config_manager.h"

#include <google/protobuf/util/time_util.h>
#include <xxhash.h>

#include <chrono>
#include <fstream>
#include <unordered_set>

#include "config/config_diff.h"
#include "config/proto_json.h"
#include "config/runtime_rules.h"
#include "config/snapshot_compiler.h"
#include "config/state_file.h"
#include "config/validator.h"

namespace turnout {
namespace {

// The loader refuses larger texts; reading stops just past this so that it can say so.
constexpr size_t kMaxReadBytes = 4 * 1024 * 1024 + 1;

bool readText(const std::string& path, std::string* text, std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = "cannot open the file";
    return false;
  }
  text->resize(kMaxReadBytes);
  file.read(text->data(), static_cast<std::streamsize>(text->size()));
  text->resize(static_cast<size_t>(file.gcount()));
  if (file.bad()) {
    *error = "cannot read the file";
    return false;
  }
  return true;
}

// Every rule of the schema and of the control side; a problem both report is kept once.
std::vector<ConfigError> validateAll(const config::Bootstrap& config) {
  std::vector<ConfigError> errors = validateConfig(config);
  std::unordered_set<std::string> paths;
  for (const ConfigError& error : errors) {
    paths.insert(error.path);
  }
  for (ConfigError& error : validateRuntimeRules(config)) {
    if (paths.count(error.path) == 0) {
      errors.push_back(std::move(error));
    }
  }
  return errors;
}

// The Bootstrap of a text, or its errors with their lines. The configured layer is
// validated here, where errors can still point into the text; the effective config is
// validated again after the overrides.
std::optional<config::Bootstrap> parseText(std::string_view text,
                                           std::vector<ConfigError>* errors) {
  config::Bootstrap bootstrap;
  *errors = parseConfigText(text, &bootstrap);
  if (errors->empty()) {
    *errors = validateAll(bootstrap);
    locateErrors(text, errors);
  }
  if (!errors->empty()) {
    return std::nullopt;
  }
  return bootstrap;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    text += (text.empty() ? "" : "; ") + line;
  }
  return text;
}

}  // namespace

const char* changeSourceName(ChangeSource source) {
  switch (source) {
    case ChangeSource::File:
      return "file";
    case ChangeSource::Admin:
      return "admin";
    case ChangeSource::Signal:
      return "signal";
    case ChangeSource::Rollback:
      return "rollback";
  }
  return "file";
}

const char* changeOutcomeName(ChangeOutcome outcome) {
  switch (outcome) {
    case ChangeOutcome::Applied:
      return "applied";
    case ChangeOutcome::Unchanged:
      return "unchanged";
    case ChangeOutcome::Invalid:
      return "invalid";
    case ChangeOutcome::NotFound:
      return "not_found";
    case ChangeOutcome::Failed:
      return "failed";
  }
  return "failed";
}

ConfigManager::ConfigManager(std::string config_path, Publisher publisher, Reporter reporter)
    : config_path_(std::move(config_path)),
      publisher_(std::move(publisher)),
      reporter_(std::move(reporter)) {}

ChangeResult ConfigManager::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string text;
  std::string error;
  if (!readText(config_path_, &text, &error)) {
    return refuse(ChangeSource::File, ChangeOutcome::Invalid, {{"", error}});
  }
  last_file_hash_ = XXH3_64bits(text.data(), text.size());
  file_read_ = true;

  std::vector<ConfigError> errors;
  std::optional<config::Bootstrap> configured = parseText(text, &errors);
  if (!configured) {
    return refuse(ChangeSource::File, ChangeOutcome::Invalid, std::move(errors));
  }
  restoreState(configured->runtime().state_dir());
  return commit({std::move(*configured), overrides_, ChangeSource::File, config_path_});
}

ChangeResult ConfigManager::reloadFile(ChangeSource source) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string text;
  std::string error;
  if (!readText(config_path_, &text, &error)) {
    return refuse(source, ChangeOutcome::Invalid, {{"", error}});
  }

  // The watch fires for any change in the directory; only new bytes are a new config.
  uint64_t hash = XXH3_64bits(text.data(), text.size());
  if (source == ChangeSource::File && file_read_ && hash == last_file_hash_) {
    ChangeResult result;
    result.version = result.previous_version = last_version_;
    return result;
  }
  last_file_hash_ = hash;
  file_read_ = true;
  return parseAndCommit(text, source, config_path_);
}

ChangeResult ConfigManager::applyText(std::string_view text) {
  std::lock_guard<std::mutex> lock(mutex_);
  return parseAndCommit(text, ChangeSource::Admin, "POST /config");
}

ChangeResult ConfigManager::parseAndCommit(std::string_view text, ChangeSource source,
                                           std::string origin) {
  std::vector<ConfigError> errors;
  std::optional<config::Bootstrap> configured = parseText(text, &errors);
  if (!configured) {
    return refuse(source, ChangeOutcome::Invalid, std::move(errors));
  }
  return commit({std::move(*configured), overrides_, source, std::move(origin)});
}

ChangeResult ConfigManager::setWeights(const std::string& route, const WeightMap& weights) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!published_) {
    return refuse(ChangeSource::Admin, ChangeOutcome::Failed, {{"", "no config runs yet"}});
  }
  const config::Bootstrap& configured = history_.back().configured();
  std::string reason;
  switch (checkWeightOverride(configured, route, weights, &reason)) {
    case OverrideCheck::Ok:
      break;
    case OverrideCheck::UnknownRoute:
      return refuse(ChangeSource::Admin, ChangeOutcome::NotFound, {{"", reason}});
    case OverrideCheck::Invalid:
      return refuse(ChangeSource::Admin, ChangeOutcome::Invalid, {{"", reason}});
  }

  WeightOverrides overrides = overrides_;
  overrides[route] = weights;
  return commit(
      {configured, std::move(overrides), ChangeSource::Admin, "PUT /routes/" + route + "/weights"});
}

ChangeResult ConfigManager::clearWeights(const std::string& route) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!published_) {
    return refuse(ChangeSource::Admin, ChangeOutcome::Failed, {{"", "no config runs yet"}});
  }
  WeightOverrides overrides = overrides_;
  if (!route.empty() && overrides.erase(route) == 0) {
    return refuse(ChangeSource::Admin, ChangeOutcome::NotFound,
                  {{"", "route \"" + route + "\" has no weight override"}});
  }
  if (route.empty()) {
    overrides.clear();
  }
  std::string origin = route.empty() ? "DELETE /weights" : "DELETE /routes/" + route + "/weights";
  return commit({history_.back().configured(), std::move(overrides), ChangeSource::Admin, origin});
}

ChangeResult ConfigManager::rollback(std::optional<uint64_t> version) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!published_) {
    return refuse(ChangeSource::Rollback, ChangeOutcome::Failed, {{"", "no config runs yet"}});
  }
  const config::ConfigVersion* target = nullptr;
  if (!version) {
    target = history_.size() >= 2 ? &history_[history_.size() - 2] : nullptr;
  }
  for (size_t i = 0; version && i < history_.size(); ++i) {
    target = history_[i].version() == *version ? &history_[i] : target;
  }
  if (target == nullptr) {
    std::string kept = std::to_string(history_.front().version()) + ".." +
                       std::to_string(history_.back().version());
    std::string reason = version ? "version " + std::to_string(*version) +
                                       " is not in the history (kept: " + kept + ")"
                                 : "there is no version before the running one";
    return refuse(ChangeSource::Rollback, ChangeOutcome::NotFound, {{"", reason}});
  }

  std::string origin = "POST /rollback to version " + std::to_string(target->version());
  Candidate candidate{target->configured(), fromProto(target->weight_overrides()),
                      ChangeSource::Rollback, origin, target->version()};
  candidate.exact = target->effective();
  return commit(std::move(candidate));
}

ChangeResult ConfigManager::commit(Candidate candidate) {
  // The overrides go on top of the configured splits; a rollback runs its saved
  // effective config as it was.
  std::vector<std::string> dropped;
  config::Bootstrap effective;
  if (candidate.exact) {
    effective = *candidate.exact;
  } else {
    effective = candidate.configured;
    applyWeightOverrides(&candidate.overrides, &effective, &dropped);
  }

  std::vector<ConfigError> errors = validateAll(effective);
  if (!errors.empty()) {
    return refuse(candidate.source, ChangeOutcome::Invalid, std::move(errors));
  }

  // The same effective config as the running one is no new version. A restart that comes
  // back to the last saved config publishes it under its saved id, so that version numbers
  // do not move on a restart alone.
  std::string hash = hashText(contentHash(effective));
  bool same = !history_.empty() && history_.back().content_hash() == hash;
  if (same && published_) {
    return keepRunning(std::move(candidate), std::move(dropped));
  }

  std::vector<std::string> changes;
  if (same) {
    changes.push_back("restored from the state directory");
  } else if (!history_.empty()) {
    changes = describeChanges(history_.back().effective(), effective);
  }
  changes.insert(changes.end(), dropped.begin(), dropped.end());
  return publishVersion(std::move(candidate), std::move(effective), std::move(changes));
}

ChangeResult ConfigManager::keepRunning(Candidate candidate, std::vector<std::string> changes) {
  recordLayers(std::move(candidate.configured), std::move(candidate.overrides));
  ChangeResult result;
  result.version = result.previous_version = last_version_;
  result.changes = std::move(changes);
  report(candidate.source, result, candidate.origin);
  return result;
}

void ConfigManager::recordLayers(config::Bootstrap configured, WeightOverrides overrides) {
  // The configured layer and the overrides may differ from the running ones and still
  // give the same effective config; GET /config and a restart must see the new ones.
  config::ConfigVersion& running = history_.back();
  *running.mutable_configured() = std::move(configured);
  toProto(overrides, running.mutable_weight_overrides());
  overrides_ = std::move(overrides);
  persist();
}

ChangeResult ConfigManager::publishVersion(Candidate candidate, config::Bootstrap effective,
                                           std::vector<std::string> changes) {
  uint64_t hash = contentHash(effective);
  bool restored =
      !published_ && !history_.empty() && history_.back().content_hash() == hashText(hash);
  uint64_t version = restored ? history_.back().version() : last_version_ + 1;

  std::shared_ptr<Snapshot> snapshot = compileSnapshot(effective, candidate.origin, hash);
  snapshot->version = version;
  snapshot->version_text = std::to_string(version);
  snapshot->version_header = effective.runtime().version_header();
  std::string error;
  if (!publisher_(snapshot, &error)) {
    return refuse(candidate.source, ChangeOutcome::Failed, {{"", error}});
  }
  ChangeResult result;
  result.outcome = ChangeOutcome::Applied;
  result.previous_version = published_ ? last_version_ : 0;
  result.version = version;
  published_ = true;
  last_version_ = std::max(last_version_, version);
  if (restored) {
    recordLayers(std::move(candidate.configured), std::move(candidate.overrides));
    result.changes = std::move(changes);
    report(candidate.source, result, candidate.origin);
    return result;
  }

  config::ConfigVersion entry;
  entry.set_version(static_cast<uint32_t>(version));
  auto now = std::chrono::system_clock::now().time_since_epoch();
  *entry.mutable_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  entry.set_source(changeSourceName(candidate.source));
  entry.set_origin(candidate.origin);
  entry.set_content_hash(hashText(hash));
  entry.set_rolled_back_to(static_cast<uint32_t>(candidate.rolled_back_to));
  for (const std::string& change : changes) {
    entry.add_changes(change);
  }
  *entry.mutable_configured() = std::move(candidate.configured);
  toProto(candidate.overrides, entry.mutable_weight_overrides());
  *entry.mutable_effective() = std::move(effective);
  history_.push_back(std::move(entry));
  while (history_.size() > kHistoryLimit) {
    history_.pop_front();
  }
  overrides_ = std::move(candidate.overrides);
  persist();

  result.changes = std::move(changes);
  report(candidate.source, result, candidate.origin);
  return result;
}

ChangeResult ConfigManager::refuse(ChangeSource source, ChangeOutcome outcome,
                                   std::vector<ConfigError> errors) {
  ChangeResult result;
  result.outcome = outcome;
  result.version = result.previous_version = last_version_;
  result.errors = std::move(errors);
  report(source, result, "");
  return result;
}

void ConfigManager::report(ChangeSource source, const ChangeResult& result,
                           const std::string& origin) {
  ++counts_[static_cast<size_t>(source)][static_cast<size_t>(result.outcome)];
  std::string from =
      std::string(changeSourceName(source)) + (origin.empty() ? "" : " (" + origin + ")");
  switch (result.outcome) {
    case ChangeOutcome::Applied:
      reporter_(false, "config version " + std::to_string(result.version) + " from " + from +
                           (result.changes.empty() ? "" : ": " + joinLines(result.changes)));
      return;
    case ChangeOutcome::Unchanged:
      reporter_(false, "config change from " + from + " leaves version " +
                           std::to_string(result.version) + " running unchanged" +
                           (result.changes.empty() ? "" : ": " + joinLines(result.changes)));
      return;
    case ChangeOutcome::Invalid:
    case ChangeOutcome::NotFound:
    case ChangeOutcome::Failed: {
      bool from_file = source == ChangeSource::File || source == ChangeSource::Signal;
      std::string errors =
          formatErrors(from_file ? config_path_ : changeSourceName(source), result.errors);
      if (!errors.empty()) {
        errors.pop_back();  // The log line ends it.
      }
      // Version 0 means nothing runs yet (start-up): there is nothing to keep.
      std::string kept = result.version == 0
                             ? "no version runs yet"
                             : "version " + std::to_string(result.version) + " keeps running";
      reporter_(true, std::string("config change from ") + changeSourceName(source) + " refused (" +
                          changeOutcomeName(result.outcome) + "), " + kept + ":\n" + errors);
      return;
    }
  }
}

void ConfigManager::restoreState(const std::string& state_dir) {
  if (state_dir.empty()) {
    return;
  }
  config::RuntimeState state;
  std::string error;
  if (!readStateFile(state_dir, &state, &error)) {
    reporter_(true, "starting without saved state: " + error);
    return;
  }
  last_version_ = state.last_version();
  overrides_ = fromProto(state.weight_overrides());
  for (const config::ConfigVersion& entry : state.history()) {
    history_.push_back(entry);
  }
  while (history_.size() > kHistoryLimit) {
    history_.pop_front();
  }
}

void ConfigManager::persist() {
  const std::string& state_dir = history_.back().effective().runtime().state_dir();
  if (state_dir.empty()) {
    return;
  }
  config::RuntimeState state;
  state.set_last_version(static_cast<uint32_t>(last_version_));
  toProto(overrides_, state.mutable_weight_overrides());
  for (const config::ConfigVersion& entry : history_) {
    *state.add_history() = entry;
  }
  std::string error;
  if (!writeStateFile(state_dir, state, &error)) {
    reporter_(true,
              "the state directory is not updated, a restart would lose this change: " + error);
  }
}

config::ConfigVersion ConfigManager::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return history_.empty() ? config::ConfigVersion() : history_.back();
}

config::ConfigHistory ConfigManager::history() const {
  std::lock_guard<std::mutex> lock(mutex_);
  config::ConfigHistory out;
  out.set_running_version(static_cast<uint32_t>(last_version_));
  for (const config::ConfigVersion& entry : history_) {
    config::ConfigVersion* copy = out.add_versions();
    *copy = entry;
    copy->clear_configured();
    copy->clear_effective();
  }
  return out;
}

uint64_t ConfigManager::runningVersion() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_version_;
}

ChangeCounts ConfigManager::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

std::string ConfigManager::stateDir() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return history_.empty() ? "" : history_.back().effective().runtime().state_dir();
}

}  // namespace turnout
