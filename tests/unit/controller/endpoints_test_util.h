// Pods and Services for the endpoints, endpointslice and disruption controller tests. Pods
// get their own IPs (markPodRunning gives every pod the same one).
#pragma once
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;

// A pod labelled `labels` with one container exposing `containerPorts` ([{name,
// containerPort}]); bound to `node` when given.
inline json::object makePod(client::RestClient& c, const std::string& ns, const std::string& name,
                            json::object labels, json::array containerPorts = {},
                            const std::string& node = "", json::array ownerRefs = {}) {
  json::object container{{"name", "c"}, {"image", "busybox:1.36"}};
  if (!containerPorts.empty()) container["ports"] = std::move(containerPorts);
  json::object spec{{"containers", json::array{container}}};
  if (!node.empty()) spec["nodeName"] = node;
  json::object meta{{"name", name}, {"labels", std::move(labels)}};
  if (!ownerRefs.empty()) meta["ownerReferences"] = std::move(ownerRefs);
  return c.create(
      client::resources::pods, ns,
      json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}});
}

// What a kubelet reports: Running with `ip`, Ready=`ready`.
inline void setPodStatus(client::RestClient& c, const std::string& ns, const std::string& name,
                         const std::string& ip, bool ready) {
  std::string s = ready ? "True" : "False";
  auto now = nowTime();
  json::object patch{
      {"status",
       json::object{{"phase", "Running"},
                    {"podIP", ip},
                    {"podIPs", json::array{json::object{{"ip", ip}}}},
                    {"conditions",
                     json::array{json::object{
                         {"type", "Ready"}, {"status", s}, {"lastTransitionTime", now}}}}}}};
  c.patch(client::resources::pods, ns, name, client::PatchType::Merge, patch, "status");
}

inline json::object makeService(client::RestClient& c, const std::string& ns,
                                const std::string& name, json::value selector, json::array ports,
                                json::object extraSpec = {}) {
  json::object spec = std::move(extraSpec);
  if (!selector.is_null()) spec["selector"] = std::move(selector);
  spec["ports"] = std::move(ports);
  return c.create(client::resources::services, ns,
                  json::object{{"apiVersion", "v1"},
                               {"kind", "Service"},
                               {"metadata", json::object{{"name", name},
                                                         {"labels", json::object{{"team", "a"}}}}},
                               {"spec", spec}});
}

inline json::object makeNode(client::RestClient& c, const std::string& name,
                             json::object labels = {}) {
  try {
    return c.create(
        client::resources::nodes, "",
        json::object{{"apiVersion", "v1"},
                     {"kind", "Node"},
                     {"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}}});
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;
    return c.get(client::resources::nodes, "", name);
  }
}

// The object or nullopt when it does not exist.
inline std::optional<json::object> tryGet(client::RestClient& c, const client::Resource& r,
                                          const std::string& ns, const std::string& name) {
  try {
    return c.get(r, ns, name);
  } catch (const ApiError& e) {
    if (e.code() == 404) return std::nullopt;
    throw;
  }
}

// Evaluates `fn` until it returns true, remembering the last failure reason for messages.
inline bool waitFor(const std::function<bool()>& fn,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return eventually(
      [&] {
        try {
          return fn();
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout);
}

}  // namespace skiff::controller::testing
