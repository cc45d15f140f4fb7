// Helpers shared by the Endpoints and EndpointSlice controllers: which pods back a Service,
// how a Service port resolves on a pod, and the per-pod address data both objects carry.
#pragma once
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/label_selector.h"
#include "client/informer.h"

namespace skiff::controller::endpoints {

// Label and annotation names (upstream's well-known ones).
inline constexpr const char* kLabelServiceName = "kubernetes.io/service-name";
inline constexpr const char* kLabelSliceManagedBy = "endpointslice.kubernetes.io/managed-by";
inline constexpr const char* kSliceControllerName = "endpointslice-controller.k8s.io";
inline constexpr const char* kLabelEndpointsManagedBy = "endpoints.kubernetes.io/managed-by";
inline constexpr const char* kEndpointsControllerName = "endpoint-controller";
inline constexpr const char* kLabelHeadless = "service.kubernetes.io/headless";
inline constexpr const char* kAnnotationTriggerTime =
    "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr const char* kAnnotationOverCapacity = "endpoints.kubernetes.io/over-capacity";

// spec.selector of a Service (a plain label map) as a selector; nullopt when the Service has
// none (then its endpoints are managed by someone else). A malformed map selects nothing.
std::optional<api::LabelSelector> serviceSelector(const boost::json::object& service);
bool isHeadless(const boost::json::object& service);

// The pod's primary IP (status.podIP, else the first status.podIPs entry), "" when none.
std::string podIp(const boost::json::object& pod);

// Upstream's ShouldPodBeInEndpoints: not terminal, has an IP, and (unless
// `includeTerminating`) not being deleted.
bool shouldPodBeInEndpoints(const boost::json::object& pod, bool includeTerminating);

// One resolved port of a Service on a pod.
struct ResolvedPort {
  std::string name;
  int64_t port = 0;
  std::string protocol;
  std::string appProtocol;
  bool operator==(const ResolvedPort&) const = default;
  auto operator<=>(const ResolvedPort&) const = default;
};

// The ports of `service` on `pod`: numeric targetPorts as they are, named ones looked up in
// the pod's container ports (same name and protocol); ports that do not resolve are left
// out, as upstream does (the pod then simply does not serve that port).
std::vector<ResolvedPort> resolvePorts(const boost::json::object& service,
                                       const boost::json::object& pod);

// targetRef {kind: Pod, namespace, name, uid}.
boost::json::object podTargetRef(const boost::json::object& pod);
// The DNS hostname of the pod within `service` ("" unless spec.hostname is set and
// spec.subdomain names the service).
std::string podHostname(const boost::json::object& pod, const boost::json::object& service);

// Pods in the service's namespace matched by its selector.
std::vector<client::ObjectPtr> selectedPods(const client::SharedInformer& pods,
                                            const boost::json::object& service,
                                            const api::LabelSelector& selector);

// Keys ("ns/name") of the Services in the pod's namespace whose selector matches the pod.
std::vector<std::string> servicesForPod(const client::SharedInformer& services,
                                        const boost::json::object& pod);

}  // namespace skiff::controller::endpoints
