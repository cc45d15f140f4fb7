#include "cli/metrics_server.h"

#include "common/api_error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/http_server.h"

namespace skiff::cli {

MetricsServer::~MetricsServer() = default;

MetricsServer::MetricsServer(const std::string& listen, Metrics* registry) {
  if (listen.empty()) return;
  if (!registry) registry = &Metrics::global();
  net::HttpServerOptions options;
  options.listen = listen;
  options.threads = 1;
  options.blockingThreads = 1;
  http_ = std::make_unique<net::HttpServer>(options, [registry](net::HttpRequest& req) {
    net::HttpResponse res;
    if (req.method != "GET" && req.method != "HEAD")
      throw ApiError(405, "MethodNotAllowed", "the server does not allow this method");
    if (req.path == "/metrics") {
      res.contentType = "text/plain; version=0.0.4; charset=utf-8";
      res.body = registry->render();
    } else if (req.path == "/healthz" || req.path == "/livez" || req.path == "/readyz") {
      res.contentType = "text/plain; charset=utf-8";
      res.body = "ok";
    } else {
      throw ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    return res;
  });
  http_->start();
  SKIFF_LOG_INFO("metrics served address=http://{}:{}/metrics", listen.substr(0, listen.rfind(':')),
                 http_->port());
}

}  // namespace skiff::cli
