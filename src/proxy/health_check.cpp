#include "proxy/health_check.h"

#include <boost/json.hpp>
#include <set>

#include "common/log.h"
#include "net/http_server.h"

namespace skiff::proxy {

std::map<int, HealthCheckTarget> healthCheckTargets(const std::vector<ServicePort>& ports) {
  std::map<int, HealthCheckTarget> out;
  std::map<int, std::set<std::string>> ips;  // a pod serving two ports is one endpoint
  for (auto& sp : ports) {
    if (sp.healthCheckNodePort <= 0 || !sp.externalLocal) continue;
    auto& t = out[sp.healthCheckNodePort];
    t.ns = sp.ns;
    t.name = sp.name;
    for (auto& ep : sp.localEndpoints) ips[sp.healthCheckNodePort].insert(ep.ip);
  }
  for (auto& [port, t] : out) t.localEndpoints = static_cast<int>(ips[port].size());
  return out;
}

std::string healthCheckBody(const HealthCheckTarget& t, bool proxyHealthy) {
  boost::json::object o{{"service", {{"namespace", t.ns}, {"name", t.name}}},
                        {"localEndpoints", t.localEndpoints},
                        {"serviceProxyHealthy", proxyHealthy}};
  return boost::json::serialize(o);
}

HealthCheckServers::HealthCheckServers() = default;
HealthCheckServers::~HealthCheckServers() { stopAll(); }

void HealthCheckServers::sync(const std::map<int, HealthCheckTarget>& targets) {
  std::vector<std::unique_ptr<net::HttpServer>> stopping;
  std::vector<int> start;
  {
    std::lock_guard lk(mu_);
    targets_ = targets;
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (!targets.count(it->first)) {
        stopping.push_back(std::move(it->second));
        it = servers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [port, _] : targets)
      if (!servers_.count(port)) start.push_back(port);
  }
  for (auto& s : stopping) s->stop();
  for (int port : start) {
    net::HttpServerOptions o;
    o.listen = "0.0.0.0:" + std::to_string(port);
    o.threads = 1;
    o.blockingThreads = 1;
    auto server = std::make_unique<net::HttpServer>(o, [this, port](net::HttpRequest&) {
      net::HttpResponse res;
      std::lock_guard lk(mu_);
      auto it = targets_.find(port);
      HealthCheckTarget t = it == targets_.end() ? HealthCheckTarget{} : it->second;
      res.status = t.localEndpoints > 0 ? 200 : 503;
      res.body = healthCheckBody(t, true);
      res.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return res;
    });
    try {
      server->start();
      SKIFF_LOG_INFO("proxy: health check node port served port={}", port);
      std::lock_guard lk(mu_);
      servers_[port] = std::move(server);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("proxy: health check node port not served port={} error=\"{}\"", port,
                     e.what());
    }
  }
}

void HealthCheckServers::stopAll() {
  std::map<int, std::unique_ptr<net::HttpServer>> servers;
  {
    std::lock_guard lk(mu_);
    servers.swap(servers_);
  }
  for (auto& [_, s] : servers) s->stop();
}

}  // namespace skiff::proxy
