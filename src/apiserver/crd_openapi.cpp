#include "apiserver/crd_openapi.h"

#include <boost/json.hpp>

#include "api/custom_resource.h"
#include "api/openapi.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

// "example.com" → "com.example", as upstream names CRD definitions.
std::string reversedGroup(const std::string& group) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    size_t dot = group.find('.', pos);
    parts.push_back(group.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

std::string definitionName(const ResourceInfo& r, const std::string& kind) {
  return reversedGroup(r.group) + "." + r.version + "." + kind;
}

json::object gvk(const ResourceInfo& r, const std::string& kind) {
  return {{"group", r.group}, {"kind", kind}, {"version", r.version}};
}

// Rewrites a built-in resource's path item for `r`: its definitions, kind and names.
void retarget(json::value& v, const std::string& fromDef, const std::string& toDef,
              const std::string& fromKind, const ResourceInfo& r) {
  if (v.is_object()) {
    auto& o = v.as_object();
    if (json::value* k = o.if_contains("x-kubernetes-group-version-kind"); k && k->is_object()) {
      std::string kind(k->as_object().at("kind").as_string());
      bool list = kind.ends_with("List") && kind != fromKind;
      *k = gvk(r, list ? r.listKind() : r.kind);
    }
    for (auto& kv : o) {
      if (kv.key() == "x-kubernetes-group-version-kind") continue;
      if (kv.key() == "$ref" && kv.value().is_string()) {
        std::string ref(kv.value().as_string());
        if (ref == "#/definitions/" + fromDef)
          kv.value() = "#/definitions/" + toDef;
        else if (ref == "#/definitions/" + fromDef + "List")
          kv.value() = "#/definitions/" + toDef + "List";
        continue;
      }
      if ((kv.key() == "operationId" || kv.key() == "description") && kv.value().is_string()) {
        std::string s(kv.value().as_string());
        for (size_t at = s.find(fromKind); at != std::string::npos;
             at = s.find(fromKind, at + r.kind.size()))
          s.replace(at, fromKind.size(), r.kind);
        kv.value() = s;
        continue;
      }
      retarget(kv.value(), fromDef, toDef, fromKind, r);
    }
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) retarget(item, fromDef, toDef, fromKind, r);
  }
}

void addResource(const ResourceInfo& r, json::object& paths, json::object& definitions) {
  const auto& openapi = api::OpenApi::instance();
  const std::string def = definitionName(r, r.kind);
  // Templates: ConfigMaps (namespaced) and ClusterRoles (cluster-scoped) have only the plain
  // verbs, as a custom resource's main paths do.
  struct Template {
    std::string from, to;
  };
  std::vector<Template> templates;
  std::string fromDef, fromKind;
  const std::string base = "/apis/" + r.group + "/" + r.version;
  if (r.namespaced) {
    fromDef = "io.k8s.api.core.v1.ConfigMap";
    fromKind = "ConfigMap";
    templates = {
        {"/api/v1/configmaps", base + "/" + r.plural},
        {"/api/v1/namespaces/{namespace}/configmaps", base + "/namespaces/{namespace}/" + r.plural},
        {"/api/v1/namespaces/{namespace}/configmaps/{name}",
         base + "/namespaces/{namespace}/" + r.plural + "/{name}"}};
  } else {
    fromDef = "io.k8s.api.rbac.v1.ClusterRole";
    fromKind = "ClusterRole";
    const std::string rbac = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
    templates = {{rbac, base + "/" + r.plural},
                 {rbac + "/{name}", base + "/" + r.plural + "/{name}"}};
  }
  for (const auto& t : templates) {
    const json::object* item = openapi.v2PathItem(t.from);
    if (!item) continue;
    json::value copy = *item;
    retarget(copy, fromDef, def, fromKind, r);
    paths[t.to] = std::move(copy);
  }

  json::object schema = r.custom->schemaJson;
  if (schema.empty()) schema = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  json::value& props = schema["properties"];
  if (!props.is_object()) props.emplace_object();
  props.as_object()["apiVersion"] = json::object{{"type", "string"}};
  props.as_object()["kind"] = json::object{{"type", "string"}};
  props.as_object()["metadata"] =
      json::object{{"$ref", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
  schema["x-kubernetes-group-version-kind"] = json::array{gvk(r, r.kind)};
  definitions[def] = std::move(schema);
  definitions[def + "List"] = json::object{
      {"type", "object"},
      {"required", json::array{"items"}},
      {"properties",
       {{"apiVersion", {{"type", "string"}}},
        {"items", {{"type", "array"}, {"items", {{"$ref", "#/definitions/" + def}}}}},
        {"kind", {{"type", "string"}}},
        {"metadata", {{"$ref", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}}}}},
      {"x-kubernetes-group-version-kind", json::array{gvk(r, r.listKind())}}};
}

}  // namespace

std::vector<std::string> CustomOpenApi::customGroupVersions() const {
  std::vector<std::string> out;
  for (const auto& gv : registry_.servedGroupVersions())
    if (gv.custom) out.push_back("apis/" + gv.group + "/" + gv.version);
  return out;
}

std::shared_ptr<const CustomOpenApi::Document> CustomOpenApi::document(std::string_view gvPath) {
  std::lock_guard lock(mu_);
  if (generation_ != registry_.generation()) {
    cache_.clear();
    generation_ = registry_.generation();
  }
  for (const auto& [path, doc] : cache_)
    if (path == gvPath) return doc;
  json::object paths, definitions;
  bool any = false;
  for (const ResourceInfo* r : registry_.served()) {
    if (!r->custom || "apis/" + r->group + "/" + r->version != gvPath) continue;
    addResource(*r, paths, definitions);
    any = true;
  }
  if (!any) return nullptr;
  auto doc = std::make_shared<Document>();
  doc->json = api::OpenApi::instance().v3DocumentWith(paths, definitions, gvPath);
  doc->hash = api::OpenApi::hashOf(doc->json);
  cache_.emplace_back(std::string(gvPath), doc);
  return doc;
}

std::string CustomOpenApi::root(const std::string& builtinRoot) {
  auto groupVersions = customGroupVersions();
  if (groupVersions.empty()) return builtinRoot;
  json::value root = json::parse(builtinRoot);
  json::value& paths = root.as_object()["paths"];
  if (!paths.is_object()) paths.emplace_object();
  for (const auto& gv : groupVersions)
    if (auto doc = document(gv))
      paths.as_object()[gv] =
          json::object{{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + doc->hash}};
  return json::serialize(root);
}

}  // namespace skiff::apiserver
