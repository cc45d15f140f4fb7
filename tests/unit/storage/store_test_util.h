// Helpers shared by the storage tests: temporary directories and a watch event sink.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "storage/store.h"

namespace skiff::storage {
// Test-only equality and printing, found by ADL from gtest's assertions.
inline bool operator==(const KeyValue& a, const KeyValue& b) {
  return a.key == b.key && a.value == b.value && a.createRevision == b.createRevision &&
         a.modRevision == b.modRevision;
}
inline void PrintTo(const KeyValue& kv, std::ostream* os) {
  *os << "{" << ::testing::PrintToString(kv.key) << ", " << ::testing::PrintToString(kv.value)
      << ", create=" << kv.createRevision << ", mod=" << kv.modRevision << "}";
}
}  // namespace skiff::storage

namespace skiff::storage::testing {

// A fresh directory under $TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-storage-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Collects every event a watch delivers; tests wait for a count with a deadline.
class EventSink {
 public:
  WatchCallback callback() {
    return [this](const std::vector<Event>& batch) {
      std::lock_guard lock(mu_);
      for (const auto& e : batch) events_.push_back(e);
      cv_.notify_all();
    };
  }

  // Waits until at least n events arrived (or 10 s passed) and returns all of them.
  std::vector<Event> waitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n; });
    return events_;
  }

  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

}  // namespace skiff::storage::testing
