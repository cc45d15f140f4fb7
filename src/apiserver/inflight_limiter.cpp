#include "apiserver/inflight_limiter.h"

#include "apiserver/request_metrics.h"
#include "common/metrics.h"

namespace skiff::apiserver {

namespace {

// The in-process endpoint's marker (cli/local_endpoint.cpp): such requests never passed the
// socket layer, and the components behind it must keep working under any client load.
constexpr const char* kInProcess = "in-process";

bool isWatch(const HttpRequest& req) {
  if (req.flag("watch")) return true;
  // /api/v1/watch/... and /apis/G/V/watch/...: the deprecated watch paths.
  const std::string& p = req.path;
  return p.starts_with("/api/v1/watch/") || p == "/api/v1/watch" ||
         (p.starts_with("/apis/") && p.find("/watch/") != std::string::npos);
}

}  // namespace

InflightLimiter::InflightLimiter(int maxReadOnly, int maxMutating)
    : maxReadOnly_(maxReadOnly), maxMutating_(maxMutating) {
  Metrics::global().describe("apiserver_dropped_requests_total", "counter",
                             "Requests dropped with 'Try again later' (429), by request kind.");
}

bool InflightLimiter::isLongRunning(const HttpRequest& req,
                                    const std::optional<RequestInfo>& resource) {
  if (isWatch(req)) return true;
  if (!resource) return false;
  // Upstream's BasicLongRunningRequestCheck: these subresources hold the request open.
  const std::string& sub = resource->subresource;
  return sub == "exec" || sub == "attach" || sub == "portforward" || sub == "proxy" || sub == "log";
}

bool InflightLimiter::isMutating(const HttpRequest& req) {
  // get, list and watch are upstream's read-only verbs; HEAD and OPTIONS read nothing either.
  return !(req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS");
}

bool InflightLimiter::isExempt(const HttpRequest& req) {
  if (req.remoteAddress == kInProcess) return true;
  for (const auto& g : req.identity().groups)
    if (g == "system:masters") return true;
  return false;
}

std::optional<InflightLimiter::Slot> InflightLimiter::admit(
    const HttpRequest& req, const std::optional<RequestInfo>& resource,
    const std::function<bool()>& exemptByCredentials) {
  if (isLongRunning(req, resource)) return Slot();
  const bool mutating = isMutating(req);
  const int limit = mutating ? maxMutating_ : maxReadOnly_;
  if (limit <= 0) return Slot();
  auto& counter = mutating ? mutating_ : readOnly_;
  if (counter.fetch_add(1, std::memory_order_relaxed) >= limit) {
    counter.fetch_sub(1, std::memory_order_relaxed);
    if (!isExempt(req) && !(exemptByCredentials && exemptByCredentials())) {
      Metrics::global().increment("apiserver_dropped_requests_total",
                                  {{"request_kind", mutating ? "mutating" : "readOnly"}});
      return std::nullopt;
    }
    return Slot();  // system:masters always gets an answer, counted or not
  }
  return Slot(&counter);
}

HttpResponse tooManyRequestsResponse() {
  HttpResponse res;
  res.status = 429;
  res.contentType = "text/plain; charset=utf-8";
  res.body = "Too many requests, please try again later.\n";
  res.headers.emplace_back("Retry-After", "1");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return res;
}

}  // namespace skiff::apiserver

namespace skiff::apiserver {

HttpResponse tooManyRequestsResponse(RequestMetrics& metrics) {
  HttpResponse res = tooManyRequestsResponse();
  metrics.done(res);
  return res;
}

}  // namespace skiff::apiserver
