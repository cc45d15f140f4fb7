#include "apiserver/request_metrics.h"

#include <algorithm>
#include <map>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "apiserver/request_info.h"
#include "apiserver/watch_cache.h"
#include "common/packed_json.h"

namespace skiff::apiserver {

namespace {

constexpr const char* kRequestTotal = "apiserver_request_total";
constexpr const char* kRequestDuration = "apiserver_request_duration_seconds";
constexpr const char* kInflight = "apiserver_current_inflight_requests";
constexpr const char* kLongRunning = "apiserver_longrunning_requests";

void describeOnce() {
  static const bool described = [] {
    auto& m = Metrics::global();
    m.describe(
        kRequestTotal, "counter",
        "API requests answered, by verb, dry run, group, version, resource, subresource, scope, "
        "component and HTTP status code.");
    m.describe(
        kRequestDuration, "histogram",
        "Seconds from receiving an API request to its answer (for watches and connections: to "
        "their "
        "end), by verb, dry run, group, version, resource, subresource, scope and component.");
    m.describe(kInflight, "gauge",
               "API requests being handled right now (long-running ones excluded), by read-only or "
               "mutating "
               "kind.");
    m.describe(
        kLongRunning, "gauge",
        "Open long-running API requests (watches, logs, exec/attach/port-forward, proxy), by verb, "
        "group, version, resource, subresource, scope and component.");
    m.describe("apiserver_watch_events_total", "counter",
               "Watch events written to watching clients, by the group, version, kind and resource "
               "watched.");
    // Both kinds are reported from the start, as upstream does.
    m.setGauge(kInflight, {{"request_kind", "mutating"}}, 0);
    m.setGauge(kInflight, {{"request_kind", "readOnly"}}, 0);
    return true;
  }();
  (void)described;
}

bool isHealthOrMetricsPath(const std::string& p) {
  for (const char* base : {"/healthz", "/livez", "/readyz"})
    if (p == base || (p.starts_with(base) && p[std::string_view(base).size()] == '/')) return true;
  return p == "/metrics";
}

// Label values come from what clients send; each must stay within a fixed set, or a client
// could grow the registry without bound. As upstream: a method that is no API verb is "other".
std::string knownMethodOrOther(const std::string& m) {
  for (const char* known : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"})
    if (m == known) return m;
  return "other";
}

// /healthz/ping and the like keep their path; any other sub-path counts as its base.
std::string boundedHealthPath(const std::string& p) {
  if (p == "/metrics") return p;
  auto slash = p.find('/', 1);
  if (slash == std::string::npos) return p;
  std::string base = p.substr(0, slash);
  std::string check = p.substr(slash + 1);
  for (const char* known : {"ping", "log", "etcd", "informer-sync", "shutdown"})
    if (check == known) return p;
  return base;
}

// Labels in the order the Prometheus Go client prints them (sorted by name).
MetricLabels durationLabels(const RequestMetrics::Labels& l) {
  return {{"component", l.component}, {"dry_run", l.dryRun}, {"group", l.group},
          {"resource", l.resource},   {"scope", l.scope},    {"subresource", l.subresource},
          {"verb", l.verb},           {"version", l.version}};
}

MetricLabels longRunningLabels(const RequestMetrics::Labels& l) {
  return {{"component", l.component},     {"group", l.group},
          {"resource", l.resource},       {"scope", l.scope},
          {"subresource", l.subresource}, {"verb", l.verb},
          {"version", l.version}};
}

}  // namespace

// References into the registry for one label set, so a request costs one cache lookup
// instead of rendering and finding each series' labels (thousands of requests a second).
struct RequestMetrics::Series {
  Labels labels;
  Metrics::Histogram* duration = nullptr;
  std::atomic<double>* longRunning = nullptr;  // for long-running label sets
  std::shared_mutex mu;
  std::map<int, std::atomic<double>*> totals;  // by status code

  std::atomic<double>& total(int code) {
    {
      std::shared_lock lock(mu);
      if (auto it = totals.find(code); it != totals.end()) return *it->second;
    }
    MetricLabels l = durationLabels(labels);
    l.insert(l.begin(), {"code", std::to_string(code)});
    auto& slot = Metrics::global().series(kRequestTotal, l);
    std::unique_lock lock(mu);
    totals[code] = &slot;
    return slot;
  }
};

namespace {

RequestMetrics::Series& seriesFor(const RequestMetrics::Labels& l) {
  static std::shared_mutex mu;
  static std::unordered_map<std::string, std::unique_ptr<RequestMetrics::Series>> cache;
  std::string key;
  key.reserve(96);
  for (const std::string* part : {&l.verb, &l.dryRun, &l.group, &l.version, &l.resource,
                                  &l.subresource, &l.scope, &l.component}) {
    key += *part;
    key += '\x1f';
  }
  {
    std::shared_lock lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
  }
  auto series = std::make_unique<RequestMetrics::Series>();
  series->labels = l;
  series->duration = &Metrics::global().histogramSeries(kRequestDuration, durationLabels(l),
                                                        requestDurationBuckets());
  if (l.longRunning)
    series->longRunning = &Metrics::global().series(kLongRunning, longRunningLabels(l));
  std::unique_lock lock(mu);
  auto& slot = cache[key];
  if (!slot) slot = std::move(series);
  return *slot;
}

void record(RequestMetrics::Series& s, int code, std::chrono::steady_clock::time_point start) {
  Metrics::observe(*s.duration,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  s.total(code).fetch_add(1, std::memory_order_relaxed);
}

// Ends a streamed or upgraded request when the last holder of the stream (or the upgrade
// handler) lets go of it.
struct EndOfRequest {
  RequestMetrics::Series* series = nullptr;
  std::chrono::steady_clock::time_point start;
  int code = 200;
  ~EndOfRequest() {
    record(*series, code, start);
    if (series->longRunning) series->longRunning->fetch_add(-1, std::memory_order_relaxed);
  }
};

struct StreamWithEnd {
  std::shared_ptr<EndOfRequest> end;
  std::shared_ptr<StreamSource> stream;  // destroyed first: the stream ends, then the request
};

}  // namespace

const std::vector<double>& requestDurationBuckets() {
  static const std::vector<double> buckets = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,
                                              1.0,   1.25,  1.5,  2,   3,   4,   5,   6,
                                              8,     10,    15,   20,  30,  45,  60};
  return buckets;
}

RequestMetrics::Labels RequestMetrics::classify(const HttpRequest& req,
                                                const std::optional<RequestInfo>& ri) {
  Labels l;
  const std::string& p = req.path;
  if (isHealthOrMetricsPath(p)) {
    l.verb = knownMethodOrOther(req.method == "HEAD" ? "GET" : req.method);
    l.subresource = boundedHealthPath(p);
    return l;
  }
  l.component = "apiserver";
  // nodes/NAME/proxy[/...]: CONNECT to a node.
  if (p.starts_with("/api/v1/nodes/") && p.find("/proxy", 14) != std::string::npos) {
    l.verb = "CONNECT";
    l.version = "v1";
    l.resource = "nodes";
    l.subresource = "proxy";
    l.scope = "resource";
    l.longRunning = true;
    return l;
  }
  if (!ri || !ri->info) return Labels{};  // discovery, OpenAPI, unknown paths: not measured
  bool connect = ri->subresource == "exec" || ri->subresource == "attach" ||
                 ri->subresource == "portforward" || ri->subresource == "proxy";
  // Unknown subresources (any path could name one) would grow the series without bound.
  if (!ri->subresource.empty() && !connect && !ri->info->subresource(ri->subresource))
    return Labels{};
  l.group = ri->group;
  l.version = ri->version;
  l.resource = ri->resource;
  l.subresource = ri->subresource;
  const std::string& m = req.method;
  if (connect) {
    l.verb = "CONNECT";
  } else if (m == "GET" || m == "HEAD") {
    if (!ri->name.empty())
      l.verb = "GET";
    else
      l.verb = req.flag("watch") ? "WATCH" : "LIST";
  } else if (m == "POST") {
    l.verb = "POST";
  } else if (m == "PUT") {
    l.verb = "PUT";
  } else if (m == "PATCH") {
    l.verb = req.header("content-type").starts_with("application/apply-patch") ? "APPLY" : "PATCH";
  } else if (m == "DELETE") {
    l.verb = ri->name.empty() ? "DELETECOLLECTION" : "DELETE";
  } else {
    l.verb = knownMethodOrOther(m);
  }
  // Upstream's CleanScope: a named object (or a create) is "resource" scoped.
  if (!ri->name.empty() || l.verb == "POST")
    l.scope = "resource";
  else if (!ri->namespaceName.empty())
    l.scope = "namespace";
  else
    l.scope = "cluster";
  if (auto dry = req.param("dryRun"); dry && *dry == "All") l.dryRun = "All";
  l.longRunning = connect || l.verb == "WATCH" || ri->subresource == "log";
  l.mutating = m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
  return l;
}

RequestMetrics::RequestMetrics(const HttpRequest& req, const std::optional<RequestInfo>& resource)
    : labels_(classify(req, resource)), start_(std::chrono::steady_clock::now()) {
  if (labels_.verb.empty()) return;
  describeOnce();
  series_ = &seriesFor(labels_);
  if (series_->longRunning) {
    series_->longRunning->fetch_add(1, std::memory_order_relaxed);
  } else {
    static std::atomic<double>& mutating =
        Metrics::global().series(kInflight, {{"request_kind", "mutating"}});
    static std::atomic<double>& readOnly =
        Metrics::global().series(kInflight, {{"request_kind", "readOnly"}});
    inflight_ = labels_.mutating ? &mutating : &readOnly;
    inflight_->fetch_add(1, std::memory_order_relaxed);
  }
}

RequestMetrics::~RequestMetrics() {
  if (!finished_) finish(500, false);
}

void RequestMetrics::done(HttpResponse& res) {
  if (finished_ || labels_.verb.empty()) {
    finished_ = true;
    return;
  }
  if (res.stream || res.upgrade) {
    auto end = std::make_shared<EndOfRequest>();  // no temporary: its destructor records
    end->series = series_;
    end->start = start_;
    end->code = res.status;
    if (res.stream) {
      StreamSource* raw = res.stream.get();
      auto holder = std::make_shared<StreamWithEnd>(StreamWithEnd{end, std::move(res.stream)});
      res.stream = std::shared_ptr<StreamSource>(holder, raw);
    }
    if (res.upgrade)
      res.upgrade = [inner = std::move(res.upgrade), end](UpgradedConnectionPtr c) {
        inner(std::move(c));
      };
    finish(res.status, true);
    return;
  }
  finish(res.status, false);
}

void RequestMetrics::failed(int code) { finish(code, false); }

void RequestMetrics::finish(int code, bool endsLater) {
  if (finished_) return;
  finished_ = true;
  if (!series_) return;
  if (inflight_) inflight_->fetch_add(-1, std::memory_order_relaxed);
  if (endsLater) return;  // EndOfRequest records it
  record(*series_, code, start_);
  if (series_->longRunning) series_->longRunning->fetch_add(-1, std::memory_order_relaxed);
}

std::vector<MetricsCollectorHandle> registerStorageObjects(CacheHub& caches,
                                                           const api::ResourceRegistry& registry) {
  // One entry per stored resource (versions sharing storage are counted once).
  auto stored = std::make_shared<std::vector<std::pair<std::string, ResourceCache*>>>();
  std::set<std::string> seen;
  for (const auto& r : registry.all()) {
    const auto& s = r.storageInfo();
    // Virtual resources (reviews: create only) store nothing.
    if (std::find(s.verbs.begin(), s.verbs.end(), "list") == s.verbs.end()) continue;
    if (!seen.insert(s.storagePrefix()).second) continue;
    stored->emplace_back(s.qualifiedResource(), &caches.cacheFor(s.storagePrefix()));
  }
  auto perResource = [stored](size_t (ResourceCache::*measure)() const) {
    return [stored, measure] {
      std::vector<MetricSample> out;
      out.reserve(stored->size());
      for (const auto& [resource, cache] : *stored)
        out.push_back({{{"resource", resource}}, static_cast<double>((cache->*measure)())});
      return out;
    };
  };
  std::vector<MetricsCollectorHandle> handles;
  handles.push_back(Metrics::global().collect(
      "apiserver_storage_objects", "gauge",
      "Objects held in storage per resource, as the watch cache counts them at scrape time.",
      perResource(&ResourceCache::size)));
  handles.push_back(Metrics::global().collect(
      "skiff_watch_cache_history_bytes", "gauge",
      "Bytes the watch cache's history keeps for superseded and deleted states (JSON text, "
      "compressed).",
      perResource(&ResourceCache::historyTextBytes)));
  handles.push_back(Metrics::global().collect(
      "skiff_packed_object_bytes", "gauge",
      "Bytes of packed JSON objects alive in this process: the watch cache's current objects "
      "(shared by in-process informers) and the few older states someone still holds.",
      [] {
        return std::vector<MetricSample>{{{}, static_cast<double>(packedJsonBytesAlive())}};
      }));
  return handles;
}

}  // namespace skiff::apiserver
