// BackgroundCompactor: the periodic compaction every store runs (upstream's API server asks
// etcd to compact every 5 minutes; without it every version of every key is kept forever and
// a busy cluster's store grows without bound).
//
// Every `policy.interval` it compacts to the newest revision that was already committed
// `policy.retention` ago, so watchers and paginated lists always have at least `retention` of
// history to resume from. Revision/time samples are kept in memory only: after a restart the
// first compaction waits a full retention period.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "storage/store.h"

namespace skiff::storage {

class BackgroundCompactor {
 public:
  // Starts the thread unless policy.interval is zero. `store` must outlive this object;
  // `name` only labels the log lines.
  BackgroundCompactor(Store& store, CompactionPolicy policy, std::string name);
  ~BackgroundCompactor();  // stops and joins

  BackgroundCompactor(const BackgroundCompactor&) = delete;
  BackgroundCompactor& operator=(const BackgroundCompactor&) = delete;

 private:
  void run();

  Store& store_;
  const CompactionPolicy policy_;
  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace skiff::storage
