#include "client/event_recorder.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace json = boost::json;

namespace skiff::client {
namespace {

constexpr size_t kQueueLimit = 1000;  // client-go's broadcaster queue length
constexpr size_t kCacheSize = 4096;   // client-go's correlator LRU size
constexpr size_t kSimilarLimit = 10;  // distinct messages before aggregation
constexpr auto kSimilarWindow = std::chrono::minutes(10);
constexpr double kSpamBurst = 25;
constexpr double kSpamQps = 1.0 / 300;  // one token per 5 minutes
constexpr int kMaxTries = 3;
// How long the writer gathers events after the first of a batch (scheduler_perf: 4,960
// vs 4,821 pods/s median without, bench/README.md).
constexpr auto kGatherWindow = std::chrono::milliseconds(20);

// An ObjectReference for `o`, which is either the object or already a reference.
json::object makeRef(const json::object& o) {
  auto* meta = o.if_contains("metadata");
  if (!meta || !meta->is_object()) return o;
  json::object ref;
  for (const char* k : {"kind", "apiVersion"})
    if (auto v = api::stringField(o, k); !v.empty()) ref[k] = v;
  for (const char* k : {"namespace", "name", "uid", "resourceVersion"})
    if (auto v = api::stringField(meta->as_object(), k); !v.empty()) ref[k] = v;
  return ref;
}

}  // namespace

EventRecorder::EventRecorder(RestClient& client, std::string component, std::string host)
    : client_(client), component_(std::move(component)), host_(std::move(host)) {}

EventRecorder::~EventRecorder() {
  flush(std::chrono::seconds(2));
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::event(const json::object& object, const std::string& type,
                          const std::string& reason, const std::string& message) {
  Pending p{makeRef(object), type, reason, message, std::chrono::system_clock::now()};
  std::lock_guard lock(mu_);
  if (queue_.size() >= kQueueLimit) {
    SKIFF_LOG_WARN("event dropped, queue full object={}/{} reason={} message={}",
                   api::stringField(p.ref, "namespace"), api::stringField(p.ref, "name"), reason,
                   message);
    return;
  }
  const bool wasEmpty = queue_.empty();
  queue_.push_back(std::move(p));
  // The writer starts with the first event: most of a controller manager's ~20 recorders
  // never record one, and an idle thread each is not free.
  if (!thread_.joinable()) {
    thread_ = namedThread("events", [this] { run(); });
  }
  // Only the first event of a batch wakes the writer; while it gathers, the rest wait.
  if (wasEmpty) cv_.notify_one();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return drained_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void EventRecorder::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      if (!stopping_) {
        // Events are informational and written best-effort: gathering those that follow
        // the first for a moment costs one wake-up of this thread per batch, not per event
        // (the scheduler records one per pod, thousands a second under load).
        cv_.wait_for(lock, kGatherWindow,
                     [this] { return stopping_ || queue_.size() >= kQueueLimit / 2; });
      }
    }
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    write(std::move(p));
    lock.lock();
    busy_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
}

bool EventRecorder::allow(const std::string& key) {
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{kSpamBurst, now});
  Bucket& b = it->second;
  if (!fresh)
    b.tokens = std::min(kSpamBurst,
                        b.tokens + std::chrono::duration<double>(now - b.last).count() * kSpamQps);
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void EventRecorder::write(Pending p) {
  const json::object& ref = p.ref;
  std::string ns = api::stringField(ref, "namespace");
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects live in default
  const std::string sourceObject =
      fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", component_, host_,
                  api::stringField(ref, "kind"), ns, api::stringField(ref, "name"),
                  api::stringField(ref, "uid"), api::stringField(ref, "apiVersion"));
  if (!allow(sourceObject)) {
    SKIFF_LOG_DEBUG("event dropped by spam filter object={}/{} reason={}", ns,
                    api::stringField(ref, "name"), p.reason);
    return;
  }
  // Similar events (only the message differs) are folded into one after kSimilarLimit.
  const std::string aggregateKey = sourceObject + "\x1f" + p.type + "\x1f" + p.reason;
  auto nowSteady = std::chrono::steady_clock::now();
  Similar& similar = similar_[aggregateKey];
  if (similar.messages.empty() || nowSteady - similar.since > kSimilarWindow) {
    similar.messages.clear();
    similar.since = nowSteady;
  }
  similar.messages[p.message] = true;
  std::string message = p.message;
  std::string key = aggregateKey + "\x1f" + p.message;
  if (similar.messages.size() >= kSimilarLimit) {
    message = "(combined from similar events): " + p.message;
    key = aggregateKey;
  }
  if (similar_.size() > kCacheSize) similar_.clear();
  if (buckets_.size() > kCacheSize) buckets_.clear();

  const std::string now = formatTime(p.time);
  Written w;
  if (auto it = written_.find(key); it != written_.end()) {
    w = it->second.first;
    lru_.erase(it->second.second);
    written_.erase(it);
  }
  for (int attempt = 1; attempt <= kMaxTries; ++attempt) {
    try {
      if (w.count > 0) {
        try {
          client_.patchNoResult(
              resources::events, w.ns, w.name, PatchType::StrategicMerge,
              json::object{{"count", w.count + 1}, {"lastTimestamp", now}, {"message", message}});
          ++w.count;
          break;
        } catch (const ApiError& e) {
          if (e.code() != 404) throw;
          w = Written{};  // someone deleted it (TTL): start a new Event
        }
      }
      auto nanos =
          std::chrono::duration_cast<std::chrono::nanoseconds>(p.time.time_since_epoch()).count();
      std::string name = fmt::format("{}.{:x}", api::stringField(ref, "name"), nanos);
      json::object ev{
          {"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", json::object{{"name", name}, {"namespace", ns}}},
          {"involvedObject", ref},
          {"reason", p.reason},
          {"message", message},
          {"source", host_.empty() ? json::object{{"component", component_}}
                                   : json::object{{"component", component_}, {"host", host_}}},
          {"firstTimestamp", now},
          {"lastTimestamp", now},
          {"count", 1},
          {"type", p.type},
          {"reportingComponent", component_},
          {"reportingInstance", host_}};
      // The name is ours (no generateName), so the created Event the server echoes back is
      // not needed: one parse fewer per event (the scheduler writes one per pod).
      client_.send("POST", resources::events.path(ns), json::serialize(ev));
      w = Written{std::move(name), ns, 1, now};
      break;
    } catch (const ApiError& e) {
      // Forbidden/NotFound/Invalid will not heal by retrying (e.g. namespace terminating).
      bool retry = e.code() == 429 || e.code() >= 500;
      SKIFF_LOG_WARN("event write failed object={}/{} reason={} code={} attempt={} err={}", ns,
                     api::stringField(ref, "name"), p.reason, e.code(), attempt, e.what());
      if (!retry) return;
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("event write failed object={}/{} reason={} attempt={} err={}", ns,
                     api::stringField(ref, "name"), p.reason, attempt, e.what());
    }
    if (attempt == kMaxTries) return;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(attempt), [this] { return stopping_; })) return;
  }
  lru_.push_front(key);
  written_[key] = {w, lru_.begin()};
  if (written_.size() > kCacheSize) {
    written_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace skiff::client
