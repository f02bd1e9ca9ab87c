// A one-shot libuv timer whose deadline can move on every request at almost no cost.
//
// A connection moves its deadline on nearly every request, and nearly always later (the
// idle timeout starts again, a response timeout follows a connect timeout). Here a later
// deadline, or none, is only recorded: the libuv timer still fires at the earlier time,
// finds that the deadline moved, and is armed again for what remains. Only an earlier
// deadline touches libuv's timer heap, so a busy connection spares a heap removal and an
// insertion per request and pays one early wake-up per timeout period instead.
//
// `Callback` is the owner's timer callback. It must begin with
// `if (!timer.reached()) return;`. The handle's data pointer is the owner's; the owner
// closes the handle. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <limits>

namespace turnout {

template <uv_timer_cb Callback>
class DeadlineTimer {
 public:
  void init(uv_loop_t* loop, void* owner) {
    uv_timer_init(loop, &timer_);
    timer_.data = owner;
  }

  // The deadline becomes `delay_ms` from the loop's current time.
  void arm(uint64_t delay_ms) {
    due_ms_ = uv_now(timer_.loop) + delay_ms;
    bool fires_in_time = uv_is_active(handle()) != 0 && uv_timer_get_due_in(&timer_) <= delay_ms;
    if (!fires_in_time) {
      uv_timer_start(&timer_, Callback, delay_ms, 0);
    }
  }

  // No deadline. If the libuv timer is armed it still fires once, and reached() says no.
  void cancel() { due_ms_ = kNever; }

  // In the callback: true when the deadline has come (it is then cleared); false when it
  // was cancelled or moved later, in which case the timer is armed again as needed.
  bool reached() {
    if (due_ms_ == kNever) {
      return false;
    }
    uint64_t now = uv_now(timer_.loop);
    if (now < due_ms_) {
      uv_timer_start(&timer_, Callback, due_ms_ - now, 0);
      return false;
    }
    due_ms_ = kNever;
    return true;
  }

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }

 private:
  static constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

  uv_timer_t timer_;
  uint64_t due_ms_ = kNever;
};

}  // namespace turnout
