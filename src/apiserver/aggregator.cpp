#include "apiserver/aggregator.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "api/json_access.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "net/http_upgrade_client.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

constexpr const char* kGroup = "apiregistration.k8s.io";
constexpr const char* kAutomanagedLabel = "kube-aggregator.kubernetes.io/automanaged";

// Upstream's "spec.service != nil": otherwise the APIService is local.
bool hasService(const json::object& spec) {
  auto it = spec.find("service");
  return it != spec.end() && it->value().is_object();
}

// "/apis/<group>/<version>[/...]" (or the OpenAPI v3 document "/openapi/v3/apis/<group>/
// <version>") → group, version.
std::optional<std::pair<std::string, std::string>> groupVersionOf(std::string path) {
  if (path.starts_with("/openapi/v3/apis/")) path = path.substr(11);
  if (!path.starts_with("/apis/")) return std::nullopt;
  size_t g0 = 6, g1 = path.find('/', g0);
  if (g1 == std::string::npos || g1 == g0) return std::nullopt;
  size_t v1 = path.find('/', g1 + 1);
  std::string version =
      path.substr(g1 + 1, v1 == std::string::npos ? std::string::npos : v1 - g1 - 1);
  if (version.empty()) return std::nullopt;
  return std::make_pair(path.substr(g0, g1 - g0), version);
}

struct Condition {
  std::string status, reason, message;
  bool operator==(const Condition&) const = default;
};

// A ready address of the APIService's service, or why there is none.
struct Endpoint {
  std::string host;
  int port = 0;
};

std::string plainText(HttpResponse& res, int status, std::string text) {
  res.status = status;
  res.contentType = "text/plain; charset=utf-8";
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.body = std::move(text) + "\n";
  return res.body;
}

bool hopByHop(const std::string& lowerName) {
  static const std::set<std::string> names = {"connection",
                                              "keep-alive",
                                              "proxy-connection",
                                              "proxy-authenticate",
                                              "proxy-authorization",
                                              "te",
                                              "trailer",
                                              "transfer-encoding",
                                              "upgrade"};
  return names.count(lowerName) > 0;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A relayed watch: a thread reads the backend's body as it arrives and hands the pieces to
// the client's connection.
class ProxyStream final : public StreamSource {
 public:
  explicit ProxyStream(std::unique_ptr<StreamingResponse> response)
      : response_(std::move(response)) {}
  ~ProxyStream() override { cancel(); }
  void start(std::function<void()> wake) override {
    reader_ = std::thread([this, wake = std::move(wake)] {
      setThreadName("agg-watch");
      std::string piece;
      while (response_->read(piece)) {
        {
          std::lock_guard lock(mu_);
          pieces_.push_back(std::move(piece));
        }
        wake();
      }
      {
        std::lock_guard lock(mu_);
        ended_ = true;
      }
      wake();
    });
  }
  bool drain(std::vector<std::string>& out) override {
    std::lock_guard lock(mu_);
    for (auto& p : pieces_) out.push_back(std::move(p));
    pieces_.clear();
    return !ended_;
  }
  void cancel() override {
    response_->close();
    if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
  }

 private:
  std::unique_ptr<StreamingResponse> response_;
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::string> pieces_;
  bool ended_ = false;
};

}  // namespace

struct Aggregator::Impl {
  ResourceStore& resources;
  const api::ResourceRegistry& registry;
  AggregatorOptions options;
  const api::ResourceInfo* apiServices;
  const api::ResourceInfo* services;
  const api::ResourceInfo* endpoints;
  const api::ResourceInfo* slices;
  ResourceCache* apiServiceCache;
  ResourceCache* serviceCache;
  ResourceCache* endpointsCache;
  ResourceCache* sliceCache;
  std::vector<std::pair<ResourceCache*, CacheWatcherHandle>> watches;

  // What the last check of each APIService with a service found, by name.
  struct CheckState {
    std::string group, version;
    ApiServicePriority priority;
    bool fresh = false;
    json::array resources;
  };
  mutable std::mutex mu;
  std::condition_variable cv;
  bool dirty = true;
  // Set by a failed proxied request: probe every backend again on the next pass.
  std::atomic<bool> forceProbe{false};
  // The last discovery probe per APIService (controller thread only): what it was made
  // against (spec and address), when, and what it found. A pass reuses it while both are
  // unchanged and it is younger than the resync period, so Service/Endpoints churn elsewhere
  // does not make every pass call every extension server.
  struct Probe {
    std::string key;
    std::chrono::steady_clock::time_point at;
    Condition result;
    bool fresh = false;
    json::array resources;
  };
  std::map<std::string, Probe> probes;
  bool stopping = false;
  std::map<std::string, CheckState> states;
  std::thread thread;
  // addLocalGroupVersion(): served here, outside the registry.
  std::vector<std::pair<api::GroupVersion, ApiServicePriority>> extraLocal;

  Impl(ResourceStore& r, const api::ResourceRegistry& reg, AggregatorOptions o)
      : resources(r), registry(reg), options(o) {
    apiServices = registry.find(kGroup, "v1", "apiservices");
    services = registry.find("", "v1", "services");
    endpoints = registry.find("", "v1", "endpoints");
    slices = registry.find("discovery.k8s.io", "v1", "endpointslices");
    apiServiceCache = &resources.cache(*apiServices);
    serviceCache = &resources.cache(*services);
    endpointsCache = &resources.cache(*endpoints);
    sliceCache = &resources.cache(*slices);
  }

  void markDirty(bool probe = false) {
    if (probe) forceProbe = true;
    {
      std::lock_guard lock(mu);
      dirty = true;
    }
    cv.notify_all();
  }

  bool builtin(const std::string& group, const std::string& version) const {
    for (const auto& gv : registry.groupVersions())
      if (gv.group == group && gv.version == version) return true;
    return false;
  }

  ObjectPtr apiService(const std::string& name) const {
    return apiServiceCache->get(resources.key(*apiServices, "", name));
  }

  std::vector<ObjectPtr> allApiServices() const {
    auto page = apiServiceCache->list(resources.listPrefix(*apiServices, ""), "", 0, nullptr, 0);
    std::vector<ObjectPtr> out;
    for (auto& [key, obj] : page.items) out.push_back(obj);
    return out;
  }

  // Service and endpoint checks of upstream's availability controller; on success the
  // address to dial.
  std::variant<Endpoint, Condition> resolve(const json::object& apiService) const {
    const auto& ref = api::objectOrEmpty(apiService, {"spec", "service"});
    const std::string ns = api::stringAt(ref, {"namespace"}), name = api::stringAt(ref, {"name"});
    const int64_t port = api::intAt(ref, {"port"}, 443);
    ObjectPtr svc = serviceCache->get(resources.key(*services, ns, name));
    if (!svc)
      return Condition{"False", "ServiceNotFound",
                       "service/" + name + " in \"" + ns + "\" is not present"};
    const json::object* svcPort = nullptr;
    for (const auto& p : api::arrayOrEmpty(*svc, {"spec", "ports"}))
      if (p.is_object() && api::intAt(p.get_object(), {"port"}) == port) svcPort = &p.get_object();
    if (!svcPort)
      return Condition{"False", "ServicePortError",
                       "service/" + name + " in \"" + ns + "\" is not listening on port " +
                           std::to_string(port)};
    const std::string portName = api::stringAt(*svcPort, {"name"});
    ObjectPtr ep = endpointsCache->get(resources.key(*endpoints, ns, name));
    if (!ep) {
      // No Endpoints object: the Service's EndpointSlices (kubernetes.io/service-name), a
      // ready endpoint (ready unset counts as ready) with the port's name.
      auto page = sliceCache->list(resources.listPrefix(*slices, ns), "", 0, nullptr, 0);
      bool anySlice = false;
      for (const auto& [key, slice] : page.items) {
        if (api::stringAt(*slice, {"metadata", "labels", "kubernetes.io/service-name"}) != name)
          continue;
        anySlice = true;
        int slicePort = 0;
        for (const auto& p : api::arrayOrEmpty(*slice, {"ports"}))
          if (p.is_object() && api::stringAt(p.get_object(), {"name"}) == portName)
            slicePort = static_cast<int>(api::intAt(p.get_object(), {"port"}));
        if (slicePort == 0) continue;
        for (const auto& e : api::arrayOrEmpty(*slice, {"endpoints"})) {
          if (!e.is_object()) continue;
          const auto& cond = api::objectOrEmpty(e.get_object(), {"conditions"});
          auto ready = cond.find("ready");
          if (ready != cond.end() && ready->value().is_bool() && !ready->value().get_bool())
            continue;
          const auto& addrs = api::arrayOrEmpty(e.get_object(), {"addresses"});
          if (!addrs.empty() && addrs[0].is_string())
            return Endpoint{std::string(addrs[0].get_string()), slicePort};
        }
      }
      if (!anySlice)
        return Condition{"False", "EndpointsNotFound",
                         "cannot find endpoints for service/" + name + " in \"" + ns + "\""};
      return Condition{"False", "MissingEndpoints",
                       "endpoints for service/" + name + " in \"" + ns +
                           "\" have no addresses with port name \"" + portName + "\""};
    }
    for (const auto& s : api::arrayOrEmpty(*ep, {"subsets"})) {
      if (!s.is_object()) continue;
      const auto& subset = s.get_object();
      const auto& addresses = api::arrayOrEmpty(subset, {"addresses"});
      if (addresses.empty() || !addresses[0].is_object()) continue;
      for (const auto& p : api::arrayOrEmpty(subset, {"ports"}))
        if (p.is_object() && api::stringAt(p.get_object(), {"name"}) == portName)
          return Endpoint{api::stringAt(addresses[0].get_object(), {"ip"}),
                          static_cast<int>(api::intAt(p.get_object(), {"port"}))};
    }
    return Condition{"False", "MissingEndpoints",
                     "endpoints for service/" + name + " in \"" + ns +
                         "\" have no addresses with port name \"" + portName + "\""};
  }

  // The TLS settings and target of a request to the APIService's backend.
  UpgradeRequest requestTo(const json::object& apiService, const Endpoint& ep) const {
    const auto& spec = api::objectOrEmpty(apiService, {"spec"});
    const auto& ref = api::objectOrEmpty(spec, {"service"});
    UpgradeRequest u;
    u.host = ep.host;
    u.port = static_cast<unsigned short>(ep.port);
    u.tls = true;
    u.verifyServer = !api::boolAt(spec, {"insecureSkipTLSVerify"});
    u.caPem = base64Decode(api::stringAt(spec, {"caBundle"})).value_or("");
    u.serverName = api::stringAt(ref, {"name"}) + "." + api::stringAt(ref, {"namespace"}) + ".svc";
    u.connectTimeout = options.connectTimeout;
    u.responseTimeout = options.responseTimeout;
    return u;
  }

  static std::string urlOf(const UpgradeRequest& u, const std::string& path) {
    bool ipv6 = u.host.find(':') != std::string::npos;
    return "https://" + (ipv6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port) + path;
  }

  // The full availability check of one APIService; `state` gets the discovery answer.
  Condition check(const json::object& apiService, CheckState& state, bool force) {
    const auto& spec = api::objectOrEmpty(apiService, {"spec"});
    if (!hasService(spec)) return {"True", "Local", "Local APIServices are always available"};
    auto resolved = resolve(apiService);
    if (auto* c = std::get_if<Condition>(&resolved)) return *c;
    const Endpoint& ep = std::get<Endpoint>(resolved);
    const std::string name = api::stringAt(apiService, {"metadata", "name"});
    const std::string key = json::serialize(spec) + "|" + ep.host + ":" + std::to_string(ep.port);
    const auto now = std::chrono::steady_clock::now();
    if (auto it = probes.find(name); !force && it != probes.end() && it->second.key == key &&
                                     now - it->second.at < options.resyncPeriod) {
      state.fresh = it->second.fresh;
      state.resources = it->second.resources;
      return it->second.result;
    }
    Condition result = probe(apiService, ep, state);
    probes[name] =
        Probe{key, now, result, state.fresh, state.fresh ? state.resources : json::array()};
    return result;
  }

  // GET /apis/<group>/<version> on the address: the discovery check.
  Condition probe(const json::object& apiService, const Endpoint& ep, CheckState& state) const {
    const auto& spec = api::objectOrEmpty(apiService, {"spec"});
    const std::string path =
        "/apis/" + api::stringAt(spec, {"group"}) + "/" + api::stringAt(spec, {"version"});
    UpgradeRequest u = requestTo(apiService, ep);
    u.connectTimeout = options.discoveryTimeout;
    u.responseTimeout = options.discoveryTimeout;
    u.method = "GET";
    u.target = path;
    u.headers = {{"Accept", "application/json"},
                 {"User-Agent", "skiff-aggregator"},
                 {"X-Remote-User", "system:kube-aggregator"},
                 {"X-Remote-Group", "system:masters"}};
    const std::string url = urlOf(u, path);
    try {
      UpgradeResult r = openUpgrade(u);
      if (r.status < 200 || r.status >= 300)
        return {"False", "FailedDiscoveryCheck",
                "failing or missing response from " + url + ": bad status from " + url + ": " +
                    std::to_string(r.status)};
      json::error_code ec;
      json::value doc = json::parse(r.body, ec);
      if (!ec && doc.is_object() && doc.get_object().contains("resources") &&
          doc.get_object().at("resources").is_array()) {
        state.fresh = true;
        state.resources = doc.get_object().at("resources").get_array();
      }
    } catch (const std::exception& e) {
      return {"False", "FailedDiscoveryCheck",
              "failing or missing response from " + url + ": Get \"" + url + "\": " + e.what()};
    }
    return {"True", "Passed", "all checks passed"};
  }

  static std::optional<Condition> currentCondition(const json::object& apiService) {
    for (const auto& c : api::arrayOrEmpty(apiService, {"status", "conditions"}))
      if (c.is_object() && api::stringAt(c.get_object(), {"type"}) == "Available")
        return Condition{api::stringAt(c.get_object(), {"status"}),
                         api::stringAt(c.get_object(), {"reason"}),
                         api::stringAt(c.get_object(), {"message"})};
    return std::nullopt;
  }

  void writeCondition(const json::object& apiService, const Condition& c) {
    json::object updated = apiService;
    json::value& status = updated["status"];
    if (!status.is_object()) status.emplace_object();
    json::value& conds = status.as_object()["conditions"];
    if (!conds.is_array()) conds.emplace_array();
    auto current = currentCondition(apiService);
    std::string transition = nowTimestamp();
    json::array out;
    for (const auto& old : conds.as_array()) {
      if (old.is_object() && api::stringAt(old.get_object(), {"type"}) == "Available") {
        if (current && current->status == c.status)
          transition = api::stringAt(old.get_object(), {"lastTransitionTime"});
        continue;
      }
      out.push_back(old);
    }
    out.push_back(json::object{{"type", "Available"},
                               {"status", c.status},
                               {"lastTransitionTime", transition},
                               {"reason", c.reason},
                               {"message", c.message}});
    conds = std::move(out);
    RequestContext ctx;
    ctx.fieldManager = "kube-apiserver";
    const std::string name = api::stringAt(apiService, {"metadata", "name"});
    try {
      resources.update(*apiServices, "", name, "status", json::value(std::move(updated)), ctx);
    } catch (const ApiError& e) {
      // A conflicting or concurrent write (or a delete): the next pass looks again.
      if (e.code() != 409 && e.code() != 404)
        SKIFF_LOG_WARN("apiservice status write failed name={} code={} error={}", name, e.code(),
                       e.what());
      std::lock_guard lock(mu);
      dirty = true;
    }
  }

  void syncOnce() {
    const bool force = forceProbe.exchange(false);
    std::map<std::string, CheckState> next;
    for (const auto& obj : allApiServices()) {
      const auto& spec = api::objectOrEmpty(*obj, {"spec"});
      const std::string name = api::stringAt(*obj, {"metadata", "name"});
      CheckState state;
      state.group = api::stringAt(spec, {"group"});
      state.version = api::stringAt(spec, {"version"});
      state.priority = {static_cast<int>(api::intAt(spec, {"groupPriorityMinimum"})),
                        static_cast<int>(api::intAt(spec, {"versionPriority"}))};
      Condition c = check(*obj, state, force);
      if (hasService(spec)) next.emplace(name, std::move(state));
      if (currentCondition(*obj) != c) {
        if (c.status != "True" || c.reason != "Local")
          SKIFF_LOG_INFO("apiservice {} Available={} reason={} message={}", name, c.status,
                         c.reason, c.message);
        writeCondition(*obj, c);
      }
    }
    for (auto it = probes.begin(); it != probes.end();)
      it = next.count(it->first) ? std::next(it) : probes.erase(it);
    std::lock_guard lock(mu);
    states = std::move(next);
  }

  void run() {
    setThreadName("aggregator");
    std::unique_lock lock(mu);
    while (!stopping) {
      cv.wait_for(lock, options.resyncPeriod, [&] { return dirty || stopping; });
      if (stopping) break;
      dirty = false;
      lock.unlock();
      try {
        syncOnce();
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("apiservice availability pass failed: {}", e.what());
      }
      // At most five passes a second, however busy Services and Endpoints are.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      lock.lock();
    }
  }
};

Aggregator::Aggregator(ResourceStore& resources, const api::ResourceRegistry& registry,
                       AggregatorOptions options)
    : impl_(std::make_unique<Impl>(resources, registry, options)) {}

Aggregator::~Aggregator() { stop(); }

void Aggregator::addLocalGroupVersion(const std::string& group, const std::string& version,
                                      ApiServicePriority priority) {
  api::GroupVersion gv;
  gv.group = group;
  gv.version = version;
  impl_->extraLocal.emplace_back(std::move(gv), priority);
}

void Aggregator::registerLocalApiServices() {
  auto& d = *impl_;
  std::set<std::string> wanted;
  RequestContext ctx;
  ctx.fieldManager = "kube-apiserver";
  std::vector<std::pair<api::GroupVersion, ApiServicePriority>> all;
  for (const auto& gv : d.registry.groupVersions())
    all.emplace_back(gv, builtinPriority(gv.group, gv.version));
  all.insert(all.end(), d.extraLocal.begin(), d.extraLocal.end());
  for (const auto& [gv, p] : all) {
    const std::string name = gv.version + "." + gv.group;
    wanted.insert(name);
    json::object spec{
        {"version", gv.version}, {"groupPriorityMinimum", p.group}, {"versionPriority", p.version}};
    if (!gv.group.empty()) spec["group"] = gv.group;
    json::object obj{{"apiVersion", std::string(kGroup) + "/v1"},
                     {"kind", "APIService"},
                     {"metadata", {{"name", name}, {"labels", {{kAutomanagedLabel, "onstart"}}}}},
                     {"spec", std::move(spec)}};
    try {
      d.resources.create(*d.apiServices, "", json::value(std::move(obj)), ctx);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
    }
  }
  // Local APIServices of group-versions this server no longer has.
  for (const auto& obj : d.allApiServices()) {
    const auto& meta = api::objectOrEmpty(*obj, {"metadata"});
    const std::string name = api::stringAt(meta, {"name"});
    if (wanted.count(name) || api::stringAt(meta, {"labels", kAutomanagedLabel}) != "onstart")
      continue;
    bool gone = false;
    try {
      d.resources.remove(*d.apiServices, "", name, DeleteOptions{}, ctx, gone);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }
}

void Aggregator::start() {
  auto& d = *impl_;
  const std::pair<ResourceCache*, const api::ResourceInfo*> followed[] = {
      {d.apiServiceCache, d.apiServices},
      {d.serviceCache, d.services},
      {d.endpointsCache, d.endpoints},
      {d.sliceCache, d.slices}};
  for (const auto& [cache, info] : followed)
    d.watches.emplace_back(
        cache, cache->watch(d.resources.listPrefix(*info, ""), -1,
                            [impl = impl_.get()](const CacheEvent&) { impl->markDirty(); }));
  d.thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void Aggregator::stop() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    d.stopping = true;
  }
  d.cv.notify_all();
  if (d.thread.joinable()) d.thread.join();
  for (auto& [cache, handle] : d.watches) cache->unwatch(handle);
  d.watches.clear();
}

void Aggregator::syncOnce() { impl_->syncOnce(); }

std::vector<AggregatedVersion> Aggregator::discoveryVersions() {
  auto& d = *impl_;
  auto all = d.allApiServices();
  std::lock_guard lock(d.mu);
  std::vector<AggregatedVersion> out;
  for (const auto& obj : all) {
    const auto& spec = api::objectOrEmpty(*obj, {"spec"});
    if (!hasService(spec)) continue;
    AggregatedVersion v;
    v.group = api::stringAt(spec, {"group"});
    v.version = api::stringAt(spec, {"version"});
    v.priority = {static_cast<int>(api::intAt(spec, {"groupPriorityMinimum"})),
                  static_cast<int>(api::intAt(spec, {"versionPriority"}))};
    auto it = d.states.find(api::stringAt(*obj, {"metadata", "name"}));
    if (it != d.states.end() && it->second.group == v.group && it->second.version == v.version) {
      v.fetched = true;
      v.fresh = it->second.fresh;
      if (v.fresh) v.resources = it->second.resources;
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string Aggregator::openApiV3Root(const std::string& builtinRoot) {
  auto& d = *impl_;
  std::vector<std::pair<std::string, std::string>> added;  // "apis/g/v", hash
  for (const auto& obj : d.allApiServices()) {
    const auto& spec = api::objectOrEmpty(*obj, {"spec"});
    if (!hasService(spec)) continue;
    auto c = Impl::currentCondition(*obj);
    if (!c || c->status != "True") continue;
    const auto& meta = api::objectOrEmpty(*obj, {"metadata"});
    added.emplace_back(
        "apis/" + api::stringAt(spec, {"group"}) + "/" + api::stringAt(spec, {"version"}),
        std::to_string(std::hash<std::string>{}(api::stringAt(meta, {"uid"}) + "/" +
                                                api::stringAt(meta, {"resourceVersion"}))));
  }
  if (added.empty()) return builtinRoot;
  json::error_code ec;
  json::value root = json::parse(builtinRoot, ec);
  if (ec || !root.is_object()) return builtinRoot;
  json::value& paths = root.as_object()["paths"];
  if (!paths.is_object()) paths.emplace_object();
  for (const auto& [path, hash] : added)
    paths.as_object()[path] =
        json::object{{"serverRelativeURL", "/openapi/v3/" + path + "?hash=" + hash}};
  return json::serialize(root);
}

bool Aggregator::proxies(const std::string& path) const {
  auto gv = groupVersionOf(path);
  if (!gv || impl_->builtin(gv->first, gv->second)) return false;
  ObjectPtr obj = impl_->apiService(gv->second + "." + gv->first);
  if (!obj) return false;
  const auto& spec = api::objectOrEmpty(*obj, {"spec"});
  return hasService(spec);
}

HttpResponse Aggregator::proxy(HttpRequest& req) {
  auto& d = *impl_;
  HttpResponse res;
  auto gv = groupVersionOf(req.path);
  ObjectPtr obj = gv ? d.apiService(gv->second + "." + gv->first) : nullptr;
  if (!obj) throw ApiError(404, "NotFound", "the server could not find the requested resource");
  auto available = Impl::currentCondition(*obj);
  if (!available || available->status != "True") {
    plainText(res, 503, "service unavailable");
    return res;
  }
  auto resolved = d.resolve(*obj);
  if (std::holds_alternative<Condition>(resolved)) {
    d.markDirty();
    plainText(res, 503, "service unavailable");
    return res;
  }
  UpgradeRequest u = d.requestTo(*obj, std::get<Endpoint>(resolved));
  u.method = req.method;
  u.target = req.target;
  u.body = req.body;
  for (const auto& [name, value] : req.headers) {
    if (hopByHop(name) || name == "host" || name == "content-length" || name == "authorization" ||
        name.starts_with("impersonate-") || name.starts_with("x-remote-"))
      continue;
    u.headers.emplace_back(name, value);
  }
  // Who is asking, as authentication settled it (after impersonation).
  std::string user = req.identity().user;
  std::vector<std::string> groups = req.identity().groups;
  if (user.empty()) {
    user = "system:anonymous";
    groups = {"system:unauthenticated"};
  } else if (std::find(groups.begin(), groups.end(), "system:authenticated") == groups.end()) {
    groups.push_back("system:authenticated");
  }
  u.headers.emplace_back("X-Remote-User", user);
  for (const auto& g : groups) u.headers.emplace_back("X-Remote-Group", g);
  // Extra values, the key path-escaped into the header name as upstream's proxy does.
  for (const auto& [key, values] : req.identity().extra) {
    std::string escaped;
    for (unsigned char ch : key) {
      if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
        escaped.push_back(static_cast<char>(ch));
      } else {
        static const char* hex = "0123456789ABCDEF";
        escaped += {'%', hex[ch >> 4], hex[ch & 15]};
      }
    }
    for (const auto& v : values) u.headers.emplace_back("X-Remote-Extra-" + escaped, v);
  }

  auto relayHeaders = [&res](const std::vector<std::pair<std::string, std::string>>& headers) {
    res.contentType.clear();
    for (auto& [name, value] : headers) {
      std::string l = lower(name);
      if (l == "content-type") {
        res.contentType = value;
        continue;
      }
      if (hopByHop(l) || l == "content-length") continue;
      res.headers.emplace_back(name, value);
    }
    if (res.contentType.empty()) res.contentType = "text/plain; charset=utf-8";
  };
  if (req.method == "GET" && req.flag("watch")) {
    // A watch streams for as long as the backend keeps it open.
    std::unique_ptr<StreamingResponse> streaming;
    try {
      streaming = openStreaming(u);
    } catch (const std::exception& e) {
      d.markDirty(true);
      plainText(res, 503, e.what());
      return res;
    }
    res.status = streaming->status;
    relayHeaders(streaming->headers);
    if (res.status == 200) {
      res.stream = std::make_shared<ProxyStream>(std::move(streaming));
      return res;
    }
    std::string piece;
    while (streaming->read(piece)) res.body += piece;
    return res;
  }
  UpgradeResult r;
  try {
    r = openUpgrade(u);
  } catch (const std::exception& e) {
    d.markDirty(true);  // the backend may be gone: check it now
    plainText(res, 503, e.what());
    return res;
  }
  res.status = r.status;
  relayHeaders(r.headers);
  res.body = std::move(r.body);
  return res;
}

}  // namespace skiff::apiserver
