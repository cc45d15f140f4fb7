#include "controller/controller.h"

#include <algorithm>

#include "common/api_error.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::controller {

QueueController::QueueController(ControllerContext& ctx, std::string name, std::string component,
                                 int workers)
    : client_(ctx.client),
      informers_(ctx.informers),
      options_(ctx.options),
      clock_(ctx.clock),
      recorder_(ctx.client, std::move(component)),
      queue_(name, {}, ctx.clock),
      name_(std::move(name)),
      workers_(workers > 0 ? workers : std::max(1, ctx.options.workers)) {}

QueueController::~QueueController() { stop(); }

void QueueController::every(std::chrono::milliseconds period, std::function<void()> fn) {
  periodic_.push_back({period, std::move(fn)});
}

client::ResourceEventHandlers QueueController::enqueueingHandlers() {
  return {
      .onAdd = [this](const boost::json::object& obj) { enqueue(obj); },
      .onUpdate = [this](const boost::json::object&,
                         const boost::json::object& obj) { enqueue(obj); },
      .onDelete = [this](const boost::json::object& obj) { enqueue(obj); },
  };
}

client::ResourceEventHandlers QueueController::ownedObjectHandlers(std::string ownerKind,
                                                                   Expectations& expectations) {
  auto kind = std::make_shared<const std::string>(std::move(ownerKind));
  return {
      .onAdd =
          [this, kind, &expectations](const boost::json::object& obj) {
            if (auto key = controllerKeyOf(obj, *kind); !key.empty()) {
              expectations.creationObserved(key);
              enqueueKey(key);
            }
          },
      .onUpdate =
          [this, kind](const boost::json::object& oldObj, const boost::json::object& obj) {
            auto oldKey = controllerKeyOf(oldObj, *kind), key = controllerKeyOf(obj, *kind);
            if (!oldKey.empty() && oldKey != key) enqueueKey(oldKey);
            if (!key.empty()) enqueueKey(key);
          },
      .onDelete =
          [this, kind, &expectations](const boost::json::object& obj) {
            if (auto key = controllerKeyOf(obj, *kind); !key.empty()) {
              expectations.deletionObserved(key);
              enqueueKey(key);
            }
          },
  };
}

void QueueController::run() {
  for (int i = 0; i < workers_; ++i)
    threads_.emplace_back(namedThread("c/" + name_, [this] { worker(); }));
  for (auto& p : periodic_) {
    threads_.emplace_back([this, p] {
      setThreadName("p/" + name_);
      std::unique_lock lock(stopMu_);
      while (!stopping_) {
        lock.unlock();
        try {
          SyncClockScope scope(clock_);
          p.fn();
        } catch (const std::exception& e) {
          SKIFF_LOG_WARN("controller={} periodic task failed error=\"{}\"", name_, e.what());
        }
        lock.lock();
        stopCv_.wait_for(lock, p.period, [this] { return stopping_.load(); });
      }
    });
  }
}

void QueueController::stop() {
  {
    std::lock_guard lock(stopMu_);
    if (stopping_.exchange(true)) return;
  }
  stopCv_.notify_all();
  queue_.shutDown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void QueueController::worker() {
  while (auto key = queue_.get()) {
    if (stopping_) {
      queue_.done(*key);
      continue;
    }
    process(*key);
  }
}

void QueueController::process(const std::string& key) {
  try {
    SyncClockScope scope(clock_);
    sync(key);
    queue_.forget(key);
  } catch (const ApiError& e) {
    // Conflicts are routine (a stale cache): retry quietly.
    if (e.code() == 409)
      SKIFF_LOG_DEBUG("controller={} key={} conflict, retrying", name_, key);
    else
      SKIFF_LOG_WARN("controller={} key={} sync failed error=\"{}\"", name_, key, e.what());
    queue_.addRateLimited(key);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("controller={} key={} sync failed error=\"{}\"", name_, key, e.what());
    queue_.addRateLimited(key);
  }
  queue_.done(key);
}

int QueueController::drainQueue(int limit) {
  int handled = 0;
  while (handled < limit) {
    auto key = queue_.tryGet();
    if (!key) break;
    process(*key);
    ++handled;
  }
  return handled;
}

void QueueController::syncKey(const std::string& key) {
  SyncClockScope scope(clock_);
  sync(key);
}

void QueueController::runPeriodicTasks() {
  SyncClockScope scope(clock_);
  for (auto& p : periodic_) p.fn();
}

namespace {
std::vector<std::pair<std::string, ControllerFactory>>& registry() {
  static std::vector<std::pair<std::string, ControllerFactory>> r;
  return r;
}
}  // namespace

ControllerRegistration::ControllerRegistration(std::string name, ControllerFactory factory) {
  auto& r = registry();
  r.emplace_back(std::move(name), std::move(factory));
  std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first < b.first; });
}

const std::vector<std::pair<std::string, ControllerFactory>>& registeredControllers() {
  return registry();
}

bool controllerEnabled(const std::vector<std::string>& list, const std::string& name) {
  bool enabled = false;
  for (const auto& c : list) {
    if (c == name) return true;
    if (c == "-" + name) return false;
    if (c == "*") enabled = true;
  }
  return enabled;
}

}  // namespace skiff::controller
