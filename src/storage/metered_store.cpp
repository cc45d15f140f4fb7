#include "storage/metered_store.h"

#include <chrono>

#include "common/metrics.h"

namespace skiff::storage {

namespace {

constexpr const char* kName = "etcd_request_duration_seconds";

const std::vector<double>& buckets() {
  static const std::vector<double> b = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,
                                        1.0,   1.25,  1.5,  2,   3,   4,   5,   6,
                                        8,     10,    15,   20,  30,  45,  60};
  return b;
}

class Timer {
 public:
  Timer(const char* operation, std::string_view key)
      : operation_(operation), type_(resourceOfKey(key)) {}
  ~Timer() {
    if (type_.empty()) return;
    Metrics::global().observe(
        kName, {{"operation", operation_}, {"type", type_}},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
        buckets());
  }

 private:
  const char* operation_;
  std::string type_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

class MeteredStore : public Store {
 public:
  explicit MeteredStore(StorePtr inner) : inner_(std::move(inner)) {
    Metrics::global().describe(
        kName, "histogram",
        "Seconds each storage request took (skiff's store: SQLite or memory, not etcd), "
        "by operation and resource type.");
  }
  int64_t currentRevision() override { return inner_->currentRevision(); }
  int64_t compactedRevision() override { return inner_->compactedRevision(); }
  std::optional<KeyValue> get(std::string_view key, int64_t revision) override {
    Timer t("get", key);
    return inner_->get(key, revision);
  }
  RangeResult range(std::string_view key, std::string_view rangeEnd, int64_t limit,
                    int64_t revision) override {
    Timer t("list", key);
    return inner_->range(key, rangeEnd, limit, revision);
  }
  WriteResult create(std::string_view key, std::string_view value, WriteHintPtr hint) override {
    Timer t("create", key);
    return inner_->create(key, value, std::move(hint));
  }
  WriteResult update(std::string_view key, std::string_view value, int64_t expectedModRevision,
                     WriteHintPtr hint) override {
    Timer t("update", key);
    return inner_->update(key, value, expectedModRevision, std::move(hint));
  }
  WriteResult remove(std::string_view key, int64_t expectedModRevision) override {
    Timer t("delete", key);
    return inner_->remove(key, expectedModRevision);
  }
  WatchPtr watch(std::string_view key, std::string_view rangeEnd, int64_t fromRevision,
                 WatchCallback callback, WatchDelivery delivery) override {
    return inner_->watch(key, rangeEnd, fromRevision, std::move(callback), delivery);
  }
  void compact(int64_t revision) override { inner_->compact(revision); }

 private:
  StorePtr inner_;
};

}  // namespace

std::string resourceOfKey(std::string_view key) {
  constexpr std::string_view prefix = "/registry/";
  if (!key.starts_with(prefix)) return "";
  key.remove_prefix(prefix.size());
  auto slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0) return "";
  std::string_view group = key.substr(0, slash);
  std::string_view rest = key.substr(slash + 1);
  std::string_view plural = rest.substr(0, rest.find('/'));
  if (plural.empty()) return "";
  std::string out(plural);
  if (group != "core") {
    out += '.';
    out += group;
  }
  return out;
}

StorePtr meterStore(StorePtr inner) { return std::make_unique<MeteredStore>(std::move(inner)); }

}  // namespace skiff::storage
