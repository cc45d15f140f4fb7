// /metrics and /healthz over plain HTTP for a component run on its own (`skiff scheduler`,
// `skiff controller-manager` with --metrics-bind-address): the process's Metrics::global().
// Under `skiff server` these components share the API server's /metrics instead.
#pragma once

#include <memory>
#include <string>

namespace skiff {
class Metrics;
}
namespace skiff::net {
class HttpServer;
}

namespace skiff::cli {

// Serves on `listen` (host:port; port 0 picks one) while it lives; nothing when `listen` is
// empty. Throws std::runtime_error when the address cannot be bound.
class MetricsServer {
 public:
  // `registry`: what /metrics renders (default: Metrics::global()).
  explicit MetricsServer(const std::string& listen, Metrics* registry = nullptr);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace skiff::cli
