// The config manager, the listener set, the admin API and the file watch, wired together.
#include "proxy/control_plane.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/address.h"
#include "config/runtime_rules.h"
#include "proxy/log.h"

namespace turnout {
namespace {

bool isLoopback(const SocketAddress& address) {
  if (address.storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
}

std::string trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  size_t end = text.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// The bearer token the config names, "" when it names none. False with `*error` when it
// names one that cannot be had: starting without it would open the API to anyone.
bool readToken(const config::Admin& admin, std::string* token, std::string* error) {
  if (!admin.bearer_token_file().empty()) {
    std::ifstream file(admin.bearer_token_file(), std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    *token = trimmed(text.str());
    if (!file || token->empty()) {
      *error =
          "admin.bearer_token_file " + admin.bearer_token_file() + " cannot be read or is empty";
      return false;
    }
    return true;
  }
  if (!admin.bearer_token_env().empty()) {
    const char* value = std::getenv(admin.bearer_token_env().c_str());
    *token = value != nullptr ? trimmed(value) : "";
    if (token->empty()) {
      *error =
          "admin.bearer_token_env names " + admin.bearer_token_env() + ", which is unset or empty";
      return false;
    }
  }
  return true;
}

void reportChange(bool error, const std::string& line) {
  if (error) {
    TURNOUT_LOG(Error, "config", line);
  } else {
    TURNOUT_LOG(Info, "config", line);
  }
}

}  // namespace

ControlPlane::ControlPlane(const std::string& config_path, SnapshotStore& store,
                           const std::vector<std::unique_ptr<Worker>>& workers,
                           MirrorHub& mirror_hub)
    : config_path_(config_path),
      store_(store),
      workers_(workers),
      listeners_(workers),
      mirror_hub_(mirror_hub) {
  auto publish = [this](std::shared_ptr<Snapshot> snapshot, std::string* error) {
    return putIntoService(std::move(snapshot), error);
  };
  manager_ = std::make_unique<ConfigManager>(config_path, publish, &reportChange);
  control_loop_ = std::make_unique<ControlLoop>();
}

ControlPlane::~ControlPlane() {
  stop();
}

bool ControlPlane::loadInitial() {
  ChangeResult result = manager_->start();
  if (!result.ok()) {
    TURNOUT_LOG(Error, "config", "not starting: the config above is refused");
    return false;
  }
  return true;
}

bool ControlPlane::putIntoService(std::shared_ptr<Snapshot> snapshot, std::string* error) {
  // Rows for the request counters first: the snapshot is immutable once published.
  stats_slots_.assign(snapshot.get());
  mirror_hub_.prepare(snapshot.get());
  if (!listeners_.prepare(*snapshot, error)) {
    return false;
  }
  store_.publish(std::move(snapshot));
  listeners_.commit();
  return true;
}

bool ControlPlane::startControl() {
  config::ConfigVersion running = manager_->running();
  if (!openAdmin(running.effective().admin())) {
    return false;
  }
  if (!running.effective().runtime().file_watch_disabled()) {
    watcher_ = std::make_unique<ConfigWatcher>(
        control_loop_->loop(), config_path_, [this] { manager_->reloadFile(ChangeSource::File); });
    watcher_->start();
    ConfigWatcher* watcher = watcher_.get();
    control_loop_->onStop([watcher] { watcher->close(); });
  }
  control_loop_->start();
  return true;
}

bool ControlPlane::openAdmin(const config::Admin& admin) {
  if (admin.disabled()) {
    TURNOUT_LOG(Info, "admin", "admin API disabled by the config");
    return true;
  }
  bool chosen = !admin.address().empty();
  std::string reason;
  std::optional<SocketAddress> address =
      parseSocketAddress(chosen ? admin.address() : kDefaultAdminAddress, &reason);
  std::string token;
  std::string error;
  if (!address || !readToken(admin, &token, &error)) {
    TURNOUT_LOG(Error, "admin", address ? error : "admin.address: " + reason);
    return false;
  }
  if (!isLoopback(*address) && token.empty() && !admin.allow_non_loopback()) {
    TURNOUT_LOG(Error, "admin",
                "refusing to open the admin API on " + address->text +
                    " without a bearer token: set admin.bearer_token_file or "
                    "admin.bearer_token_env, or admin.allow_non_loopback: true");
    return false;
  }

  AdminApiOptions options;
  options.manager = manager_.get();
  options.token = token;
  options.request_stats = [this] { return requestStats(); };
  options.diffs = [this] { return mirror_hub_.diffs.renderJson(); };
  options.ready = [this] { return ready_.load(); };
  admin_api_ = std::make_unique<AdminApi>(std::move(options));
  admin_server_ = std::make_unique<AdminServer>(control_loop_->loop(), *admin_api_);
  AdminServer* server = admin_server_.get();
  control_loop_->onStop([server] { server->close(); });

  // The default port may be taken by another turnout on the same host; that one keeps
  // it. An address the config asks for must be had.
  if (!admin_server_->listen(*address, &error)) {
    if (chosen) {
      TURNOUT_LOG(Error, "admin", error);
      return false;
    }
    TURNOUT_LOG(Warn, "admin", error + "; running without an admin API (set admin.address)");
    return true;
  }
  TURNOUT_LOG(Info, "admin",
              "admin API on " + admin_server_->address().text +
                  (token.empty() ? "" : " (bearer token required)"));
  return true;
}

void ControlPlane::reloadOnSignal() {
  manager_->reloadFile(ChangeSource::Signal);
}

void ControlPlane::stop() {
  ready_.store(false);
  control_loop_->stop();
}

std::string ControlPlane::requestStats() const {
  std::vector<const RequestCounters*> counters;
  std::vector<const LatencyCounters*> latency;
  std::vector<const PoolGauges*> pools;
  std::vector<const MirrorCounters*> mirror_counters;
  for (const auto& worker : workers_) {
    counters.push_back(&worker->counters());
    latency.push_back(&worker->latency());
    pools.push_back(&worker->poolGauges());
    mirror_counters.push_back(&worker->mirrorCounters());
  }
  SnapshotPtr running = store_.load();
  return renderRequestCounters(stats_slots_, counters) + renderLatency(stats_slots_, latency) +
         renderPools(pools) + (running != nullptr ? renderSplits(*running, counters) : "") +
         renderMirrorStats(mirror_hub_, mirror_counters);
}

}  // namespace turnout
