// Re-reads the config file when it, its directory or the directory behind its symlinks
// changes.
#include "proxy/config_watcher.h"

#include <limits.h>
#include <stdlib.h>

#include <string_view>

#include "proxy/log.h"

namespace turnout {
namespace {

// Events come in bursts (a rename is several; an editor writes in steps): the file is read
// once the directories have been quiet this long.
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

std::string fileNameOf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

}  // namespace

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::string config_path, std::function<void()> reload)
    : loop_(loop), config_path_(std::move(config_path)), reload_(std::move(reload)) {
  for (DirectoryWatch* watch : {&link_watch_, &target_watch_}) {
    watch->owner = this;
    uv_fs_event_init(loop_, &watch->handle);
    watch->handle.data = watch;
  }
  uv_timer_init(loop_, &settle_timer_);
  uv_timer_init(loop_, &poll_timer_);
  settle_timer_.data = this;
  poll_timer_.data = this;
}

void ConfigWatcher::start() {
  last_ = identify();
  watch(&link_watch_, config_path_, true);
  if (!last_.real_path.empty() && last_.real_path != config_path_) {
    watch(&target_watch_, last_.real_path, false);
  }
  uv_timer_start(&poll_timer_, &ConfigWatcher::onPoll, kPollMs, kPollMs);
}

void ConfigWatcher::watch(DirectoryWatch* watch, const std::string& path, bool kubernetes_entries) {
  std::string directory = directoryOf(path);
  if (watch->active && watch->directory == directory) {
    watch->file_name = fileNameOf(path);
    return;
  }
  if (watch->active) {
    uv_fs_event_stop(&watch->handle);
  }
  watch->directory = directory;
  watch->file_name = fileNameOf(path);
  watch->kubernetes_entries = kubernetes_entries;
  int status = uv_fs_event_start(&watch->handle, &ConfigWatcher::onEvent, directory.c_str(), 0);
  watch->active = status == 0;
  if (!watch->active) {
    TURNOUT_LOG(Warn, "config",
                "cannot watch " + directory + " (" + uv_strerror(status) +
                    "); the config file is checked every second instead");
  }
}

void ConfigWatcher::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&link_watch_.handle), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&target_watch_.handle), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&settle_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_timer_), nullptr);
}

void ConfigWatcher::onEvent(uv_fs_event_t* handle, const char* name, int, int status) {
  auto* watch = static_cast<DirectoryWatch*>(handle->data);
  if (status < 0) {
    return;
  }

  // Other files of the directory (logs, state) are no reason to read the config.
  std::string_view entry = name != nullptr ? name : "";
  bool relevant = name == nullptr || entry == watch->file_name ||
                  (watch->kubernetes_entries && entry.starts_with(".."));
  if (relevant) {
    uv_timer_start(&watch->owner->settle_timer_, &ConfigWatcher::onSettled, kSettleMs, 0);
  }
}

void ConfigWatcher::onSettled(uv_timer_t* timer) {
  static_cast<ConfigWatcher*>(timer->data)->check(true);
}

void ConfigWatcher::onPoll(uv_timer_t* timer) {
  static_cast<ConfigWatcher*>(timer->data)->check(false);
}

void ConfigWatcher::check(bool force) {
  Identity now = identify();
  if (!force && now == last_) {
    return;
  }
  last_ = now;

  // A swapped symlink points into another directory now: watch that one instead.
  if (!now.real_path.empty() && now.real_path != config_path_) {
    watch(&target_watch_, now.real_path, false);
  }
  reload_();
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
