#include "storage/watch_hub.h"

#include <algorithm>
#include <condition_variable>
#include <exception>

#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::storage {

// Shared between the hub (which queues events), the HubWatch (which stops it) and the
// delivery thread; the thread keeps it alive when the watch is destroyed from its callback.
struct WatcherState {
  KeyRange range;
  int64_t fromRevision = 0;
  WatchCallback callback;
  WatchDelivery delivery = WatchDelivery::Queued;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<Event> pending;  // live events not yet delivered (held back until started)
  bool started = false;
  bool stopped = false;

  bool wants(const Event& e) const {
    return e.kv.modRevision >= fromRevision && range.contains(e.kv.key);
  }
};

namespace {

// Runs the callback; false when it threw, which stops the watch: a consumer that failed
// cannot be trusted to have seen the events, so it stops rather than silently skip them.
bool deliver(WatcherState& st, const std::vector<Event>& batch) {
  try {
    st.callback(batch);
    return true;
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("storage watch callback threw, watch stopped: range_begin={} error={}",
                    st.range.begin, e.what());
    return false;
  }
}

void deliveryLoop(const std::shared_ptr<WatcherState>& st) {
  std::vector<Event> batch;
  for (;;) {
    {
      std::unique_lock lock(st->mu);
      st->cv.wait(lock, [&] { return st->stopped || !st->pending.empty(); });
      if (st->stopped) return;
      batch.swap(st->pending);
    }
    if (!deliver(*st, batch)) {
      std::lock_guard lock(st->mu);
      st->stopped = true;
      return;
    }
    batch.clear();
  }
}

}  // namespace

std::shared_ptr<WatchHub> WatchHub::create(int64_t publishedRevision) {
  return std::shared_ptr<WatchHub>(new WatchHub(publishedRevision));
}

WatchHub::Registration WatchHub::add(KeyRange range, int64_t fromRevision, WatchCallback callback,
                                     WatchDelivery delivery) {
  auto st = std::make_shared<WatcherState>();
  st->range = std::move(range);
  st->callback = std::move(callback);
  st->delivery = delivery;
  std::lock_guard lock(mu_);
  st->fromRevision = fromRevision == 0 ? published_ + 1 : fromRevision;
  uint64_t id = nextId_++;
  watchers_.emplace(id, st);
  Registration reg;
  reg.fromRevision = st->fromRevision;
  reg.liveAfter = published_;
  reg.watch = std::make_unique<HubWatch>(shared_from_this(), id, std::move(st));
  return reg;
}

void WatchHub::publish(const std::vector<Event>& events) {
  if (events.empty()) return;
  std::lock_guard lock(mu_);
  published_ = events.back().kv.modRevision;
  std::vector<Event> wanted;
  for (auto& [id, st] : watchers_) {
    std::lock_guard wlock(st->mu);
    if (st->stopped) continue;
    if (st->delivery == WatchDelivery::Inline && st->started) {
      const bool all =
          std::all_of(events.begin(), events.end(), [&](const Event& e) { return st->wants(e); });
      if (!all) {
        wanted.clear();
        for (const Event& e : events)
          if (st->wants(e)) wanted.push_back(e);
      }
      if ((all || !wanted.empty()) && !deliver(*st, all ? events : wanted)) st->stopped = true;
      continue;
    }
    bool any = false;
    for (const Event& e : events) {
      if (!st->wants(e)) continue;
      st->pending.push_back(e);
      any = true;
    }
    // Before start() the thread does not exist; the events wait for the history.
    if (any && st->started) st->cv.notify_one();
  }
}

int64_t WatchHub::publishedRevision() {
  std::lock_guard lock(mu_);
  return published_;
}

void WatchHub::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

HubWatch::HubWatch(std::shared_ptr<WatchHub> hub, uint64_t id, std::shared_ptr<WatcherState> state)
    : hub_(std::move(hub)), id_(id), state_(std::move(state)) {}

void HubWatch::start(std::vector<Event> history) {
  {
    std::lock_guard lock(state_->mu);
    std::vector<Event> merged;
    merged.reserve(history.size() + state_->pending.size());
    for (Event& e : history) {
      if (state_->wants(e)) merged.push_back(std::move(e));
    }
    for (Event& e : state_->pending) merged.push_back(std::move(e));
    state_->pending.clear();
    state_->started = true;
    if (state_->delivery == WatchDelivery::Inline) {
      // Under the watcher's lock: a publish racing with this waits, so history comes first.
      if (!merged.empty() && !deliver(*state_, merged)) state_->stopped = true;
      return;
    }
    state_->pending = std::move(merged);
  }
  thread_ = namedThread("watch-hub", [st = state_] { deliveryLoop(st); });
}

HubWatch::~HubWatch() {
  hub_->remove(id_);
  {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
  }
  state_->cv.notify_all();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // destroyed from its own callback: the loop sees `stopped` and exits
  } else {
    thread_.join();
  }
}

}  // namespace skiff::storage
