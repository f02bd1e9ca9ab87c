// The listeners the workers accept on, kept in step with the running config: a reload that
// adds, removes or moves a listener starts or stops it without touching the others.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "proxy/worker.h"

namespace turnout {

class ListenerSet {
 public:
  explicit ListenerSet(const std::vector<std::unique_ptr<Worker>>& workers) : workers_(workers) {}
  ~ListenerSet();

  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  // Binds one socket per worker (SO_REUSEPORT) for each listener of `snapshot` that is new
  // or has a new address. False with `*error` set, and nothing left bound, when one fails:
  // the caller then refuses the config. Control side, one change at a time.
  bool prepare(const Snapshot& snapshot, std::string* error);

  // After the snapshot is published: hands the new sockets to the workers and stops the
  // listeners that left. Workers that have not started yet pick the tasks up when they do.
  void commit();

  // Closes what prepare() bound (the change was refused after all).
  void abandon();

 private:
  struct Pending {
    std::string name;
    std::string address;   // As configured ("127.0.0.1:0" stays so).
    std::vector<int> fds;  // One per worker.
  };

  const std::vector<std::unique_ptr<Worker>>& workers_;
  std::map<std::string, std::string> running_;  // Listener name to configured address.
  std::vector<Pending> added_;
  std::vector<std::string> removed_;
};

}  // namespace turnout
