// A container's environment as upstream's kubelet builds it (makeEnvironmentVariables):
// envFrom sources, then env entries with $(VAR) expansion, fieldRef / resourceFieldRef
// (the downward API) and configMap / secret key references. The downward API helpers here
// are shared with the downwardAPI and projected volumes (volumes.cpp).
//
// Errors: anything that keeps a container from being configured throws ContainerConfigError,
// whose reason is upstream's waiting reason and whose message is upstream's text, so the pod
// worker can put both into the container status and an event as they are.
#pragma once
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "client/rest_client.h"

namespace skiff::kubelet {

// Fetches an API object; std::nullopt when it does not exist (404); throws std::runtime_error
// on other failures.
using ObjectFetcher = std::function<std::optional<boost::json::object>(
    const client::Resource&, const std::string& ns, const std::string& name)>;

// What the kubelet knows about a pod beyond its spec.
struct PodRuntimeInfo {
  std::string nodeName, hostIP, podIP;
  std::vector<std::string> podIPs;  // podIPs[0] wins over podIP when both are set
};

struct ContainerConfigError : std::runtime_error {
  explicit ContainerConfigError(const std::string& message,
                                std::string reason = "CreateContainerConfigError")
      : std::runtime_error(message), reason(std::move(reason)) {}
  std::string reason;
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

// The container's environment. Names are unique: a later source of a name replaces the value
// of an earlier one and keeps the earlier position (upstream collects into a map, so its order
// is unspecified; this order is envFrom keys as listed, then env entries as declared).
// Missing optional references leave the variable out; secret values are base64-decoded.
// resourceFieldRef limits that are unset (or zero) default to `nodeAllocatable` ("cpu",
// "memory", "ephemeral-storage" → quantity text), as upstream's defaultPodLimitsForDownwardAPI.
EnvList containerEnv(const boost::json::object& pod, const boost::json::object& container,
                     const PodRuntimeInfo& info, const ObjectFetcher& fetch,
                     const std::map<std::string, std::string>& nodeAllocatable = {});
// The same with service link variables (see serviceEnvironment): they take part in $(VAR)
// expansion after the container's own variables and are appended, in name order, when the
// container does not define the name itself.
EnvList containerEnv(const boost::json::object& pod, const boost::json::object& container,
                     const PodRuntimeInfo& info, const ObjectFetcher& fetch,
                     const std::map<std::string, std::string>& nodeAllocatable,
                     const std::map<std::string, std::string>& serviceEnv);

// $(VAR) expansion as upstream's third_party/forked/golang/expansion: "$$" is a literal "$",
// $(NAME) is replaced when NAME is in `env` and kept as written otherwise, a "$" not followed
// by "(" or "$" and an unclosed "$(" are kept as written.
std::string expandEnvReferences(const std::string& input,
                                const std::map<std::string, std::string>& env);
// A container's command or args after expansion (nullptr → empty). Non-string items are skipped.
std::vector<std::string> expandAll(const boost::json::array* items,
                                   const std::map<std::string, std::string>& env);
// subPathExpr expansion (upstream's ExpandContainerVolumeMounts): as expandEnvReferences, but
// every referenced variable must be set and non-empty; throws std::runtime_error
// "missing value for A, B" otherwise.
std::string expandSubPathExpr(const std::string& expr,
                              const std::map<std::string, std::string>& env);
// The env list as a map, for expandAll and subPathExpr.
std::map<std::string, std::string> envMap(const EnvList& env);

// --- downward API, shared with the volume plugins. These throw std::runtime_error with
// upstream's message on a bad selector.

// A fieldRef value: metadata.name, metadata.namespace, metadata.uid, metadata.labels,
// metadata.annotations (the whole map as `key="value"` lines, sorted), metadata.labels['k'],
// metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.hostIP,
// status.hostIPs, status.podIP, status.podIPs.
std::string podFieldValue(const boost::json::object& pod, const std::string& fieldPath,
                          const PodRuntimeInfo& info);
// A resourceFieldRef value ({containerName?, resource, divisor?}) for `self` or, when the
// selector names one, that container of the pod; rounded up to a whole number of divisors.
std::string containerResourceValue(const boost::json::object& pod, const boost::json::object* self,
                                   const boost::json::object& selector,
                                   const std::map<std::string, std::string>& nodeAllocatable);
// Upstream's fieldpath.FormatMap: `key="value"` lines sorted by key, values quoted like Go's
// %q, no trailing newline.
std::string formatDownwardMap(const boost::json::object* map);

// Service link variables (upstream's envvars.FromServices and getServiceEnvVarMap): the
// "kubernetes" service of the default namespace always, and the services of `podNamespace`
// when `enableServiceLinks`; headless services (clusterIP None or empty) are skipped.
// FOO_SERVICE_HOST, FOO_SERVICE_PORT, FOO_SERVICE_PORT_<NAME>, and the Docker link variables
// FOO_PORT, FOO_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
std::map<std::string, std::string> serviceEnvironment(
    const std::vector<boost::json::object>& services, const std::string& podNamespace,
    bool enableServiceLinks);

}  // namespace skiff::kubelet
