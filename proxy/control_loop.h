// The control thread: one libuv loop, apart from the workers, that runs the admin API and
// the config file watch, so neither ever blocks a worker.
#pragma once

#include <uv.h>

#include <functional>
#include <thread>
#include <vector>

namespace turnout {

class ControlLoop {
 public:
  ControlLoop();
  ~ControlLoop();

  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // The loop. Handles may be set up on it from the constructing thread before start(),
  // and from the loop thread afterwards.
  uv_loop_t* loop() { return &loop_; }

  // `hook` runs on the loop thread when stop() is called; it closes the handles its owner
  // opened on the loop. Before start() only.
  void onStop(std::function<void()> hook);

  // Runs the loop on a new thread.
  void start();

  // Runs the stop hooks on the loop thread, waits for the loop to end and joins it. Any
  // thread but the loop's; safe to call twice.
  void stop();

 private:
  static void onStopSignal(uv_async_t* async);

  uv_loop_t loop_;
  uv_async_t stop_signal_;
  std::vector<std::function<void()>> stop_hooks_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace turnout
