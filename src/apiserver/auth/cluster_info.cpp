#include "apiserver/auth/cluster_info.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/log.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {
constexpr const char* kName = "skiff:bootstrap-signer-clusterinfo";

void createIfMissing(ResourceStore& store, const api::ResourceInfo& info, json::object obj) {
  RequestContext ctx;  // the server's own write
  try {
    store.create(info, "kube-public", std::move(obj), ctx);
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;
  }
}
}  // namespace

std::string clusterInfoKubeconfig(const std::string& caPem, const std::string& serverUrl) {
  return "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " +
         base64Encode(caPem) + "\n    server: " + serverUrl +
         "\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\n"
         "preferences: {}\nusers: null\n";
}

void publishClusterInfo(ResourceStore& store, const api::ResourceRegistry& registry,
                        const std::string& caPem, const std::string& serverUrl) {
  try {
    const auto* configMaps = registry.find("", "v1", "configmaps");
    const std::string kubeconfig = clusterInfoKubeconfig(caPem, serverUrl);
    json::object cm{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
                    {"data", {{"kubeconfig", kubeconfig}}}};
    RequestContext ctx;
    try {
      store.create(*configMaps, "kube-public", cm, ctx);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
      // The server's address or CA may have changed since: keep the published copy current.
      json::object current = store.get(*configMaps, "kube-public", "cluster-info");
      if (api::stringAt(current, {"data", "kubeconfig"}) != kubeconfig) {
        api::ensureObject(current, {"data"})["kubeconfig"] = kubeconfig;
        store.update(*configMaps, "kube-public", "cluster-info", "", std::move(current), ctx);
      }
    }
    const auto* roles = registry.find("rbac.authorization.k8s.io", "v1", "roles");
    const auto* bindings = registry.find("rbac.authorization.k8s.io", "v1", "rolebindings");
    createIfMissing(
        store, *roles,
        json::object{
            {"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "Role"},
            {"metadata", {{"name", kName}, {"namespace", "kube-public"}}},
            {"rules", json::array{json::object{{"apiGroups", json::array{""}},
                                               {"resources", json::array{"configmaps"}},
                                               {"resourceNames", json::array{"cluster-info"}},
                                               {"verbs", json::array{"get"}}}}}});
    createIfMissing(
        store, *bindings,
        json::object{
            {"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "RoleBinding"},
            {"metadata", {{"name", kName}, {"namespace", "kube-public"}}},
            {"roleRef",
             {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", kName}}},
            {"subjects", json::array{json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                                  {"kind", "User"},
                                                  {"name", "system:anonymous"}}}}});
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("cluster-info not published: {}", e.what());
  }
}

}  // namespace skiff::apiserver::rbac
