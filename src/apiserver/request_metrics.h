// The API server's Prometheus metrics, named and labelled as upstream's kube-apiserver:
//
//   apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}
//   apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}
//       (histogram, upstream's buckets 5 ms … 60 s; a WATCH or CONNECT is observed when its
//       stream or upgraded connection ends, so it measures the whole long-running request)
//   apiserver_current_inflight_requests{request_kind=readOnly|mutating} (not long-running ones)
//   apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}
//   apiserver_storage_objects{resource}  (objects in the watch cache, per stored resource)
//   apiserver_watch_events_total{group,version,kind,resource} (watch_stream.cpp)
//
// Verbs are upstream's reported verbs: GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE,
// DELETECOLLECTION, CONNECT. Health and metrics endpoints are counted as upstream counts
// them: verb GET, the path as subresource, every other label empty.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/resource_registry.h"
#include "apiserver/request_info.h"
#include "common/metrics.h"
#include "net/http_types.h"

namespace skiff::apiserver {

class CacheHub;

// Measures one request from ApiServer::handle: construct it first, then call done() with
// the response (which it may wrap, to see a stream or upgrade end) or failed() with the
// error's code. A request that leaves with neither counts as a 500.
class RequestMetrics {
 public:
  // `resource` is the request's path parsed once by the caller (it routes with it too).
  RequestMetrics(const HttpRequest& req, const std::optional<RequestInfo>& resource);
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;
  void done(HttpResponse& res);
  void failed(int code);

  // The labels upstream reports for this request (empty verb: not measured). For tests.
  struct Labels {
    std::string verb, dryRun, group, version, resource, subresource, scope, component;
    bool longRunning = false, mutating = false;
  };
  static Labels classify(const HttpRequest& req, const std::optional<RequestInfo>& resource);
  static Labels classify(const HttpRequest& req, const api::ResourceRegistry& registry) {
    return classify(req, parseResourcePath(req.path, registry));
  }

  // The series of one label set, looked up once per request (cached by labels).
  struct Series;

 private:
  void finish(int code, bool endsLater);
  Labels labels_;
  Series* series_ = nullptr;
  std::atomic<double>* inflight_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

// apiserver_storage_objects from the watch cache of every stored resource, and what the
// cache's memory holds (skiff_watch_cache_history_bytes per resource, and
// skiff_packed_object_bytes: the packed current objects); registered while the handles live.
std::vector<MetricsCollectorHandle> registerStorageObjects(CacheHub& caches,
                                                           const api::ResourceRegistry& registry);

// Upstream's apiserver_request_duration_seconds buckets.
const std::vector<double>& requestDurationBuckets();

}  // namespace skiff::apiserver
