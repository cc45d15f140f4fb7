#include "proxy/proxier.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"
#include "net/http_server.h"
#include "proxy/health_check.h"
#include "proxy/nft_netlink.h"
#include "proxy/policy_controller.h"
#include "proxy/system.h"

namespace skiff::proxy {

namespace {

const char* const kDuration = "kubeproxy_sync_proxy_rules_duration_seconds";
const char* const kLastSync = "kubeproxy_sync_proxy_rules_last_timestamp_seconds";
const char* const kFailures = "kubeproxy_sync_proxy_rules_nftables_sync_failures_total";
const char* const kSyncs = "kubeproxy_sync_proxy_rules_total";

void describeMetrics() {
  auto& m = Metrics::global();
  m.describe(kDuration, "histogram", "SyncProxyRules latency in seconds");
  m.describe(kLastSync, "gauge", "The last time proxy rules were successfully synced");
  m.describe(kFailures, "counter", "nft transactions that failed (the previous rules stayed)");
  m.describe(kSyncs, "counter", "Syncs by kind (full, partial) of the proxy rules");
}

const char* const kSliceServiceIndex = "proxyServiceName";

// "ns/service-name" of an EndpointSlice (empty when it belongs to no Service).
std::string sliceServiceKey(const boost::json::object& slice) {
  auto svc = api::stringAt(slice, {"metadata", "labels", "kubernetes.io/service-name"});
  if (svc.empty()) return "";
  return api::stringAt(slice, {"metadata", "namespace"}) + "/" + svc;
}

std::string truncated(const std::string& s, size_t n = 2000) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

}  // namespace

Proxier::Proxier(client::RestClient& client, ProxyOptions options,
                 client::SharedInformerFactory* shared)
    : client_(client),
      options_(std::move(options)),
      informers_(shared),
      healthChecks_(std::make_unique<HealthCheckServers>()) {
  if (!informers_) {
    ownInformers_ = std::make_unique<client::SharedInformerFactory>(client_);
    informers_ = ownInformers_.get();
  }
}

Proxier::~Proxier() { stop(); }

void Proxier::start() {
  describeMetrics();
  // Created before any informer handler can run (they mark it dirty); started last.
  runner_ = std::make_unique<SyncRunner>(
      SyncRunnerOptions{"proxy-sync", options_.minSyncPeriod, options_.syncPeriod,
                        options_.syncPeriod},
      [this] { return services_->hasSynced() && slices_->hasSynced(); },
      [this](bool periodic) {
        std::set<std::string> changed;
        {
          std::lock_guard lk(mu_);
          changed.swap(changed_);
        }
        // After a failure the retry is a full sync (needFull_), which covers `changed`.
        return syncOnce(periodic, changed);
      });
  if (options_.localhostNodePorts)
    previousRouteLocalnet_ = setSysctl("net.ipv4.conf.all.route_localnet", "1");
  // Replies of a pod to a pod on the same bridge are bridged, not routed: conntrack must
  // see them to undo the Service DNAT (the CNI bridge plugin relies on this too).
  setSysctl("net.bridge.bridge-nf-call-iptables", "1");

  // The skeleton first: existing Service chains and map contents stay (connections keep
  // working across a restart), the base chains and the service-CIDR reject are current.
  existing_ = parseExistingTable(listTable().output);
  auto base = runNft(renderBase(options_.config));
  if (base.exitCode != 0) {
    // A table of an incompatible layout (other version): replace it once, from scratch.
    SKIFF_LOG_WARN("proxy: base rules failed, recreating table ip skiff error=\"{}\"",
                   truncated(base.output));
    deleteTable();
    existing_ = {};
    base = runNft(renderBase(options_.config));
    if (base.exitCode != 0)
      throw std::runtime_error("nft failed to install table ip skiff: " + base.output);
  }
  if (options_.netlinkElements) {
    try {
      netlink_ = std::make_unique<NftNetlink>();
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("proxy: no netlink socket, map elements go through nft error=\"{}\"",
                     e.what());
    }
  }
  SKIFF_LOG_INFO("proxy: base rules installed table=ip skiff serviceCidr={} existingChains={}",
                 options_.config.serviceCidr, existing_.chains.size());

  auto alive = alive_;
  auto keyOf = [](const boost::json::object& o) {
    return api::stringAt(o, {"metadata", "namespace"}) + "/" +
           api::stringAt(o, {"metadata", "name"});
  };
  client::ResourceEventHandlers serviceHandlers{
      [this, alive, keyOf](const boost::json::object& o) {
        if (*alive) markChanged(keyOf(o));
      },
      [this, alive, keyOf](const boost::json::object&, const boost::json::object& o) {
        if (*alive) markChanged(keyOf(o));
      },
      [this, alive, keyOf](const boost::json::object& o) {
        if (*alive) markChanged(keyOf(o));
      }};
  client::ResourceEventHandlers sliceHandlers{
      [this, alive](const boost::json::object& o) {
        if (*alive) markChanged(sliceServiceKey(o));
      },
      [this, alive](const boost::json::object& old, const boost::json::object& o) {
        if (!*alive) return;
        auto before = sliceServiceKey(old), after = sliceServiceKey(o);
        if (before != after) markChanged(before);
        markChanged(after);
      },
      [this, alive](const boost::json::object& o) {
        if (*alive) markChanged(sliceServiceKey(o));
      }};
  services_ = &informers_->informer(client::resources::services);
  slices_ = &informers_->informer(client::resources::endpointSlices);
  // The slices of one Service without scanning all of them (a shared informer: the index
  // name is the proxy's own).
  slices_->addIndexer(kSliceServiceIndex, [](const boost::json::object& o) {
    auto key = sliceServiceKey(o);
    return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
  });
  client::ListOptions nodeSel;
  nodeSel.fieldSelector = "metadata.name=" + options_.config.nodeName;
  // The Node only feeds /healthz (deletionTimestamp); it changes no rule.
  node_ = &informers_->informer(client::resources::nodes, "", nodeSel);
  services_->addEventHandler(serviceHandlers);
  slices_->addEventHandler(sliceHandlers);
  if (options_.networkPolicy) {
    if (options_.policyClient)
      policyInformers_ = std::make_unique<client::SharedInformerFactory>(*options_.policyClient);
    policy_ = std::make_unique<PolicyController>(policyInformers_ ? *policyInformers_ : *informers_,
                                                 options_.config.nodeName, options_.minSyncPeriod,
                                                 options_.syncPeriod);
    policy_->start();
    if (policyInformers_) policyInformers_->start();
  }
  informers_->start();

  if (!options_.healthzBindAddress.empty()) {
    net::HttpServerOptions ho;
    ho.listen = options_.healthzBindAddress;
    ho.threads = 1;
    ho.blockingThreads = 1;
    health_ = std::make_unique<net::HttpServer>(ho, [this](net::HttpRequest& req) {
      net::HttpResponse res;
      if (req.method != "GET" && req.method != "HEAD")
        throw ApiError(405, "MethodNotAllowed", "the server does not allow this method");
      if (req.path == "/metrics") {
        res.contentType = "text/plain; version=0.0.4; charset=utf-8";
        res.body = Metrics::global().render();
      } else if (req.path == "/healthz" || req.path == "/livez") {
        res.status = healthy() ? 200 : 503;
        res.body = healthzBody();
      } else {
        throw ApiError(404, "NotFound", "the server could not find the requested resource");
      }
      return res;
    });
    try {
      health_->start();
      SKIFF_LOG_INFO("proxy: healthz served address=http://{}/healthz",
                     options_.healthzBindAddress);
    } catch (const std::exception& e) {
      health_.reset();
      if (!options_.healthzOptional) throw;
      SKIFF_LOG_WARN("proxy: healthz not served address={} error=\"{}\"",
                     options_.healthzBindAddress, e.what());
    }
  }
  runner_->start();
}

void Proxier::stop() {
  *alive_ = false;
  if (runner_) runner_->stop();
  if (policy_) policy_->stop();
  if (policyInformers_) policyInformers_->stop();
  if (health_) {
    health_->stop();
    health_.reset();
  }
  healthChecks_->stopAll();
  if (ownInformers_) ownInformers_->stop();
  if (options_.restoreSysctlsOnStop && !previousRouteLocalnet_.empty() &&
      previousRouteLocalnet_ != "1") {
    setSysctl("net.ipv4.conf.all.route_localnet", previousRouteLocalnet_);
    previousRouteLocalnet_.clear();
  }
}

void Proxier::markChanged(const std::string& serviceKey) {
  if (serviceKey.empty()) return;
  {
    std::lock_guard lk(mu_);
    changed_.insert(serviceKey);
  }
  if (runner_) runner_->markDirty();
}

bool Proxier::healthy() const {
  // Upstream's rule: unhealthy when changes have waited for longer than 2 sync periods
  // (rules are not being applied), or the node is being deleted.
  auto pending = runner_ ? runner_->pendingSince() : std::nullopt;
  if (pending && std::chrono::steady_clock::now() - *pending > 2 * options_.syncPeriod)
    return false;
  if (node_) {
    auto node = node_->get(options_.config.nodeName);
    if (node && api::valueAt(*node, {"metadata", "deletionTimestamp"})) return false;
  }
  return true;
}

std::string Proxier::healthzBody() const {
  std::chrono::system_clock::time_point last;
  {
    std::lock_guard lk(mu_);
    last = lastSynced_;
  }
  bool eligible = true;
  if (node_) {
    auto node = node_->get(options_.config.nodeName);
    eligible = !(node && api::valueAt(*node, {"metadata", "deletionTimestamp"}));
  }
  boost::json::object o{{"lastUpdated", formatTime(last)},
                        {"currentTime", formatTime(std::chrono::system_clock::now())},
                        {"nodeEligible", eligible}};
  return boost::json::serialize(o);
}

std::string Proxier::apply(const SplitTransaction& t) {
  auto nft = [](const std::string& script) -> std::string {
    if (script.empty()) return "";
    auto r = runNft(script);
    return r.exitCode == 0 ? ""
                           : "nft: " + r.output + " script=\"" + truncated(script, 1000) + "\"";
  };
  if (!netlink_) return nft(joinAsText(t));
  if (auto e = nft(t.before); !e.empty()) return e;
  if (!t.flush.empty() || !t.elements.empty()) {
    auto e = netlink_->commit(t.flush, t.elements);
    if (!e.empty()) return e;
  }
  return nft(t.after);
}

std::vector<ServicePort> Proxier::portsOf(const std::string& serviceKey) const {
  ObjectList services;
  if (auto svc = services_->get(serviceKey)) services.push_back(std::move(svc));
  if (services.empty()) return {};
  return buildServicePorts(services, slices_->byIndex(kSliceServiceIndex, serviceKey),
                           options_.config);
}

bool Proxier::syncOnce(bool all, const std::set<std::string>& changed) {
  auto start = std::chrono::steady_clock::now();
  auto& metrics = Metrics::global();
  // Someone flushed or deleted our table (nft flush ruleset, a restart of firewalld): the
  // next transaction must rebuild everything, not patch what is no longer there.
  // Checked on the periodic syncs only: a change-driven sync would fork nft twice.
  if (all && !needFull_ && runNft("list chain ip skiff services\n").exitCode != 0) {
    SKIFF_LOG_WARN("proxy: table ip skiff is gone or damaged; full resync");
    needFull_ = true;
    existing_ = parseExistingTable(listTable().output);
  }
  const bool full = needFull_;
  // The Services to recompute: every one (first, periodic or recovering sync) or the
  // changed ones; a Service that is gone gets an empty share.
  std::map<std::string, std::vector<ServicePort>> next;
  if (full || all) {
    for (auto& [key, _] : ports_) next[key];
    auto ports = buildServicePorts(services_->list(), slices_->list(), options_.config);
    for (auto& sp : ports) next[sp.ns + "/" + sp.name].push_back(std::move(sp));
  } else {
    for (auto& key : changed) next[key] = portsOf(key);
  }
  std::map<std::string, NftState> shares;
  for (auto& [key, ports] : next) shares[key] = desiredState(ports, options_.config);

  SplitTransaction transaction;
  if (full) {
    model_.reset(std::move(shares));
    transaction = splitFull(model_.state(), existing_, options_.config);
  } else {
    auto change = model_.update(std::move(shares));
    transaction = splitDiff(change.before, change.after);
  }
  const size_t elementCount = transaction.elements.size();
  auto applyStart = std::chrono::steady_clock::now();
  auto error = apply(transaction);
  double applyMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - applyStart)
          .count();
  if (!error.empty()) {
    // Each step is atomic: a failed one changed nothing, and the steps before it only added
    // chains nothing points at yet. The model no longer matches the kernel, so the retry is
    // a full sync that rebuilds it.
    metrics.increment(kFailures, {});
    SKIFF_LOG_ERROR("proxy: rules transaction failed, previous rules kept full={} error=\"{}\"",
                    full, truncated(error));
    needFull_ = true;
    existing_ = parseExistingTable(listTable().output);
    return false;
  }
  const bool changedAny = !transaction.before.empty() || !transaction.after.empty() ||
                          !transaction.flush.empty() || elementCount > 0;
  std::vector<ServicePort> before, after;
  bool healthPorts = full;
  static const std::vector<ServicePort> kNone;
  for (auto& [key, ports] : next) {
    auto it = ports_.find(key);
    if ((it == ports_.end() ? kNone : it->second) == ports) continue;  // most of a resync
    if (it != ports_.end())
      for (auto& sp : it->second) {
        healthPorts = healthPorts || sp.healthCheckNodePort > 0;
        before.push_back(sp);
      }
    for (auto& sp : ports) {
      healthPorts = healthPorts || sp.healthCheckNodePort > 0;
      after.push_back(sp);
    }
  }
  // Not after the first sync of this process: every Service would look new, and flushing
  // their flows would move live UDP clients to other endpoints for nothing.
  if (!firstSync_) {
    auto flows = staleUdpFlows(before, after);
    if (!flows.empty()) flushConntrack(flows);
  }
  firstSync_ = false;
  for (auto& [key, ports] : next) {
    if (ports.empty())
      ports_.erase(key);
    else
      ports_[key] = std::move(ports);
  }
  if (healthPorts) {
    std::vector<ServicePort> every;
    for (auto& [_, ports] : ports_) every.insert(every.end(), ports.begin(), ports.end());
    healthChecks_->sync(healthCheckTargets(every));
  }
  if (full || changedAny)
    SKIFF_LOG_INFO(
        "proxy: rules synced full={} services={} recomputed={} elements={} netlink={} "
        "applyMs={:.1f}",
        full, model_.services(), next.size(), elementCount, netlink_ != nullptr, applyMs);
  needFull_ = false;
  existing_ = {};
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.observe(kDuration, {}, secs, Metrics::exponentialBuckets(0.001, 2, 15));
  metrics.increment(kSyncs, {{"kind", full ? "full" : "partial"}});
  auto now = std::chrono::system_clock::now();
  metrics.setGauge(kLastSync, std::chrono::duration<double>(now.time_since_epoch()).count());
  std::lock_guard lk(mu_);
  lastSynced_ = now;
  return true;
}

}  // namespace skiff::proxy
