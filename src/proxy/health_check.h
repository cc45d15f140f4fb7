// healthCheckNodePort servers: for each Service with externalTrafficPolicy Local, an HTTP
// server on its spec.healthCheckNodePort that load balancers probe, answering as upstream's
// kube-proxy: 200 while this node has local endpoints of the Service, else 503, with
// {"service":{"namespace":..,"name":..},"localEndpoints":N,"serviceProxyHealthy":B}.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/service_model.h"

namespace skiff::net {
class HttpServer;
}

namespace skiff::proxy {

struct HealthCheckTarget {
  std::string ns, name;
  int localEndpoints = 0;
  bool operator==(const HealthCheckTarget&) const = default;
};

// Port → what it reports, from the service ports (pure).
std::map<int, HealthCheckTarget> healthCheckTargets(const std::vector<ServicePort>& ports);
// The answer's JSON body (pure).
std::string healthCheckBody(const HealthCheckTarget& t, bool proxyHealthy);

class HealthCheckServers {
 public:
  HealthCheckServers();
  ~HealthCheckServers();
  // Starts servers for new ports, stops those no longer wanted, updates the counts. A port
  // that cannot be bound is logged and retried on the next call.
  void sync(const std::map<int, HealthCheckTarget>& targets);
  void stopAll();

 private:
  std::mutex mu_;
  std::map<int, HealthCheckTarget> targets_;
  std::map<int, std::unique_ptr<net::HttpServer>> servers_;
};

}  // namespace skiff::proxy
