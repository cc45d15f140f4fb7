#include "cli/cluster_setup.h"

#include <boost/json.hpp>

#include "client/rest_client.h"
#include "common/api_error.h"
#include "common/component_pki.h"

namespace json = boost::json;

namespace skiff::cli::cluster {

std::vector<std::string> cloudServerArgs(const std::string& cluster,
                                         const std::vector<std::string>& nodeNetns,
                                         const std::string& lbRange) {
  std::string netns = ".";
  for (auto& n : nodeNetns) netns += "," + n;
  return {"--cloud-provider",         "local", "--cluster-name", cluster,
          "--load-balancer-ip-range", lbRange, "--route-netns",  netns};
}

namespace {
// Create, or keep what is there (a second create of the same object is not an error).
void createOrKeep(client::RestClient& c, const client::Resource& r, const json::object& obj) {
  try {
    c.create(r, "", obj);
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;
  }
}
}  // namespace

void registerNodes(client::RestClient& admin, const std::vector<std::string>& nodeNames) {
  for (auto& n : nodeNames)
    createOrKeep(admin, client::resources::nodes,
                 json::object{{"apiVersion", "v1"},
                              {"kind", "Node"},
                              {"metadata", json::object{{"name", n}}},
                              {"spec", json::object{{"taints", json::array{json::object{
                                                                   {"key", kUninitializedTaint},
                                                                   {"value", "true"},
                                                                   {"effect", "NoSchedule"}}}}}}});
}

std::string issuePolicyAgentKubeconfig(const std::string& serverDataDir, const ServerPki& pki,
                                       const std::string& serverUrl) {
  return ensureComponentKubeconfig(serverDataDir, pki,
                                   ComponentIdentity{"network-policy-agent", kPolicyAgentUser, {}},
                                   serverUrl);
}

void grantPolicyAgent(client::RestClient& admin) {
  const client::Resource roles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
  const client::Resource bindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};
  json::array verbs{"get", "list", "watch"};
  createOrKeep(
      admin, roles,
      json::object{
          {"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata", json::object{{"name", kPolicyAgentUser}}},
          {"rules", json::array{json::object{{"apiGroups", json::array{""}},
                                             {"resources", json::array{"pods", "namespaces"}},
                                             {"verbs", verbs}},
                                json::object{{"apiGroups", json::array{"networking.k8s.io"}},
                                             {"resources", json::array{"networkpolicies"}},
                                             {"verbs", verbs}}}}});
  createOrKeep(
      admin, bindings,
      json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "ClusterRoleBinding"},
                   {"metadata", json::object{{"name", kPolicyAgentUser}}},
                   {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                            {"kind", "ClusterRole"},
                                            {"name", kPolicyAgentUser}}},
                   {"subjects", json::array{json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                                         {"kind", "User"},
                                                         {"name", kPolicyAgentUser}}}}});
}

}  // namespace skiff::cli::cluster
