#include "controller/endpoints_util.h"

#include "common/api_error.h"
#include "controller/controller_utils.h"

namespace skiff::controller::endpoints {

namespace json = boost::json;

std::optional<api::LabelSelector> serviceSelector(const json::object& service) {
  const json::object* sel = objectAt(service, {"spec", "selector"});
  // An empty map is what a selector-less Service looks like after a round trip through
  // storage upstream (nil and {} are the same map there), so it also means "no selector".
  if (!sel || sel->empty()) return std::nullopt;
  try {
    return api::LabelSelector::fromJson(json::object{{"matchLabels", *sel}});
  } catch (const ApiError&) {
    return api::LabelSelector::nothing();
  }
}

bool isHeadless(const json::object& service) {
  return stringAt(service, {"spec", "clusterIP"}) == "None";
}

std::string podIp(const json::object& pod) {
  std::string ip = stringAt(pod, {"status", "podIP"});
  if (!ip.empty()) return ip;
  if (const json::array* ips = arrayAt(pod, {"status", "podIPs"}))
    for (const auto& v : *ips)
      if (const json::object* o = v.if_object())
        if (auto s = stringAt(*o, {"ip"}); !s.empty()) return s;
  return "";
}

bool shouldPodBeInEndpoints(const json::object& pod, bool includeTerminating) {
  if (isPodTerminal(pod)) return false;
  if (podIp(pod).empty()) return false;
  if (!includeTerminating && isBeingDeleted(pod)) return false;
  return true;
}

namespace {

// The container port named `name` with `protocol`, or nullopt.
std::optional<int64_t> namedContainerPort(const json::object& pod, const std::string& name,
                                          const std::string& protocol) {
  const json::array* containers = arrayAt(pod, {"spec", "containers"});
  if (!containers) return std::nullopt;
  for (const auto& c : *containers) {
    const json::object* co = c.if_object();
    const json::array* ports = co ? arrayAt(*co, {"ports"}) : nullptr;
    if (!ports) continue;
    for (const auto& p : *ports) {
      const json::object* po = p.if_object();
      if (!po || stringAt(*po, {"name"}) != name) continue;
      if (stringAt(*po, {"protocol"}, "TCP") != protocol) continue;
      int64_t port = intAt(*po, {"containerPort"}, 0);
      if (port > 0) return port;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<ResolvedPort> resolvePorts(const json::object& service, const json::object& pod) {
  std::vector<ResolvedPort> out;
  const json::array* ports = arrayAt(service, {"spec", "ports"});
  if (!ports) return out;
  for (const auto& p : *ports) {
    const json::object* sp = p.if_object();
    if (!sp) continue;
    ResolvedPort r;
    r.name = stringAt(*sp, {"name"});
    r.protocol = stringAt(*sp, {"protocol"}, "TCP");
    r.appProtocol = stringAt(*sp, {"appProtocol"});
    const json::value* target = sp->if_contains("targetPort");
    if (!target || target->is_null()) {
      r.port = intAt(*sp, {"port"}, 0);  // targetPort defaults to port
    } else if (target->is_string()) {
      auto named = namedContainerPort(pod, std::string(target->get_string()), r.protocol);
      if (!named) continue;
      r.port = *named;
    } else {
      r.port = intAt(*sp, {"targetPort"}, 0);
      if (r.port == 0) r.port = intAt(*sp, {"port"}, 0);
    }
    if (r.port <= 0 || r.port > 65535) continue;
    out.push_back(std::move(r));
  }
  return out;
}

json::object podTargetRef(const json::object& pod) {
  return json::object{
      {"kind", "Pod"}, {"namespace", namespaceOf(pod)}, {"name", nameOf(pod)}, {"uid", uidOf(pod)}};
}

std::string podHostname(const json::object& pod, const json::object& service) {
  std::string hostname = stringAt(pod, {"spec", "hostname"});
  if (hostname.empty()) return "";
  if (stringAt(pod, {"spec", "subdomain"}) != nameOf(service)) return "";
  if (namespaceOf(pod) != namespaceOf(service)) return "";
  return hostname;
}

std::vector<client::ObjectPtr> selectedPods(const client::SharedInformer& pods,
                                            const json::object& service,
                                            const api::LabelSelector& selector) {
  std::vector<client::ObjectPtr> out;
  for (auto& pod : pods.byIndex(client::kIndexNamespace, namespaceOf(service)))
    if (labelsMatch(selector, *pod)) out.push_back(pod);
  return out;
}

std::vector<std::string> servicesForPod(const client::SharedInformer& services,
                                        const json::object& pod) {
  std::vector<std::string> keys;
  for (auto& svc : services.byIndex(client::kIndexNamespace, namespaceOf(pod))) {
    auto sel = serviceSelector(*svc);
    if (sel && labelsMatch(*sel, pod)) keys.push_back(client::objectKey(*svc));
  }
  return keys;
}

}  // namespace skiff::controller::endpoints
