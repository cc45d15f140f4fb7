// Clock: the time a component reads, injectable so tests can move it (upstream's
// k8s.io/utils/clock). Production code takes `realClock()`; tests pass a FakeClock and
// step() it instead of sleeping.
//
// Two readings, because callers need both: now() is wall time (what is written into and
// compared with objects: timestamps, deadlines, schedules), monotonic() measures intervals
// inside the process (backoffs, grace periods since a local observation) and never jumps.
// A FakeClock moves both together.
//
// Waiting: a thread that waits for a time (a work queue's delayed adds) calls waitUntil();
// the real clock waits on the condition variable until the deadline, a fake one waits until
// notified, and step()/set() call every onAdvance() listener synchronously first, so what
// became due is already done when step() returns (no race with a timer thread in tests).
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace skiff {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual WallTime now() const = 0;
  virtual MonoTime monotonic() const = 0;
  // Waits on `cv` (with `lock` held) until monotonic() reaches `deadline` or a notify.
  virtual void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         MonoTime deadline) const = 0;
  // Calls `fn` each time the clock jumps forward (only fakes jump); the listener stays
  // registered while the returned handle lives. The real clock returns an empty handle.
  virtual std::shared_ptr<void> onAdvance(std::function<void()> fn) const = 0;
};

// The process's clock: system_clock and steady_clock.
const Clock& realClock();

// A clock that stands still until the test moves it. Starts at a fixed, round wall time
// (2026-01-01T00:00:00Z) unless given one. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(WallTime start = defaultStart());
  WallTime now() const override;
  MonoTime monotonic() const override;
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 MonoTime deadline) const override;
  std::shared_ptr<void> onAdvance(std::function<void()> fn) const override;

  // Moves both readings forward by `d` (negative steps are refused: monotonic time never
  // goes back), then runs the listeners (delayed work-queue adds that became due).
  void step(std::chrono::milliseconds d);
  // Sets the wall time; monotonic time moves by the same amount when that is forward.
  void set(WallTime t);

  static WallTime defaultStart();

 private:
  void notifyListeners();

  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_;
  struct Listener {
    std::function<void()> fn;
  };
  mutable std::vector<std::weak_ptr<Listener>> listeners_;
};

}  // namespace skiff
