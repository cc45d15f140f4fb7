// WatchHub: watch fan-out shared by the store backends.
//
// Ordering contract: a backend calls publish() once per committed batch of writes, in
// revision order, after the writes are durable. A watch is created in two phases so that
// replayed history and live events meet without a gap or a duplicate:
//   1. add() registers the watcher under the hub lock and returns `liveAfter`, the newest
//      published revision. Every event with a higher revision will be queued for it.
//   2. The backend reads history for [fromRevision, liveAfter] and calls start(history).
// Live events queued between 1 and 2 are held back and delivered after the history.
//
// Delivery (WatchDelivery in store.h):
// - Queued: each watch owns one delivery thread and an unbounded queue. publish() only
//   appends to the queues of matching watchers, so a slow callback never stalls writers; it
//   only delays its own watch. All events pending for a watch are delivered in one callback
//   call (consecutive revisions, in order).
// - Inline: publish() calls the callback itself, under the hub lock, so inline callbacks see
//   revisions in order and never concurrently. The API server's watch cache, the store's one
//   permanent watcher, is inline: a write then costs no thread hop before its watchers hear.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/key_range.h"
#include "storage/store.h"

namespace skiff::storage {

class WatchHub;
struct WatcherState;

// The Watch handed to callers. Destroying it unregisters the watcher and joins its delivery
// thread, so the callback never runs after the destructor returns. Destroying a queued watch
// from inside its own callback is allowed (the thread then exits right after the callback
// returns); an inline one must not be (its callback runs under the hub lock).
class HubWatch : public Watch {
 public:
  HubWatch(std::shared_ptr<WatchHub> hub, uint64_t id, std::shared_ptr<WatcherState> state);
  ~HubWatch() override;
  HubWatch(const HubWatch&) = delete;
  HubWatch& operator=(const HubWatch&) = delete;

  // Phase 2: deliver `history` (revisions in [fromRevision, liveAfter], in order; events
  // outside the watch range are dropped) and then the live events. Call exactly once.
  void start(std::vector<Event> history);

 private:
  std::shared_ptr<WatchHub> hub_;
  uint64_t id_;
  std::shared_ptr<WatcherState> state_;
  std::thread thread_;
};

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  // `publishedRevision`: the store revision when the hub is created (all of it is durable).
  static std::shared_ptr<WatchHub> create(int64_t publishedRevision);

  struct Registration {
    std::unique_ptr<HubWatch> watch;
    int64_t fromRevision = 0;  // resolved: 0 became liveAfter + 1
    int64_t liveAfter = 0;     // history must cover [fromRevision, liveAfter]
  };
  // Phase 1. fromRevision 0 means "after the newest published revision".
  Registration add(KeyRange range, int64_t fromRevision, WatchCallback callback,
                   WatchDelivery delivery = WatchDelivery::Queued);

  // Events of one or more consecutive committed revisions, in order. Queues them for queued
  // watchers and runs the inline ones' callbacks.
  void publish(const std::vector<Event>& events);

  int64_t publishedRevision();

 private:
  explicit WatchHub(int64_t publishedRevision) : published_(publishedRevision) {}
  friend class HubWatch;
  void remove(uint64_t id);

  std::mutex mu_;
  int64_t published_;
  uint64_t nextId_ = 1;
  std::map<uint64_t, std::shared_ptr<WatcherState>> watchers_;
};

}  // namespace skiff::storage
