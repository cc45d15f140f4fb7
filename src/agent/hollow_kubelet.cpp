// The hollow nodes' kubelet endpoints (see hollow_agent.h): one HTTPS server, one listener per
// node at <InternalIP>:<ephemeral port>, answering
//   GET /healthz             "ok" (no certificate needed, as a kubelet's)
//   GET /metrics/resource    the node's synthetic usage as upstream's resource metrics
//   GET /stats/summary       the same numbers as a Summary API document
// Everything but /healthz needs a client certificate of the cluster CA (401 otherwise);
// there is no SubjectAccessReview, unlike a real kubelet: the listeners are loopback-only and
// the numbers are made up, so one TLS check per connection is all they get.
//
// Cost at 1,000 nodes × 30 pods: 1,000 listening sockets on one event loop thread; a scrape
// renders ~30 pods from the informer's index, a few microseconds of work plus TLS.
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>

#include "agent/hollow_agent.h"
#include "client/informer.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/pki.h"
#include "net/http_server.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace skiff::agent {
namespace {

using SysClock = std::chrono::system_clock;

// What a hollow node itself "uses" besides its pods (a kubelet, a runtime, the OS).
constexpr uint64_t kNodeBaseNanoCores = 100'000'000;  // 100m
constexpr uint64_t kNodeBaseMemoryBytes = 512ull << 20;

int64_t unixMillis(SysClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

net::HttpResponse plain(int status, std::string body) {
  net::HttpResponse res;
  res.status = status;
  res.contentType = "text/plain; charset=utf-8";
  res.body = std::move(body);
  return res;
}

std::string stringAt(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* cur = nullptr;
  const json::object* obj = &o;
  for (const char* k : path) {
    if (!obj) return {};
    cur = obj->if_contains(k);
    if (!cur) return {};
    obj = cur->is_object() ? &cur->as_object() : nullptr;
  }
  return cur && cur->is_string() ? std::string(cur->as_string()) : std::string();
}

}  // namespace

void HollowAgent::startKubeletServer() {
  char tmpl[] = "/tmp/skiff-hollow-kubelet-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("hollow agent: cannot create a certificate dir");
  kubeletDir_ = tmpl;
  // A throwaway serving certificate, as a kubelet without TLS bootstrap makes for itself; the
  // API server does not verify kubelet certificates (no --kubelet-certificate-authority).
  auto ca = createCa("hollow-kubelet-ca@" + std::to_string(std::time(nullptr)));
  auto serving = issueCertificate(ca, options_.namePrefix + "-kubelet", {}, {"localhost"},
                                  {"127.0.0.1"}, true, false);
  net::HttpServerOptions so;
  so.threads = 1;
  so.maxBodyBytes = 64 * 1024;
  so.tlsCertFile = kubeletDir_ + "/kubelet.crt";
  so.tlsKeyFile = kubeletDir_ + "/kubelet.key";
  writeFileAtomic(so.tlsKeyFile, serving.keyPem, 0600);
  writeFileAtomic(so.tlsCertFile, serving.certPem + ca.certPem, 0644);
  if (!options_.clientCaPem.empty()) {
    so.clientCaFile = kubeletDir_ + "/client-ca.crt";
    writeFileAtomic(so.clientCaFile, options_.clientCaPem, 0644);
  } else {
    SKIFF_LOG_WARN(
        "hollow kubelet endpoints have no client CA: every request but /healthz "
        "gets 401");
  }
  for (size_t i = 0; i < nodeList_.size(); ++i) {
    auto address = nodeList_[i]->internalIp + ":0";
    if (i == 0)
      so.listen = address;
    else
      so.additionalListen.push_back(address);
  }
  kubeletServer_ = std::make_unique<net::HttpServer>(
      so, [this](net::HttpRequest& req) { return serveKubelet(req); });
  kubeletServer_->start();
  auto ports = kubeletServer_->ports();
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < nodeList_.size() && i < ports.size(); ++i) {
    nodeList_[i]->kubeletPort = ports[i];
    nodesByKubeletAddress_[nodeList_[i]->internalIp + ":" + std::to_string(ports[i])] =
        nodeList_[i].get();
  }
  SKIFF_LOG_INFO("hollow-agent kubelet endpoints nodes={} first={}:{}", nodeList_.size(),
                 nodeList_.empty() ? "" : nodeList_[0]->internalIp, ports.empty() ? 0 : ports[0]);
}

void HollowAgent::stopKubeletServer() {
  if (kubeletServer_) kubeletServer_->stop();
  kubeletServer_.reset();
  if (!kubeletDir_.empty()) {
    std::error_code ec;
    fs::remove_all(kubeletDir_, ec);
    kubeletDir_.clear();
  }
}

std::string HollowAgent::kubeletAddress(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& [address, node] : nodesByKubeletAddress_)
    if (node->name == name) return address;
  return {};
}

NodeResourceStats HollowAgent::syntheticStats(const std::string& name) {
  auto now = SysClock::now();
  const int64_t nowMs = unixMillis(now);
  NodeResourceStats out;
  out.nodeName = name;
  out.usage.timeMs = nowMs;
  struct Running {
    json::object pod;
    SysClock::time_point start;
  };
  std::vector<Running> running;
  SysClock::time_point nodeStart = now;
  {
    std::lock_guard lock(mu_);
    const Node* node = findNode(name);
    if (!node) return out;
    // A stopped node is a dead machine: it answers nothing new, but there is no listener to
    // close, so it reports its pods as they were (frozen, like their statuses).
    for (const auto& ptr : podInformer_.byIndex(client::kIndexNodeName, name)) {
      if (stringAt(*ptr, {"status", "phase"}) != "Running") continue;
      auto rec = podRecords_.find(client::objectKey(*ptr));
      if (rec == podRecords_.end() || rec->second.deletingSince) continue;
      running.push_back({*ptr, rec->second.startTime});
      nodeStart = std::min(nodeStart, rec->second.startTime);
    }
  }
  out.startTimeMs = unixMillis(nodeStart);
  uint64_t nodeRate = kNodeBaseNanoCores, nodeMemory = kNodeBaseMemoryBytes;
  for (auto& r : running) {
    auto usage = syntheticUsageOf(r.pod, options_.defaultPodUsage);
    PodResourceStats p;
    p.ns = stringAt(r.pod, {"metadata", "namespace"});
    p.name = stringAt(r.pod, {"metadata", "name"});
    p.uid = stringAt(r.pod, {"metadata", "uid"});
    p.startTimeMs = unixMillis(r.start);
    std::vector<std::string> names;
    if (auto* spec = r.pod.if_contains("spec"); spec && spec->is_object())
      if (auto* list = spec->as_object().if_contains("containers"); list && list->is_array())
        for (const auto& c : list->as_array())
          if (c.is_object()) names.push_back(stringAt(c.as_object(), {"name"}));
    if (names.empty()) continue;
    const uint64_t n = names.size();
    uint64_t podCpu = 0, podMemory = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      // Even shares, the remainder on the first container, so the pod's sum is exact.
      uint64_t rate = usage.cpuNanoCores / n + (i == 0 ? usage.cpuNanoCores % n : 0);
      uint64_t mem = usage.memoryBytes / n + (i == 0 ? usage.memoryBytes % n : 0);
      ContainerResourceStats c;
      c.name = names[i];
      c.startTimeMs = p.startTimeMs;
      c.usage.timeMs = nowMs;
      c.usage.cpuCoreNanos = cpuCounters_.advance(p.uid + "/" + c.name, rate, now, r.start);
      c.usage.cpuNanoCores = rate;
      c.usage.workingSetBytes = mem;
      c.usage.usageBytes = mem;
      c.usage.rssBytes = mem;
      podCpu += *c.usage.cpuCoreNanos;
      podMemory += mem;
      p.containers.push_back(std::move(c));
    }
    p.usage.timeMs = nowMs;
    p.usage.cpuCoreNanos = podCpu;
    p.usage.cpuNanoCores = usage.cpuNanoCores;
    p.usage.workingSetBytes = podMemory;
    p.usage.usageBytes = podMemory;
    nodeRate += usage.cpuNanoCores;
    nodeMemory += podMemory;
    out.pods.push_back(std::move(p));
  }
  // The node's counter has a key of its own: it must not go back when a pod goes away.
  out.usage.cpuCoreNanos = cpuCounters_.advance("node/" + name, nodeRate, now, nodeStart);
  out.usage.cpuNanoCores = nodeRate;
  out.usage.workingSetBytes = nodeMemory;
  out.usage.usageBytes = nodeMemory;
  out.usage.rssBytes = nodeMemory;
  cpuCounters_.prune(std::chrono::minutes(10), now);
  return out;
}

net::HttpResponse HollowAgent::serveKubelet(net::HttpRequest& req) {
  const Node* node = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = nodesByKubeletAddress_.find(req.localAddress);
    if (it != nodesByKubeletAddress_.end()) node = it->second;
  }
  if (!node) return plain(404, "404 page not found\n");
  const std::string& p = req.path;
  if (p == "/healthz") return plain(200, "ok");
  if (req.identity().user.empty()) return plain(401, "Unauthorized");
  if (req.method != "GET" && req.method != "HEAD") return plain(405, "405 method not allowed\n");
  if (p == "/metrics/resource") {
    auto res = plain(200, renderResourceMetrics(syntheticStats(node->name)));
    res.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return res;
  }
  if (p == "/stats/summary") {
    net::HttpResponse res;
    res.contentType = "application/json";
    res.body = json::serialize(renderStatsSummary(syntheticStats(node->name)));
    return res;
  }
  return plain(404, "404 page not found\n");
}

}  // namespace skiff::agent
