#include "common/clock.h"

#include <algorithm>

namespace skiff {

namespace {

class RealClock final : public Clock {
 public:
  WallTime now() const override { return std::chrono::system_clock::now(); }
  MonoTime monotonic() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 MonoTime deadline) const override {
    cv.wait_until(lock, deadline);
  }
  std::shared_ptr<void> onAdvance(std::function<void()>) const override { return nullptr; }
};

}  // namespace

const Clock& realClock() {
  static const RealClock clock;
  return clock;
}

FakeClock::WallTime FakeClock::defaultStart() {
  // 2026-01-01T00:00:00Z: a round time makes schedules and timestamps in tests readable.
  return WallTime(std::chrono::seconds(1767225600));
}

// Monotonic time starts at an arbitrary non-zero point so code comparing with a default
// time_point (zero) sees a difference, as with the real steady clock.
FakeClock::FakeClock(WallTime start) : wall_(start), mono_(MonoTime(std::chrono::hours(1000))) {}

FakeClock::WallTime FakeClock::now() const {
  std::lock_guard lock(mu_);
  return wall_;
}

FakeClock::MonoTime FakeClock::monotonic() const {
  std::lock_guard lock(mu_);
  return mono_;
}

void FakeClock::waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          MonoTime) const {
  // Time moves only in step(); its listeners notify whoever waits for a deadline.
  cv.wait(lock);
}

std::shared_ptr<void> FakeClock::onAdvance(std::function<void()> fn) const {
  auto l = std::make_shared<Listener>(Listener{std::move(fn)});
  std::lock_guard lock(mu_);
  listeners_.push_back(l);
  return l;
}

void FakeClock::step(std::chrono::milliseconds d) {
  if (d <= std::chrono::milliseconds(0)) return;
  {
    std::lock_guard lock(mu_);
    wall_ += d;
    mono_ += d;
  }
  notifyListeners();
}

void FakeClock::set(WallTime t) {
  {
    std::lock_guard lock(mu_);
    if (t > wall_) mono_ += t - wall_;
    wall_ = t;
  }
  notifyListeners();
}

void FakeClock::notifyListeners() {
  std::vector<std::shared_ptr<Listener>> live;
  {
    std::lock_guard lock(mu_);
    std::erase_if(listeners_, [](const auto& w) { return w.expired(); });
    for (auto& w : listeners_)
      if (auto l = w.lock()) live.push_back(std::move(l));
  }
  // Outside mu_: a listener reads now() (and takes its own locks).
  for (auto& l : live) l->fn();
}

}  // namespace skiff
