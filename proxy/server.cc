// The process: config, listeners, workers and signals.
#include "proxy/server.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "config/address.h"
#include "config/loader.h"
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

}  // namespace

bool Server::bindListeners(const Snapshot& snapshot, int workers) {
  for (const ListenerDef& listener : snapshot.listeners) {
    // Port 0 takes a free port for the first socket; the other workers bind that one.
    SocketAddress address = listener.address;
    for (int i = 0; i < workers; ++i) {
      std::string error;
      int fd = bindReusePort(address, &error);
      if (fd < 0) {
        TURNOUT_LOG(Error, "server",
                    "binding listener " + listener.name + " to " + address.text + ": " + error);
        return false;
      }
      if (i == 0) {
        sockaddr_storage bound{};
        socklen_t length = sizeof(bound);
        getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
        address = socketAddressFrom(reinterpret_cast<sockaddr*>(&bound), length);
      }
      workers_[i]->addListener(listener.name, fd);
    }
    TURNOUT_LOG(Info, "server", "listener " + listener.name + " on " + address.text);
  }
  return true;
}

int Server::run() {
  LoadResult loaded = loadConfigFile(options_.config_path);
  if (!loaded.errors.empty()) {
    std::string message = formatErrors(options_.config_path, loaded.errors);
    TURNOUT_LOG(Error, "config", "invalid config, not starting:\n" + message);
    return 1;
  }
  std::string error;
  if (!access_log_.open(loaded.snapshot->access_log, &error)) {
    TURNOUT_LOG(Error, "server", error);
    return 1;
  }
  store_.publish(loaded.snapshot);

  int workers = options_.workers > 0 ? options_.workers
                                     : static_cast<int>(std::thread::hardware_concurrency());
  workers = workers > 0 ? workers : 1;

  // Workers inherit this mask: only the main thread takes the control signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, store_, access_log_));
  }
  if (!bindListeners(*loaded.snapshot, workers)) {
    return 1;
  }
  for (auto& worker : workers_) {
    worker->start();
  }
  TURNOUT_LOG(Info, "server",
              "serving " + options_.config_path + " with " + std::to_string(workers) + " workers");
  return waitForSignals();
}

int Server::waitForSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  while (true) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) {
      continue;
    }
    if (received == SIGHUP) {
      reload();
      continue;
    }
    TURNOUT_LOG(Info, "server", std::string("stopping on ") + strsignal(received));
    for (auto& worker : workers_) {
      worker->requestStop(options_.drain_timeout_ms);
    }
    for (auto& worker : workers_) {
      worker->join();
    }
    TURNOUT_LOG(Info, "server", "stopped");
    return 0;
  }
}

void Server::reload() {
  LoadResult loaded = loadConfigFile(options_.config_path);
  if (!loaded.errors.empty()) {
    TURNOUT_LOG(Error, "config",
                "reload rejected, the running config stays:\n" +
                    formatErrors(options_.config_path, loaded.errors));
    return;
  }

  // Listeners are bound at start-up only: a reload changes routes and clusters, and a
  // listener that was added or moved waits for a restart.
  SnapshotPtr running = store_.load();
  bool same_listeners = running->listeners.size() == loaded.snapshot->listeners.size();
  for (size_t i = 0; same_listeners && i < running->listeners.size(); ++i) {
    same_listeners = running->listeners[i].name == loaded.snapshot->listeners[i].name &&
                     running->listeners[i].address.text ==
                         loaded.snapshot->listeners[i].address.text;
  }
  if (!same_listeners) {
    TURNOUT_LOG(Warn, "config",
                "reload changes listeners; they take effect after a restart, routes now");
  }
  store_.publish(loaded.snapshot);
  TURNOUT_LOG(Info, "config", "reloaded " + options_.config_path);
}

}  // namespace turnout
