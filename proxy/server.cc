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

int Server::run() {
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
    workers_.push_back(std::make_unique<Worker>(i, store_, access_log_, health_, &mirror_hub_));
  }

  // The first version: listeners bound (the workers accept once they run), the snapshot
  // published; then the admin API and the file watch, so a start that must fail does so
  // before any traffic.
  control_ = std::make_unique<ControlPlane>(options_.config_path, store_, workers_,
                                            mirror_hub_);
  if (!control_->loadInitial()) {
    return 1;
  }
  std::string error;
  if (!access_log_.open(store_.load()->access_log, &error)) {
    TURNOUT_LOG(Error, "server", error);
    return 1;
  }
  if (!control_->startControl()) {
    return 1;
  }
  for (auto& worker : workers_) {
    worker->start();
  }
  health_checker_ = std::make_unique<HealthChecker>(store_, health_);
  health_checker_->start();
  control_->markReady();
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
      control_->reloadOnSignal();
      continue;
    }
    TURNOUT_LOG(Info, "server", std::string("stopping on ") + strsignal(received));
    control_->markStopping();
    for (auto& worker : workers_) {
      worker->requestStop(options_.drain_timeout_ms);
    }
    for (auto& worker : workers_) {
      worker->join();
    }
    control_->stop();
    health_checker_->stop();
    TURNOUT_LOG(Info, "server", "stopped");
    return 0;
  }
}

}  // namespace turnout
