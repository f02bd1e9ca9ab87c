// Re-reads the config file when it changes. Two directory watches: the directory of the
// path as given (it sees the symlink swap Kubernetes makes when a mounted ConfigMap is
// updated: "..data" is replaced, the file itself is never written) and the directory of
// the file the path resolves to (it sees the file written in place behind a symlink);
// plus a cheap periodic check of the file's identity, for file systems whose events do
// not arrive. Control loop only.
#pragma once

#include <sys/stat.h>
#include <uv.h>

#include <functional>
#include <string>

namespace turnout {

class ConfigWatcher {
 public:
  // `reload` is called on the control loop when the file may have changed; it reads the
  // file and applies it when its bytes differ from the last ones read.
  ConfigWatcher(uv_loop_t* loop, std::string config_path, std::function<void()> reload);

  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Starts the watches and the periodic check. Before the loop runs or on it. A directory
  // that cannot be watched leaves the periodic check alone (logged).
  void start();

  // Closes the handles. Loop thread; the watcher must outlive the loop's last turn.
  void close();

 private:
  // What identifies the file's content without reading it: the target of the symlinks,
  // its inode, size and modification time.
  struct Identity {
    std::string real_path;
    ino_t inode = 0;
    dev_t device = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;

    bool operator==(const Identity& other) const = default;
  };

  // One watched directory and the entries in it that matter.
  struct DirectoryWatch {
    ConfigWatcher* owner = nullptr;
    uv_fs_event_t handle;
    std::string directory;
    std::string file_name;
    bool kubernetes_entries = false;  // Also "..data" and "..<timestamp>" entries.
    bool active = false;
  };

  static void onEvent(uv_fs_event_t* handle, const char* name, int events, int status);
  static void onSettled(uv_timer_t* timer);
  static void onPoll(uv_timer_t* timer);

  void watch(DirectoryWatch* watch, const std::string& path, bool kubernetes_entries);
  void check(bool force);
  Identity identify() const;

  uv_loop_t* loop_;
  std::string config_path_;
  std::function<void()> reload_;
  DirectoryWatch link_watch_;
  DirectoryWatch target_watch_;
  uv_timer_t settle_timer_;
  uv_timer_t poll_timer_;
  Identity last_;
};

}  // namespace turnout
