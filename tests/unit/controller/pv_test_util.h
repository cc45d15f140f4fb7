// Builders for the storage controller tests: volumes, claims, classes, nodes and pods.
#pragma once
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace skiff::controller::testing::pvt {

namespace json = boost::json;

inline json::array modes(const std::vector<std::string>& m) {
  json::array a;
  for (auto& x : m) a.emplace_back(x);
  return a;
}

inline json::object volume(const std::string& name, const std::string& size,
                           const std::string& cls = "",
                           std::vector<std::string> accessModes = {"ReadWriteOnce"},
                           const std::string& phase = "Available",
                           const std::string& policy = "Retain") {
  json::object spec{{"capacity", {{"storage", size}}},
                    {"accessModes", modes(accessModes)},
                    {"volumeMode", "Filesystem"},
                    {"persistentVolumeReclaimPolicy", policy},
                    {"hostPath", {{"path", "/tmp/" + name}}}};
  if (!cls.empty()) spec["storageClassName"] = cls;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "PersistentVolume"},
                      {"metadata", {{"name", name}}},
                      {"spec", std::move(spec)},
                      {"status", {{"phase", phase}}}};
}

inline json::object claim(const std::string& name, const std::string& size,
                          std::optional<std::string> cls = std::string(),
                          std::vector<std::string> accessModes = {"ReadWriteOnce"}) {
  json::object spec{{"accessModes", modes(accessModes)},
                    {"resources", {{"requests", {{"storage", size}}}}},
                    {"volumeMode", "Filesystem"}};
  if (cls) spec["storageClassName"] = *cls;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "PersistentVolumeClaim"},
                      {"metadata", {{"name", name}, {"namespace", "ns"}}},
                      {"spec", std::move(spec)},
                      {"status", {{"phase", "Pending"}}}};
}

inline json::object storageClass(const std::string& name, const std::string& provisioner,
                                 const std::string& mode = "Immediate", bool isDefault = false,
                                 const std::string& created = "2026-01-01T00:00:00Z") {
  json::object meta{{"name", name}, {"creationTimestamp", created}};
  if (isDefault) meta["annotations"] = {{"storageclass.kubernetes.io/is-default-class", "true"}};
  return json::object{{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"},
                      {"metadata", std::move(meta)},       {"provisioner", provisioner},
                      {"reclaimPolicy", "Delete"},         {"volumeBindingMode", mode}};
}

inline json::object readyNode(const std::string& name, bool ready = true) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
      {"status",
       {{"conditions",
         json::array{json::object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

inline json::object podUsing(const std::string& name, const std::string& claimName,
                             const std::string& node = "n1", const std::string& phase = "Running") {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", "ns"}}},
      {"spec",
       {{"nodeName", node},
        {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}},
        {"volumes",
         json::array{json::object{{"name", "data"},
                                  {"persistentVolumeClaim", {{"claimName", claimName}}}}}}}},
      {"status", {{"phase", phase}}}};
}

}  // namespace skiff::controller::testing::pvt
