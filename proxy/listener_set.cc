// Starts and stops listeners as the running config changes.
#include "proxy/listener_set.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/address.h"
#include "proxy/log.h"

namespace turnout {
namespace {

// A socket bound to `address` with SO_REUSEPORT, so that each worker can have its own
// and the kernel spreads new connections over them. -1 with `*error` set on failure.
int bindReusePort(const SocketAddress& address, std::string* error) {
  int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  if (address.storage.ss_family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  }
  if (bind(fd, address.sockaddrPtr(), address.length) != 0) {
    *error = std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// One socket per worker. Port 0 takes a free port for the first socket; the others bind
// that one. False with `*error` set (and nothing left open) on failure.
bool bindForWorkers(const ListenerDef& listener, size_t workers, std::vector<int>* fds,
                    std::string* error) {
  SocketAddress address = listener.address;
  for (size_t i = 0; i < workers; ++i) {
    int fd = bindReusePort(address, error);
    if (fd < 0) {
      *error = "binding listener " + listener.name + " to " + address.text + ": " + *error;
      for (int open_fd : *fds) {
        close(open_fd);
      }
      fds->clear();
      return false;
    }
    if (i == 0) {
      sockaddr_storage bound{};
      socklen_t length = sizeof(bound);
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
      address = socketAddressFrom(reinterpret_cast<sockaddr*>(&bound), length);
    }
    fds->push_back(fd);
  }
  TURNOUT_LOG(Info, "server", "listener " + listener.name + " on " + address.text);
  return true;
}

}  // namespace

ListenerSet::~ListenerSet() {
  abandon();
}

bool ListenerSet::prepare(const Snapshot& snapshot, std::string* error) {
  abandon();
  std::map<std::string, std::string> next;
  for (const ListenerDef& listener : snapshot.listeners) {
    next[listener.name] = listener.address.text;
    auto found = running_.find(listener.name);
    if (found != running_.end() && found->second == listener.address.text) {
      continue;
    }
    Pending pending{listener.name, listener.address.text, {}};
    if (!bindForWorkers(listener, workers_.size(), &pending.fds, error)) {
      abandon();
      return false;
    }
    added_.push_back(std::move(pending));
  }

  // A listener that moved is stopped and started again under the same name.
  for (const auto& [name, address] : running_) {
    auto found = next.find(name);
    if (found == next.end() || found->second != address) {
      removed_.push_back(name);
    }
  }
  return true;
}

void ListenerSet::commit() {
  for (const std::string& name : removed_) {
    for (const auto& worker : workers_) {
      Worker* target = worker.get();
      target->post([target, name] { target->stopListener(name); });
    }
    running_.erase(name);
    TURNOUT_LOG(Info, "server", "listener " + name + " stopped");
  }
  for (Pending& pending : added_) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker* target = workers_[i].get();
      int fd = pending.fds[i];
      std::string name = pending.name;
      target->post([target, name, fd] { target->startListener(name, fd); });
    }
    running_[pending.name] = pending.address;
  }
  added_.clear();
  removed_.clear();
}

void ListenerSet::abandon() {
  for (const Pending& pending : added_) {
    for (int fd : pending.fds) {
      close(fd);
    }
  }
  added_.clear();
  removed_.clear();
}

}  // namespace turnout
