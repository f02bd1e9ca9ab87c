// The control thread's loop, for the admin API and the config file watch.
#include "proxy/control_loop.h"

namespace turnout {

ControlLoop::ControlLoop() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &stop_signal_, &ControlLoop::onStopSignal);
  stop_signal_.data = this;
}

ControlLoop::~ControlLoop() {
  stop();

  // A loop that never ran still holds the handles its owners set up: run the hooks and
  // let the loop turn once so that every close callback fires before the memory goes.
  if (!started_) {
    onStopSignal(&stop_signal_);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
}

void ControlLoop::onStop(std::function<void()> hook) {
  stop_hooks_.push_back(std::move(hook));
}

void ControlLoop::start() {
  started_ = true;
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

void ControlLoop::stop() {
  if (thread_.joinable()) {
    uv_async_send(&stop_signal_);
    thread_.join();
  }
}

void ControlLoop::onStopSignal(uv_async_t* async) {
  auto* self = static_cast<ControlLoop*>(async->data);
  for (auto& hook : self->stop_hooks_) {
    hook();
  }
  self->stop_hooks_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_signal_), nullptr);
}

}  // namespace turnout
