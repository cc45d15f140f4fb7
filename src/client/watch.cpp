#include "client/watch.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>

#include "common/api_error.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace json = boost::json;

namespace skiff::client {
namespace {

// Thrown out of the stream callback when the server reports 410 inside the stream.
struct Gone {};

int64_t randomWatchTimeout() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_int_distribution<int64_t>(300, 599)(rng);
}

}  // namespace

Watcher::Watcher(RestClient& client, Resource resource, std::string ns, WatcherOptions options)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      options_(std::move(options)) {
  rv_ = options_.list.resourceVersion;
  needRelist_ = rv_.empty() && options_.relist;
  thread_ = namedThread("w/" + resource_.resource, [this] { run(); });
}

Watcher::~Watcher() { stop(); }

void Watcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  abort_.abort();
  if (thread_.joinable()) thread_.join();
}

std::string Watcher::resourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

bool Watcher::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_; });
}

void Watcher::run() {
  std::chrono::milliseconds backoff{800};
  const std::chrono::milliseconds maxBackoff{30000};
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
    bool ok = false;
    try {
      if (needRelist_ && options_.relist) {
        std::string rv = options_.relist();
        std::lock_guard lock(mu_);
        rv_ = rv;
        needRelist_ = false;
      }
      ok = watchOnce();
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("watch failed resource={} namespace={} rv={} err={}", resource_.qualified(),
                     ns_, resourceVersion(), e.what());
    }
    if (ok) {
      backoff = std::chrono::milliseconds(800);
      continue;
    }
    if (!sleepFor(backoff)) return;
    backoff = std::min(backoff * 2, maxBackoff);
  }
}

bool Watcher::watchOnce() {
  const auto started = std::chrono::steady_clock::now();
  ListOptions o = options_.list;
  o.resourceVersion = resourceVersion();
  o.allowWatchBookmarks = true;
  o.timeoutSeconds = options_.timeoutSeconds > 0 ? options_.timeoutSeconds : randomWatchTimeout();
  std::string q = o.query();
  std::string target = resource_.path(ns_) + q + (q.empty() ? "?" : "&") + "watch=true";

  bool gotData = false;
  // Every event, whichever way it came: errors end the watch, bookmarks only move rv_.
  auto deliver = [&](std::string type, ObjectPtr object) {
    gotData = true;
    if (type == "ERROR") {
      auto* code = object->if_contains("code");
      if (code && code->is_int64() && code->as_int64() == 410) throw Gone{};
      HttpResult r{code && code->is_int64() ? static_cast<int>(code->as_int64()) : 500,
                   "",
                   json::serialize(*object),
                   {}};
      throwApiError(r, "watch " + target);
    }
    std::string rv = metaString(*object, "resourceVersion");
    if (type != "BOOKMARK" && options_.onEvent) {
      WatchEvent event{std::move(type), std::move(object)};
      options_.onEvent(event);
    }
    // Advance only after the event was handled, so a failed handler sees it again.
    std::lock_guard lock(mu_);
    if (!rv.empty()) rv_ = rv;
  };
  std::string pending;
  auto onData = [&](std::string_view data) {
    gotData = true;
    pending.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (line.empty()) continue;
      json::value v = json::parse(line);  // a broken stream throws: re-watch from rv_
      auto& ev = v.as_object();
      deliver(std::string(ev.at("type").as_string()),
              std::make_shared<const json::object>(std::move(ev["object"].as_object())));
    }
    pending.erase(0, start);
  };

  HttpResult res;
  try {
    if (auto& local = client_.config().local)
      res = local->watch(target, deliver, abort_);
    else
      res = client_.transport().stream(target, onData, abort_);
  } catch (const Gone&) {
    res.status = 410;
  }
  if (res.status == 410) {
    SKIFF_LOG_INFO("watch expired, relisting resource={} namespace={} rv={}", resource_.qualified(),
                   ns_, resourceVersion());
    std::lock_guard lock(mu_);
    if (options_.relist) {
      needRelist_ = true;
    } else {
      rv_.clear();  // without a relist, the server's initial ADDED events stand in for one
    }
    return true;
  }
  if (res.status != 0 && (res.status < 200 || res.status >= 300))
    throwApiError(res, "watch " + target);
  // A stream that ends at once without sending anything gets the error backoff, so a server
  // that keeps closing watches is not hammered in a loop. One that ran its course (the
  // timeout of a quiet resource) is re-opened at once, as client-go's reflector does: a
  // backoff there would leave the resource unwatched, and its next events late.
  return gotData || std::chrono::steady_clock::now() - started >= std::chrono::seconds(1);
}

}  // namespace skiff::client
