// Re-reads the config file when it or its directory changes.
#include "proxy/config_watcher.h"

#include <limits.h>
#include <stdlib.h>

#include "proxy/log.h"

namespace turnout {
namespace {

// Events come in bursts (a rename is several; an editor writes in steps): the file is read
// once the directory has been quiet this long.
constexpr uint64_t kSettleMs = 20;

// The fallback check of the file's identity.
constexpr uint64_t kPollMs = 1000;

std::string directoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::string config_path, std::function<void()> reload)
    : loop_(loop),
      config_path_(std::move(config_path)),
      directory_(directoryOf(config_path_)),
      file_name_(config_path_.substr(config_path_.rfind('/') + 1)),
      reload_(std::move(reload)) {
  uv_fs_event_init(loop_, &event_);
  uv_timer_init(loop_, &settle_timer_);
  uv_timer_init(loop_, &poll_timer_);
  event_.data = this;
  settle_timer_.data = this;
  poll_timer_.data = this;
}

void ConfigWatcher::start() {
  last_ = identify();
  int status = uv_fs_event_start(&event_, &ConfigWatcher::onEvent, directory_.c_str(), 0);
  watching_ = status == 0;
  if (!watching_) {
    TURNOUT_LOG(Warn, "config",
                "cannot watch " + directory_ + " (" + uv_strerror(status) +
                    "); the config file is checked every second instead");
  }
  uv_timer_start(&poll_timer_, &ConfigWatcher::onPoll, kPollMs, kPollMs);
}

void ConfigWatcher::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&event_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&settle_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_timer_), nullptr);
}

void ConfigWatcher::onEvent(uv_fs_event_t* handle, const char* name, int, int status) {
  auto* self = static_cast<ConfigWatcher*>(handle->data);
  if (status < 0) {
    return;
  }

  // The file itself, or one of Kubernetes' "..data" and "..2024_..." entries. Other files
  // of the directory (logs, state) are no reason to read the config; a change behind a
  // symlink that points elsewhere is caught by the periodic check.
  std::string_view entry = name != nullptr ? name : "";
  if (name != nullptr && entry != self->file_name_ && !entry.starts_with("..")) {
    return;
  }
  uv_timer_start(&self->settle_timer_, &ConfigWatcher::onSettled, kSettleMs, 0);
}

void ConfigWatcher::onSettled(uv_timer_t* timer) {
  auto* self = static_cast<ConfigWatcher*>(timer->data);
  self->last_ = self->identify();
  self->reload_();
}

void ConfigWatcher::onPoll(uv_timer_t* timer) {
  auto* self = static_cast<ConfigWatcher*>(timer->data);
  Identity now = self->identify();
  if (now == self->last_) {
    return;
  }
  self->last_ = now;
  self->reload_();
}

ConfigWatcher::Identity ConfigWatcher::identify() const {
  Identity identity;
  char resolved[PATH_MAX];
  if (realpath(config_path_.c_str(), resolved) != nullptr) {
    identity.real_path = resolved;
  }
  struct stat info {};
  if (stat(config_path_.c_str(), &info) == 0) {
    identity.inode = info.st_ino;
    identity.device = info.st_dev;
    identity.size = info.st_size;
    identity.mtime_ns =
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  }
  return identity;
}

}  // namespace turnout
