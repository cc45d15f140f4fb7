#include "agent/hollow_agent.h"

#include <algorithm>
#include <boost/json.hpp>
#include <stdexcept>

#include "client/node_lease.h"
#include "common/api_error.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "net/http_server.h"

namespace json = boost::json;

namespace skiff::agent {
namespace {

using Clock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

constexpr const char* kKubeletVersion = "v1.32.0-skiff-hollow";
constexpr const char* kRuntimeVersion = "hollow://1.0.0";
// Upstream's default when a pod does not say (terminationGracePeriodSeconds).
constexpr int64_t kDefaultGraceSeconds = 30;

// Null-safe access: malformed objects from the API must never crash the agent.
const json::object* objAt(const json::object& o, std::initializer_list<const char*> path) {
  const json::object* cur = &o;
  for (const char* k : path) {
    auto* v = cur->if_contains(k);
    if (!v || !v->is_object()) return nullptr;
    cur = &v->as_object();
  }
  return cur;
}
std::string str(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::string strAt(const json::object& o, std::initializer_list<const char*> parents,
                  const char* k) {
  auto* p = objAt(o, parents);
  return p ? str(*p, k) : std::string();
}
const json::array* arr(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
int64_t intOr(const json::object* o, const char* k, int64_t fallback) {
  if (!o) return fallback;
  auto* v = o->if_contains(k);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

// Stable 64-hex-digit ids (containerIDs, imageIDs) from a seed.
std::string hex64(std::string_view seed) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  uint64_t h = fnv1a(seed);
  for (int round = 0; out.size() < 64; ++round) {
    h = fnv1a(std::to_string(round), h);
    for (int i = 0; i < 16; ++i) out += digits[(h >> (i * 4)) & 0xf];
  }
  return out;
}

// The condition `type` of a status.conditions array, or nullptr.
const json::object* findCondition(const json::object* status, std::string_view type) {
  if (!status) return nullptr;
  auto* conds = arr(*status, "conditions");
  if (!conds) return nullptr;
  for (auto& c : *conds)
    if (c.is_object() && str(c.as_object(), "type") == type) return &c.as_object();
  return nullptr;
}

// A condition whose lastTransitionTime only moves when its status does.
json::object condition(const json::object* currentStatus, const std::string& type,
                       const std::string& status, const std::string& reason,
                       const std::string& message, const std::string& now) {
  json::object c{{"type", type}, {"status", status}};
  std::string transition = now;
  if (auto* cur = findCondition(currentStatus, type); cur && str(*cur, "status") == status) {
    auto t = str(*cur, "lastTransitionTime");
    if (!t.empty()) transition = t;
  }
  c["lastProbeTime"] = nullptr;
  c["lastTransitionTime"] = transition;
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

bool runsToCompletion(const json::object& pod) {
  auto policy = strAt(pod, {"spec"}, "restartPolicy");
  return policy == "Never" || policy == "OnFailure";
}

// Container names of spec.<field> (skipping malformed entries).
std::vector<std::pair<std::string, std::string>> containersOf(const json::object& pod,
                                                              const char* field) {
  std::vector<std::pair<std::string, std::string>> out;
  auto* spec = objAt(pod, {"spec"});
  auto* list = spec ? arr(*spec, field) : nullptr;
  if (!list) return out;
  for (auto& c : *list) {
    if (!c.is_object()) continue;
    auto name = str(c.as_object(), "name");
    if (!name.empty()) out.emplace_back(name, str(c.as_object(), "image"));
  }
  return out;
}

std::string imageId(const std::string& image) {
  auto repo = image.substr(0, image.find_first_of("@:"));
  return (repo.empty() ? std::string("hollow") : repo) + "@sha256:" + hex64(image);
}

}  // namespace

std::map<std::string, std::string> parseNodeLabels(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto end = text.find(',', start);
    auto item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) {
      auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("invalid label \"" + item + "\": want key=value");
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::vector<Taint> parseTaints(const std::string& text) {
  std::vector<Taint> out;
  size_t start = 0;
  while (!text.empty()) {
    auto end = text.find(',', start);
    auto item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) {
      auto colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0)
        throw std::invalid_argument("invalid taint \"" + item + "\": want key=value:Effect");
      Taint t;
      t.effect = item.substr(colon + 1);
      if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute")
        throw std::invalid_argument("invalid taint effect \"" + t.effect + "\"");
      auto kv = item.substr(0, colon);
      auto eq = kv.find('=');
      t.key = kv.substr(0, eq);
      if (eq != std::string::npos) t.value = kv.substr(eq + 1);
      if (t.key.empty()) throw std::invalid_argument("invalid taint \"" + item + "\": empty key");
      out.push_back(std::move(t));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

int heartbeatWorkersFor(int nodes) { return std::clamp((nodes + 99) / 100, 2, 64); }
int podWorkersFor(int nodes) { return std::clamp((nodes + 99) / 100, 4, 64); }

int HollowOptions::heartbeatThreads() const {
  return heartbeatWorkers > 0 ? heartbeatWorkers : heartbeatWorkersFor(nodes);
}
int HollowOptions::podThreads() const { return podWorkers > 0 ? podWorkers : podWorkersFor(nodes); }

HollowAgent::HollowAgent(client::RestClient& client, HollowOptions options)
    : client_(client),
      options_(std::move(options)),
      nodeInformer_(client, client::resources::nodes),
      podInformer_(
          client, client::resources::pods, "",
          options_.ownNodeOnly
              ? client::ListOptions{.fieldSelector = "spec.nodeName=" + options_.namePrefix + "-0"}
              : client::ListOptions{}),
      heartbeats_("hollow-heartbeats", client::RateLimiterOptions{.qps = 0}),
      pods_("hollow-pods", client::RateLimiterOptions{.qps = 0}) {
  // A per-agent-unique InternalIP block: 1024 blocks of 4096 addresses chosen by the name
  // prefix, in 100.64.0.0/10 (shared address space, never routed here) — or, when the nodes
  // serve kubelet endpoints, in 127.64.0.0/10, loopback addresses this machine answers on
  // without any configuration, so each node listens at its own InternalIP.
  uint32_t block = static_cast<uint32_t>(fnv1a(options_.namePrefix) % 1024);
  uint32_t base =
      options_.serveKubelet ? ((127u << 24) | (64u << 16)) : ((100u << 24) | (64u << 16));
  for (int i = 0; i < options_.nodes; ++i) {
    auto n = std::make_unique<Node>();
    n->name = options_.namePrefix + "-" + std::to_string(i);
    n->index = static_cast<size_t>(i);
    uint32_t offset = (block * 4096 + 1 + static_cast<uint32_t>(i)) % (1u << 22);
    n->internalIp = formatIpv4(base + offset);
    nodesByName_[n->name] = n.get();
    nodeList_.push_back(std::move(n));
  }
  podInformer_.addIndexer(client::kIndexNodeName, client::indexByNodeName);
  nodeInformer_.addEventHandler({
      .onAdd = [this](const json::object& n) { onNode(n); },
      .onUpdate = [this](const json::object&, const json::object& n) { onNode(n); },
      .onDelete = [this](const json::object& n) { onNodeDeleted(n); },
  });
  auto podEvent = [this](const json::object& pod) {
    auto nodeName = strAt(pod, {"spec"}, "nodeName");
    auto key = client::objectKey(pod);
    bool ours = nodesByName_.count(nodeName) > 0;
    if (!ours) {
      // A pod we handled may have been rebound or recreated elsewhere under the same name.
      std::lock_guard lock(mu_);
      if (!podRecords_.count(key)) return;
    }
    pods_.add(key);
  };
  podInformer_.addEventHandler({
      .onAdd = podEvent,
      .onUpdate = [podEvent](const json::object&, const json::object& p) { podEvent(p); },
      .onDelete = podEvent,
  });
}

HollowAgent::~HollowAgent() { stop(); }

HollowAgent::Node* HollowAgent::findNode(const std::string& name) {
  auto it = nodesByName_.find(name);
  return it == nodesByName_.end() ? nullptr : it->second;
}
const HollowAgent::Node* HollowAgent::findNode(const std::string& name) const {
  auto it = nodesByName_.find(name);
  return it == nodesByName_.end() ? nullptr : it->second;
}

std::chrono::milliseconds HollowAgent::spreadOffset(size_t index) const {
  // Node i first renews at i/N of the interval, so N nodes renew evenly, not in one burst.
  auto n = std::max(1, options_.nodes);
  return std::chrono::milliseconds(options_.leaseRenewInterval.count() *
                                   static_cast<int64_t>(index) / n);
}

void HollowAgent::start(std::chrono::milliseconds syncTimeout) {
  if (started_) return;
  started_ = true;
  SKIFF_LOG_INFO("hollow-agent starting simulated kubelets nodes={} prefix={} (no containers run)",
                 options_.nodes, options_.namePrefix);
  nodeInformer_.start();
  podInformer_.start();
  if (!nodeInformer_.waitForSync(syncTimeout) || !podInformer_.waitForSync(syncTimeout))
    throw std::runtime_error("hollow agent: informers did not sync");
  adoptRunningPods();
  // Before registration: the node status publishes each node's kubelet port.
  if (options_.serveKubelet) startKubeletServer();
  for (int i = 0, n = options_.heartbeatThreads(); i < n; ++i)
    threads_.emplace_back(namedThread("hollow-beat", [this] { heartbeatWorker(); }));
  for (int i = 0, n = options_.podThreads(); i < n; ++i)
    threads_.emplace_back(namedThread("hollow-pod", [this] { podWorker(); }));
  for (auto& n : nodeList_) heartbeats_.add("register/" + n->name);
}

void HollowAgent::stop() {
  if (stopping_.exchange(true)) return;
  heartbeats_.shutDown();
  pods_.shutDown();
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopKubeletServer();
  podInformer_.stop();
  nodeInformer_.stop();
  if (started_)
    SKIFF_LOG_INFO("hollow-agent stopped; its {} nodes stop heartbeating", options_.nodes);
}

// After a restart, pods already Running keep their addresses and start times: mark them
// before any new pod gets an address so nothing is handed out twice.
void HollowAgent::adoptRunningPods() {
  std::lock_guard lock(mu_);
  for (auto& n : nodeList_) {
    if (auto node = nodeInformer_.get(n->name)) {
      n->uid = strAt(*node, {"metadata"}, "uid");
      auto cidr = strAt(*node, {"spec"}, "podCIDR");
      if (!cidr.empty() && n->ips.cidr() != cidr) n->ips.reset(cidr);
    }
  }
  size_t adopted = 0;
  for (auto& pod : podInformer_.list()) {
    auto* node = findNode(strAt(*pod, {"spec"}, "nodeName"));
    if (!node || !node->ips.valid()) continue;
    auto phase = strAt(*pod, {"status"}, "phase");
    auto ip = strAt(*pod, {"status"}, "podIP");
    if (phase != "Running" || ip.empty() || !node->ips.occupy(ip)) continue;
    PodRecord rec;
    rec.uid = strAt(*pod, {"metadata"}, "uid");
    rec.node = node->name;
    rec.ip = ip;
    rec.startTime = SysClock::now();
    parseTime(strAt(*pod, {"status"}, "startTime"), rec.startTime);
    podRecords_[client::objectKey(*pod)] = std::move(rec);
    ++adopted;
  }
  if (adopted) SKIFF_LOG_INFO("hollow-agent adopted running pods count={}", adopted);
}

// ---------------------------------------------------------------- informer handlers

void HollowAgent::onNode(const json::object& obj) {
  auto name = strAt(obj, {"metadata"}, "name");
  bool cidrArrived = false, needsStatus = false;
  {
    std::lock_guard lock(mu_);
    auto* node = findNode(name);
    if (!node) return;
    node->uid = strAt(obj, {"metadata"}, "uid");
    auto cidr = strAt(obj, {"spec"}, "podCIDR");
    if (!cidr.empty() && node->ips.cidr() != cidr) {
      // A changed range invalidates the addresses handed out; in practice the range only
      // ever arrives once (nodeipam never moves it).
      if (node->ips.reset(cidr))
        cidrArrived = true;
      else
        SKIFF_LOG_WARN("hollow-agent node={} unusable podCIDR={}", name, cidr);
    }
    // Something else (the node lifecycle controller after a stop) changed Ready while we
    // are alive: report again now rather than at the next periodic post.
    auto* ready = findCondition(objAt(obj, {"status"}), "Ready");
    if (node->registered && !node->stopped && !node->deleted &&
        (!ready || str(*ready, "status") != "True"))
      needsStatus = true;
  }
  if (needsStatus) heartbeats_.add("status/" + name);
  if (cidrArrived) {
    SKIFF_LOG_INFO("hollow-agent node={} podCIDR={} network ready", name,
                   strAt(obj, {"spec"}, "podCIDR"));
    enqueuePodsOf(name);
  }
}

void HollowAgent::onNodeDeleted(const json::object& obj) {
  auto name = strAt(obj, {"metadata"}, "name");
  {
    std::lock_guard lock(mu_);
    auto* node = findNode(name);
    if (!node) return;
    // Like a kubelet whose Node object was removed: stop reporting; pods are forgotten.
    node->deleted = true;
    node->registered = false;
    node->uid.clear();
    node->ips.reset("");
    for (auto it = podRecords_.begin(); it != podRecords_.end();) {
      if (it->second.node == name)
        it = podRecords_.erase(it);
      else
        ++it;
    }
  }
  SKIFF_LOG_INFO("hollow-agent node={} was deleted; it stops heartbeating and forgets its pods",
                 name);
}

void HollowAgent::enqueuePodsOf(const std::string& node) {
  for (auto& pod : podInformer_.byIndex(client::kIndexNodeName, node))
    pods_.add(client::objectKey(*pod));
}

// ---------------------------------------------------------------- heartbeats

void HollowAgent::heartbeatWorker() {
  while (auto key = heartbeats_.get()) {
    if (!stopping_) {
      try {
        handleHeartbeat(*key);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("hollow-agent task={} failed error=\"{}\"", *key, e.what());
      }
    }
    heartbeats_.done(*key);
  }
}

void HollowAgent::handleHeartbeat(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return;
  auto kind = key.substr(0, slash), name = key.substr(slash + 1);
  {
    std::lock_guard lock(mu_);
    auto* node = findNode(name);
    // A stopped node's timers simply lapse; startNode re-arms them.
    if (!node || node->stopped) return;
    if (kind != "register" && (node->deleted || !node->registered)) return;
  }
  if (kind == "register")
    registerNode(name);
  else if (kind == "lease")
    renewLease(name);
  else if (kind == "status")
    postStatus(name);
}

void HollowAgent::registerNode(const std::string& name) {
  Node* node;
  {
    std::lock_guard lock(mu_);
    node = findNode(name);
  }
  try {
    auto existing = nodeInformer_.get(name);
    if (!existing) {
      json::object labels{
          {"kubernetes.io/hostname", name},     {"kubernetes.io/os", "linux"},
          {"kubernetes.io/arch", "amd64"},      {"beta.kubernetes.io/os", "linux"},
          {"beta.kubernetes.io/arch", "amd64"}, {"node.kubernetes.io/instance-type", "hollow"},
          {"skiff.io/hollow-node", "true"}};
      for (auto& [k, v] : options_.labels) labels[k] = v;
      json::array taints;
      for (auto& t : options_.taints) {
        json::object taint{{"key", t.key}, {"effect", t.effect}};
        if (!t.value.empty()) taint["value"] = t.value;
        taints.push_back(std::move(taint));
      }
      json::object spec;
      if (!taints.empty()) spec["taints"] = std::move(taints);
      json::object obj{{"apiVersion", "v1"},
                       {"kind", "Node"},
                       {"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}},
                       {"spec", std::move(spec)}};
      try {
        auto created = client_.create(client::resources::nodes, "", obj);
        std::lock_guard lock(mu_);
        node->uid = strAt(created, {"metadata"}, "uid");
      } catch (const ApiError& e) {
        if (e.code() != 409) throw;
        // Registered meanwhile (another agent run): adopt it like kubelet does.
        auto got = client_.get(client::resources::nodes, "", name);
        std::lock_guard lock(mu_);
        node->uid = strAt(got, {"metadata"}, "uid");
      }
    }
    {
      std::lock_guard lock(mu_);
      node->registered = true;
      node->deleted = false;
    }
    postStatus(name);
    heartbeats_.addAfter("lease/" + name, spreadOffset(node->index));
    SKIFF_LOG_DEBUG("hollow-agent node={} registered", name);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("hollow-agent node={} registration failed, retrying error=\"{}\"", name,
                   e.what());
    std::lock_guard lock(mu_);
    node->registered = false;
    heartbeats_.addAfter("register/" + name, std::chrono::seconds(2));
  }
}

void HollowAgent::renewLease(const std::string& name) {
  std::string uid;
  {
    std::lock_guard lock(mu_);
    uid = findNode(name)->uid;
  }
  try {
    client::renewNodeLease(client_, name, uid, options_.leaseDurationSeconds);
    heartbeats_.addAfter("lease/" + name, options_.leaseRenewInterval);
  } catch (const std::exception& e) {
    // Upstream retries a failed renewal sooner (200 ms doubling up to 7 s); one short retry
    // keeps the lease alive across a blip without hammering a struggling server.
    SKIFF_LOG_WARN("hollow-agent node={} lease renewal failed error=\"{}\"", name, e.what());
    heartbeats_.addAfter("lease/" + name, std::chrono::seconds(1));
  }
}

json::object HollowAgent::nodeStatus(const Node& node, const json::object* current) const {
  auto now = formatTime(SysClock::now());
  const json::object* cur = current ? objAt(*current, {"status"}) : nullptr;
  json::object resources{{"cpu", options_.cpu},
                         {"memory", options_.memory},
                         {"ephemeral-storage", options_.ephemeralStorage},
                         {"pods", std::to_string(options_.maxPods)}};
  json::array conditions;
  auto add = [&](const char* type, const char* status, const char* reason, const char* message) {
    auto c = condition(cur, type, status, reason, message, now);
    c.erase("lastProbeTime");
    c["lastHeartbeatTime"] = now;
    conditions.push_back(std::move(c));
  };
  add("MemoryPressure", "False", "KubeletHasSufficientMemory",
      "kubelet has sufficient memory available");
  add("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure");
  add("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available");
  add("Ready", "True", "KubeletReady", "kubelet is posting ready status (hollow node)");
  auto id = hex64(node.name).substr(0, 32);
  return json::object{
      {"capacity", resources},
      {"allocatable", resources},
      {"conditions", std::move(conditions)},
      {"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", node.internalIp}},
                                json::object{{"type", "Hostname"}, {"address", node.name}}}},
      {"daemonEndpoints",
       json::object{{"kubeletEndpoint", json::object{{"Port", node.kubeletPort}}}}},
      {"nodeInfo", json::object{{"machineID", id},
                                {"systemUUID", id.substr(0, 8) + "-" + id.substr(8, 4) + "-" +
                                                   id.substr(12, 4) + "-" + id.substr(16, 4) + "-" +
                                                   id.substr(20, 12)},
                                {"bootID", hex64(node.name + "/boot").substr(0, 32)},
                                {"kernelVersion", "6.1.0-hollow"},
                                {"osImage", "Skiff Hollow Node"},
                                {"containerRuntimeVersion", kRuntimeVersion},
                                {"kubeletVersion", kKubeletVersion},
                                {"kubeProxyVersion", kKubeletVersion},
                                {"operatingSystem", "linux"},
                                {"architecture", "amd64"}}},
  };
}

void HollowAgent::postStatus(const std::string& name) {
  json::object status;
  {
    std::lock_guard lock(mu_);
    auto current = nodeInformer_.get(name);
    status = nodeStatus(*findNode(name), current.get());
  }
  try {
    client_.patchNoResult(client::resources::nodes, "", name, client::PatchType::Merge,
                          json::object{{"status", std::move(status)}}, "status");
    // The next periodic post, spread like the leases.
    heartbeats_.addAfter("status/" + name, options_.statusReportInterval);
  } catch (const ApiError& e) {
    if (e.code() == 404) {
      // The Node is gone; onNodeDeleted (from the informer) does the bookkeeping.
      SKIFF_LOG_INFO("hollow-agent node={} status post: node not found", name);
      return;
    }
    SKIFF_LOG_WARN("hollow-agent node={} status post failed error=\"{}\"", name, e.what());
    heartbeats_.addAfter("status/" + name, std::chrono::seconds(2));
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("hollow-agent node={} status post failed error=\"{}\"", name, e.what());
    heartbeats_.addAfter("status/" + name, std::chrono::seconds(2));
  }
}

// ---------------------------------------------------------------- control

bool HollowAgent::stopNode(const std::string& name) {
  std::lock_guard lock(mu_);
  auto* node = findNode(name);
  if (!node) return false;
  if (!node->stopped)
    SKIFF_LOG_INFO("hollow-agent node={} stopped (no heartbeats, pods frozen)", name);
  node->stopped = true;
  return true;
}

bool HollowAgent::startNode(const std::string& name) {
  bool wasStopped, needsRegister;
  {
    std::lock_guard lock(mu_);
    auto* node = findNode(name);
    if (!node) return false;
    wasStopped = node->stopped;
    node->stopped = false;
    needsRegister = node->deleted || !node->registered;
  }
  if (needsRegister) {
    heartbeats_.add("register/" + name);
  } else if (wasStopped) {
    SKIFF_LOG_INFO("hollow-agent node={} started again", name);
    heartbeats_.add("lease/" + name);
    heartbeats_.add("status/" + name);
  }
  enqueuePodsOf(name);
  return true;
}

std::vector<HollowAgent::NodeInfo> HollowAgent::nodes() const {
  std::lock_guard lock(mu_);
  std::vector<NodeInfo> out;
  std::unordered_map<std::string, size_t> pods;
  for (auto& [key, rec] : podRecords_)
    if (!rec.ip.empty()) ++pods[rec.node];
  for (auto& n : nodeList_) {
    NodeInfo info;
    info.name = n->name;
    info.state = n->stopped      ? "stopped"
                 : n->deleted    ? "deleted"
                 : n->registered ? "running"
                                 : "registering";
    info.podCIDR = n->ips.cidr();
    info.pods = pods[n->name];
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> HollowAgent::nodeNames() const {
  std::vector<std::string> out;
  for (auto& n : nodeList_) out.push_back(n->name);
  return out;
}

// ---------------------------------------------------------------- pods

void HollowAgent::podWorker() {
  while (auto key = pods_.get()) {
    if (!stopping_) {
      try {
        syncPod(*key);
        pods_.forget(*key);
      } catch (const ApiError& e) {
        if (e.code() != 409)
          SKIFF_LOG_WARN("hollow-agent pod={} sync failed error=\"{}\"", *key, e.what());
        pods_.addRateLimited(*key);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("hollow-agent pod={} sync failed error=\"{}\"", *key, e.what());
        pods_.addRateLimited(*key);
      }
    }
    pods_.done(*key);
  }
}

void HollowAgent::forgetPodLocked(const std::string& key) {
  auto it = podRecords_.find(key);
  if (it == podRecords_.end()) return;
  if (!it->second.ip.empty())
    if (auto* node = findNode(it->second.node)) node->ips.release(it->second.ip);
  podRecords_.erase(it);
}

void HollowAgent::syncPod(const std::string& key) {
  auto pod = podInformer_.get(key);
  auto now = SysClock::now();
  bool ready = false, succeeded = false;
  PodRecord snapshot;
  {
    std::lock_guard lock(mu_);
    auto uid = pod ? strAt(*pod, {"metadata"}, "uid") : std::string();
    // Gone, or a new pod under the same name: the old one's address is free again.
    if (auto it = podRecords_.find(key); it != podRecords_.end() && (!pod || it->second.uid != uid))
      forgetPodLocked(key);
    if (!pod) return;
    auto nodeName = strAt(*pod, {"spec"}, "nodeName");
    auto* node = findNode(nodeName);
    if (!node) {
      forgetPodLocked(key);
      return;
    }
    if (node->stopped) return;  // a dead machine reports nothing
    if (node->deleted) {
      forgetPodLocked(key);
      return;
    }
    auto* meta = objAt(*pod, {"metadata"});
    if (meta && meta->contains("deletionTimestamp")) {
      auto& rec = podRecords_[key];
      if (rec.uid.empty()) {
        rec.uid = uid;
        rec.node = nodeName;
      }
      if (!rec.deletingSince) rec.deletingSince = Clock::now();
      auto* spec = objAt(*pod, {"spec"});
      int64_t grace = intOr(meta, "deletionGracePeriodSeconds",
                            intOr(spec, "terminationGracePeriodSeconds", kDefaultGraceSeconds));
      auto delay = std::min<std::chrono::milliseconds>(
          options_.terminationDelay, std::chrono::seconds(std::max<int64_t>(0, grace)));
      auto due = *rec.deletingSince + delay;
      if (Clock::now() < due) {
        pods_.addAfter(key,
                       std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()) +
                           std::chrono::milliseconds(1));
        return;
      }
      snapshot = rec;
    } else {
      auto phase = strAt(*pod, {"status"}, "phase");
      if (phase == "Succeeded" || phase == "Failed") {
        // Terminated pods keep no address (their sandbox is gone).
        forgetPodLocked(key);
        return;
      }
      if (!node->ips.valid()) return;  // network not ready: started when the podCIDR arrives
      auto it = podRecords_.find(key);
      if (it == podRecords_.end()) {
        PodRecord rec;
        rec.uid = uid;
        rec.node = nodeName;
        rec.startTime = now;
        auto ip = node->ips.allocate();
        if (!ip) {
          SKIFF_LOG_WARN("hollow-agent node={} pod={} no address left in {}", nodeName, key,
                         node->ips.cidr());
          pods_.addAfter(key, std::chrono::seconds(5));
          return;
        }
        rec.ip = *ip;
        it = podRecords_.emplace(key, std::move(rec)).first;
      }
      auto& rec = it->second;
      auto readyAt = rec.startTime + options_.readinessDelay;
      ready = now >= readyAt;
      if (!ready)
        pods_.addAfter(key, std::chrono::duration_cast<std::chrono::milliseconds>(readyAt - now) +
                                std::chrono::milliseconds(1));
      if (runsToCompletion(*pod)) {
        auto doneAt = rec.startTime + options_.jobDuration;
        succeeded = now >= doneAt;
        if (!succeeded)
          pods_.addAfter(key, std::chrono::duration_cast<std::chrono::milliseconds>(doneAt - now) +
                                  std::chrono::milliseconds(1));
      }
      snapshot = rec;
    }
  }

  if (snapshot.deletingSince) {
    finishDeletion(*pod, key);
    return;
  }
  auto status = podStatus(*pod, snapshot, ready, succeeded);
  // Skip writes that would change nothing: compare with what the server holds, and with what
  // we last wrote (in case the server normalizes a field and the two never compare equal).
  auto* current = objAt(*pod, {"status"});
  if (current && json::value(*current) == json::value(status)) return;
  auto fingerprint = fnv1a(json::serialize(status));
  {
    std::lock_guard lock(mu_);
    auto it = podRecords_.find(key);
    if (it != podRecords_.end() && it->second.lastPosted == fingerprint &&
        strAt(*pod, {"status"}, "phase") == str(status, "phase"))
      return;
  }
  client_.patchNoResult(client::resources::pods, strAt(*pod, {"metadata"}, "namespace"),
                        strAt(*pod, {"metadata"}, "name"), client::PatchType::Merge,
                        json::object{{"status", std::move(status)}}, "status");
  std::lock_guard lock(mu_);
  if (auto it = podRecords_.find(key); it != podRecords_.end()) it->second.lastPosted = fingerprint;
  if (succeeded) SKIFF_LOG_DEBUG("hollow-agent pod={} succeeded", key);
}

void HollowAgent::finishDeletion(const json::object& pod, const std::string& key) {
  auto uid = strAt(pod, {"metadata"}, "uid");
  try {
    // The containers are "stopped": finish the graceful deletion as the kubelet does, with
    // grace 0 and the uid precondition so a new pod of the same name is never removed.
    client_.remove(client::resources::pods, strAt(pod, {"metadata"}, "namespace"),
                   strAt(pod, {"metadata"}, "name"),
                   json::object{{"kind", "DeleteOptions"},
                                {"apiVersion", "v1"},
                                {"gracePeriodSeconds", 0},
                                {"preconditions", json::object{{"uid", uid}}}});
  } catch (const ApiError& e) {
    if (e.code() != 404 && e.code() != 409) throw;  // gone already, or another pod now
  }
  std::lock_guard lock(mu_);
  forgetPodLocked(key);
}

json::object HollowAgent::podStatus(const json::object& pod, const PodRecord& rec, bool ready,
                                    bool succeeded) const {
  auto* current = objAt(pod, {"status"});
  json::object status = current ? *current : json::object{};
  auto now = formatTime(SysClock::now());
  auto started = formatTime(rec.startTime);
  std::string hostIp;
  {
    auto* node = findNode(rec.node);
    if (node) hostIp = node->internalIp;
  }
  auto uid = strAt(pod, {"metadata"}, "uid");
  bool running = !succeeded;
  bool containersReady = running && ready;

  auto containers = containersOf(pod, "containers");
  std::string notReady;
  for (auto& [name, image] : containers) notReady += (notReady.empty() ? "" : " ") + name;

  json::array conditions;
  conditions.push_back(
      condition(current, "PodReadyToStartContainers", running ? "True" : "False", "", "", now));
  conditions.push_back(condition(current, "Initialized", "True", "", "", now));
  if (succeeded) {
    conditions.push_back(condition(current, "Ready", "False", "PodCompleted", "", now));
    conditions.push_back(condition(current, "ContainersReady", "False", "PodCompleted", "", now));
  } else if (containersReady) {
    conditions.push_back(condition(current, "Ready", "True", "", "", now));
    conditions.push_back(condition(current, "ContainersReady", "True", "", "", now));
  } else {
    auto msg = "containers with unready status: [" + notReady + "]";
    conditions.push_back(condition(current, "Ready", "False", "ContainersNotReady", msg, now));
    conditions.push_back(
        condition(current, "ContainersReady", "False", "ContainersNotReady", msg, now));
  }
  // PodScheduled is the scheduler's; keep what it wrote.
  if (auto* sched = findCondition(current, "PodScheduled"))
    conditions.push_back(*sched);
  else
    conditions.push_back(condition(current, "PodScheduled", "True", "", "", now));

  auto containerStatus = [&](const std::string& name, const std::string& image,
                             bool terminatedDone) {
    auto id = "hollow://" + hex64(uid + "/" + name);
    json::object s{{"name", name},      {"image", image},    {"imageID", imageId(image)},
                   {"containerID", id}, {"restartCount", 0}, {"lastState", json::object{}}};
    if (terminatedDone) {
      s["ready"] = false;
      s["started"] = false;
      s["state"] = json::object{{"terminated", json::object{{"exitCode", 0},
                                                            {"reason", "Completed"},
                                                            {"startedAt", started},
                                                            {"finishedAt", now},
                                                            {"containerID", id}}}};
      // finishedAt must not move on later re-posts: keep the first one written.
      if (current)
        for (const char* field : {"containerStatuses", "initContainerStatuses"})
          if (auto* list = arr(*current, field))
            for (auto& old : *list)
              if (old.is_object() && str(old.as_object(), "name") == name)
                if (auto* t = objAt(old.as_object(), {"state", "terminated"});
                    t && t->contains("finishedAt"))
                  s["state"].as_object()["terminated"].as_object()["finishedAt"] =
                      t->at("finishedAt");
    } else {
      s["ready"] = containersReady;
      s["started"] = true;
      s["state"] = json::object{{"running", json::object{{"startedAt", started}}}};
    }
    return s;
  };
  json::array statuses;
  for (auto& [name, image] : containers)
    statuses.push_back(containerStatus(name, image, succeeded));
  status["containerStatuses"] = std::move(statuses);
  auto inits = containersOf(pod, "initContainers");
  if (!inits.empty()) {
    json::array initStatuses;
    for (auto& [name, image] : inits) initStatuses.push_back(containerStatus(name, image, true));
    status["initContainerStatuses"] = std::move(initStatuses);
  }
  status["phase"] = succeeded ? "Succeeded" : "Running";
  status["conditions"] = std::move(conditions);
  if (!hostIp.empty()) {
    status["hostIP"] = hostIp;
    status["hostIPs"] = json::array{json::object{{"ip", hostIp}}};
  }
  if (!rec.ip.empty()) {
    status["podIP"] = rec.ip;
    status["podIPs"] = json::array{json::object{{"ip", rec.ip}}};
  }
  status["startTime"] = started;
  return status;
}

}  // namespace skiff::agent
