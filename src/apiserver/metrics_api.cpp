#include "apiserver/metrics_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/field_selector.h"
#include "api/json_access.h"
#include "api/label_selector.h"
#include "api/quantity.h"
#include "api/resource_registry.h"
#include "apiserver/content.h"
#include "apiserver/metrics_api_scraper.h"
#include "apiserver/metrics_api_store.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "/apis/metrics.k8s.io/v1beta1";
constexpr const char* kApiVersion = "metrics.k8s.io/v1beta1";

ApiError methodNotAllowed() {
  return ApiError(405, "MethodNotAllowed",
                  "the server does not allow this method on the requested resource");
}

std::vector<std::string> segments(std::string_view rest) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < rest.size()) {
    if (rest[i] == '/') {
      ++i;
      continue;
    }
    size_t j = rest.find('/', i);
    if (j == std::string_view::npos) j = rest.size();
    out.emplace_back(rest.substr(i, j - i));
    i = j;
  }
  return out;
}

json::array resourceRows() {
  auto row = [](const char* name, bool namespaced, const char* kind) {
    return json::object{{"name", name},
                        {"singularName", ""},
                        {"namespaced", namespaced},
                        {"kind", kind},
                        {"verbs", json::array{"get", "list"}}};
  };
  return json::array{row("nodes", false, "NodeMetrics"), row("pods", true, "PodMetrics")};
}

// What a list item or a got object is made from.
struct Item {
  json::object meta;
  int64_t timestampMs = 0, windowMs = 0;
  // (container name, usage); one unnamed entry for a node.
  std::vector<std::pair<std::string, ResourceUsage>> usage;
};

json::object usageJson(const ResourceUsage& u) {
  return json::object{{"cpu", cpuQuantity(u.nanocores)}, {"memory", memoryQuantity(u.memoryBytes)}};
}

std::string timeOf(int64_t ms) {
  return formatTime(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// `meta` is moved in when given (lists: no copy of every item's labels).
json::object itemJson(const Item& item, bool pod, bool withKind, json::object* meta = nullptr) {
  json::object o;
  if (withKind) {
    o["kind"] = pod ? "PodMetrics" : "NodeMetrics";
    o["apiVersion"] = kApiVersion;
  }
  if (meta)
    o["metadata"] = std::move(*meta);
  else
    o["metadata"] = item.meta;
  o["timestamp"] = timeOf(item.timestampMs);
  o["window"] = goDuration(item.windowMs);
  if (pod) {
    json::array containers;
    for (const auto& [name, u] : item.usage)
      containers.push_back(json::object{{"name", name}, {"usage", usageJson(u)}});
    o["containers"] = std::move(containers);
  } else {
    o["usage"] = usageJson(item.usage.empty() ? ResourceUsage{} : item.usage.front().second);
  }
  return o;
}

// metrics-server's ConvertToTable: Name, one column per resource (pods: summed over the
// containers), Window; no columns without rows.
json::object tableJson(const std::vector<Item>& items, bool pod, const std::string& includeObject) {
  json::object table{{"kind", "Table"},
                     {"apiVersion", "meta.k8s.io/v1"},
                     {"metadata", json::object{{"resourceVersion", ""}}}};
  json::array columns, rows;
  if (!items.empty()) {
    auto column = [](const char* name, const char* format, const char* description) {
      return json::object{{"name", name},
                          {"type", "string"},
                          {"format", format},
                          {"description", description},
                          {"priority", 0}};
    };
    columns = {column("Name", "name", "Name of the resource"), column("cpu", "quantity", ""),
               column("memory", "quantity", ""), column("Window", "duration", "")};
  }
  for (const auto& item : items) {
    ResourceUsage sum;
    for (const auto& [name, u] : item.usage) {
      sum.nanocores += u.nanocores;
      sum.memoryBytes += u.memoryBytes;
    }
    json::object row{
        {"cells", json::array{item.meta.at("name"), cpuQuantity(sum.nanocores),
                              memoryQuantity(sum.memoryBytes), goDuration(item.windowMs)}}};
    if (includeObject == "Object") {
      row["object"] = itemJson(item, pod, true);
    } else if (includeObject != "None") {
      row["object"] = json::object{{"kind", "PartialObjectMetadata"},
                                   {"apiVersion", "meta.k8s.io/v1"},
                                   {"metadata", item.meta}};
    }
    rows.push_back(std::move(row));
  }
  table["columnDefinitions"] = std::move(columns);
  table["rows"] = std::move(rows);
  return table;
}

HttpResponse jsonAnswer(const json::object& obj) {
  HttpResponse res;
  res.contentType = "application/json";
  res.body = json::serialize(obj);
  res.apiObject = true;
  return res;
}

json::object metaOf(const json::object& obj, bool namespaced, const std::string& now) {
  const auto& meta = api::objectOrEmpty(obj, {"metadata"});
  json::object m{{"name", api::stringAt(meta, {"name"})}};
  if (namespaced) m["namespace"] = api::stringAt(meta, {"namespace"});
  m["creationTimestamp"] = now;
  if (auto* labels = meta.if_contains("labels"); labels && labels->is_object())
    m["labels"] = *labels;
  return m;
}

}  // namespace

std::string goDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  uint64_t u = ms < 0 ? static_cast<uint64_t>(-ms) : static_cast<uint64_t>(ms);
  if (u < 1000) return sign + std::to_string(u) + "ms";
  const uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, frac = u % 1000;
  std::string out = sign;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac) {
    std::string f = std::to_string(frac);
    f = std::string(3 - f.size(), '0') + f;
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

std::string cpuQuantity(int64_t nanocores) {
  return api::Quantity::parse(std::to_string(nanocores) + "n")->toString();
}

std::string memoryQuantity(uint64_t bytes) {
  return api::Quantity::fromValue(static_cast<int64_t>(bytes), api::Quantity::Format::BinarySI)
      .toString();
}

struct MetricsApi::Impl {
  ResourceStore& resources;
  MetricsStore store;
  const api::ResourceInfo* nodes;
  const api::ResourceInfo* pods;
  MetricsScraper scraper;

  Impl(ResourceStore& r, KubeletProxy& k, MetricsApiOptions o)
      : resources(r),
        nodes(api::ResourceRegistry::builtin().find("", "v1", "nodes")),
        pods(api::ResourceRegistry::builtin().find("", "v1", "pods")),
        scraper(r, k, store, o) {}

  std::vector<ObjectPtr> listCache(const api::ResourceInfo& info, const std::string& ns,
                                   const HttpRequest& req, bool namespaced) {
    auto labels = api::LabelSelector::parse(req.paramOr("labelSelector", ""));
    auto fields = api::FieldSelector::parse(req.paramOr("fieldSelector", ""));
    auto filter = [&](const json::object& obj) {
      const auto& meta = api::objectOrEmpty(obj, {"metadata"});
      auto* l = meta.if_contains("labels");
      if (!labels.matches(l && l->is_object() ? &l->get_object() : nullptr)) return false;
      // metrics-server matches object-meta fields only.
      return fields.matches([&](std::string_view field) -> std::optional<std::string> {
        if (field == "metadata.name") return api::stringAt(meta, {"name"});
        if (namespaced && field == "metadata.namespace") return api::stringAt(meta, {"namespace"});
        return std::nullopt;
      });
    };
    auto page = resources.cache(info).list(resources.listPrefix(info, ns), "", 0, filter, 0);
    std::vector<ObjectPtr> out;
    out.reserve(page.items.size());
    for (auto& [key, obj] : page.items) out.push_back(std::move(obj));
    return out;
  }

  std::optional<Item> nodeItem(const json::object& node, const std::string& now) {
    auto usage = store.nodeUsage(api::stringAt(node, {"metadata", "name"}));
    if (!usage) return std::nullopt;
    Item item{metaOf(node, false, now), usage->timestampMs, usage->windowMs, {}};
    item.usage.emplace_back("", usage->usage);
    return item;
  }

  std::optional<Item> podItem(const json::object& pod, const std::string& now) {
    if (api::stringAt(pod, {"status", "phase"}) != "Running") return std::nullopt;
    const std::string node = api::stringAt(pod, {"spec", "nodeName"});
    if (node.empty()) return std::nullopt;
    auto usage = store.podUsage(node, api::stringAt(pod, {"metadata", "namespace"}),
                                api::stringAt(pod, {"metadata", "name"}));
    if (!usage) return std::nullopt;
    return Item{metaOf(pod, true, now), usage->timestampMs, usage->windowMs,
                std::move(usage->containers)};
  }

  HttpResponse answer(const HttpRequest& req, std::vector<Item> items, bool pod, bool single) {
    ResponseFormat format = negotiate(req);
    if (format.protobuf)
      throw notAcceptable("only application/json is served for " + std::string(kApiVersion));
    if (format.table) return jsonAnswer(tableJson(items, pod, format.includeObject));
    if (single) return jsonAnswer(itemJson(items.front(), pod, true));
    json::array out;
    out.reserve(items.size());
    for (auto& item : items) out.push_back(itemJson(item, pod, false, &item.meta));
    json::object list{{"kind", pod ? "PodMetricsList" : "NodeMetricsList"},
                      {"apiVersion", kApiVersion},
                      {"metadata", json::object{}}};
    list["items"] = std::move(out);  // assigned, not in the initializer list (which copies)
    return jsonAnswer(list);
  }
};

MetricsApi::MetricsApi(ResourceStore& resources, KubeletProxy& kubelets, MetricsApiOptions options)
    : impl_(std::make_unique<Impl>(resources, kubelets, options)) {}

MetricsApi::~MetricsApi() { stop(); }

void MetricsApi::start() { impl_->scraper.start(); }
void MetricsApi::stop() { impl_->scraper.stop(); }
ScrapeStats MetricsApi::scrapeOnce() { return impl_->scraper.scrapeOnce(); }
ScrapeStats MetricsApi::lastScrape() const { return impl_->scraper.lastScrape(); }
MetricsStore& MetricsApi::store() { return impl_->store; }

bool MetricsApi::serves(const std::string& path) {
  return path.starts_with(kPrefix) &&
         (path.size() == kPrefix.size() || path[kPrefix.size()] == '/');
}

AggregatedVersion MetricsApi::discoveryVersion() {
  AggregatedVersion v;
  v.group = kGroup;
  v.version = kVersion;
  v.priority = {100, 100};  // metrics-server's APIService
  v.fetched = true;
  v.fresh = true;
  v.resources = resourceRows();
  return v;
}

HttpResponse MetricsApi::handle(HttpRequest& req) {
  auto& d = *impl_;
  const auto parts = segments(std::string_view(req.path).substr(kPrefix.size()));
  enum class Kind { Discovery, NodeList, NodeGet, PodList, PodGet } kind;
  std::string ns, name;
  if (parts.empty()) {
    kind = Kind::Discovery;
  } else if (parts[0] == "nodes" && parts.size() <= 2) {
    kind = parts.size() == 1 ? Kind::NodeList : Kind::NodeGet;
    if (parts.size() == 2) name = parts[1];
  } else if (parts[0] == "pods" && parts.size() == 1) {
    kind = Kind::PodList;
  } else if (parts[0] == "namespaces" && parts.size() >= 3 && parts.size() <= 4 &&
             parts[2] == "pods") {
    ns = parts[1];
    kind = parts.size() == 3 ? Kind::PodList : Kind::PodGet;
    if (parts.size() == 4) name = parts[3];
  } else {
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  if (req.method != "GET") throw methodNotAllowed();
  if (kind == Kind::Discovery)
    return jsonAnswer(json::object{{"kind", "APIResourceList"},
                                   {"apiVersion", "v1"},
                                   {"groupVersion", kApiVersion},
                                   {"resources", resourceRows()}});
  const bool pod = kind == Kind::PodList || kind == Kind::PodGet;
  if (req.flag("watch"))
    throw methodNotSupported(pod ? "pods.metrics.k8s.io" : "nodes.metrics.k8s.io", "watch");
  const std::string now = formatTime(std::chrono::system_clock::now());
  std::vector<Item> items;
  if (kind == Kind::NodeGet) {
    ObjectPtr node = d.resources.cache(*d.nodes).get(d.resources.key(*d.nodes, "", name));
    if (!node) throw notFound("node", name);  // the node lister's error, as metrics-server
    auto item = d.nodeItem(*node, now);
    if (!item) throw notFound("nodemetrics.metrics.k8s.io", name);
    items.push_back(std::move(*item));
  } else if (kind == Kind::PodGet) {
    ObjectPtr p = d.resources.cache(*d.pods).get(d.resources.key(*d.pods, ns, name));
    if (!p) throw notFound("pods", name);
    auto item = d.podItem(*p, now);
    if (!item) throw notFound("podmetrics.metrics.k8s.io", ns + "/" + name);
    items.push_back(std::move(*item));
  } else if (kind == Kind::NodeList) {
    for (const auto& node : d.listCache(*d.nodes, "", req, false))
      if (auto item = d.nodeItem(*node, now)) items.push_back(std::move(*item));
  } else {
    // metrics-server's order: namespace, then name (cache keys put "a-b/x" before "a/x").
    // The keys are views into the cache's immutable objects, which `all` keeps alive.
    auto all = d.listCache(*d.pods, ns, req, true);
    auto view = [](const json::object& o, const char* field) {
      const auto& meta = api::objectOrEmpty(o, {"metadata"});
      auto* v = meta.if_contains(field);
      return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    };
    std::vector<std::pair<std::pair<std::string_view, std::string_view>, const json::object*>>
        order;
    order.reserve(all.size());
    for (const auto& p : all) order.push_back({{view(*p, "namespace"), view(*p, "name")}, p.get()});
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, p] : order)
      if (auto item = d.podItem(*p, now)) items.push_back(std::move(*item));
  }
  return d.answer(req, std::move(items), pod, kind == Kind::NodeGet || kind == Kind::PodGet);
}

}  // namespace skiff::apiserver
