#include "kubelet/static_pods.h"

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/json_access.h"
#include "api/yaml_json.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace skiff::kubelet {
namespace {

using api::objectAt;
using api::stringAt;

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

bool isMirrorPod(const json::object& pod) {
  auto* a = objectAt(pod, {"metadata", "annotations"});
  return a && a->contains(kConfigMirrorAnnotation);
}

std::optional<json::object> staticPodFromManifest(const std::string& content,
                                                  const std::string& nodeName, std::string& error) {
  json::value v;
  try {
    v = api::yamlToJson(content);
  } catch (const std::exception& e) {
    error = std::string("invalid manifest: ") + e.what();
    return std::nullopt;
  }
  auto* pod = v.if_object();
  if (!pod || stringAt(*pod, {"kind"}) != "Pod" || stringAt(*pod, {"apiVersion"}) != "v1") {
    error = "a static pod manifest must hold one v1 Pod";
    return std::nullopt;
  }
  auto name = stringAt(*pod, {"metadata", "name"});
  if (name.empty() || !objectAt(*pod, {"spec"})) {
    error = "the Pod needs metadata.name and spec";
    return std::nullopt;
  }
  json::object out = *pod;
  auto& meta = out["metadata"].as_object();
  if (stringAt(meta, {"namespace"}).empty()) meta["namespace"] = "default";
  meta["name"] = name + "-" + nodeName;
  // Same file on the same node → same UID and hash, so a restarted kubelet finds its pod.
  auto h = fnv1a(content, fnv1a(nodeName));
  auto uidHex = hex(h) + hex(fnv1a(content, h));
  meta["uid"] = uidHex.substr(0, 8) + "-" + uidHex.substr(8, 4) + "-" + uidHex.substr(12, 4) + "-" +
                uidHex.substr(16, 4) + "-" + uidHex.substr(20, 12);
  auto& ann = meta["annotations"].is_object() ? meta["annotations"].as_object()
                                              : (meta["annotations"] = json::object{}).as_object();
  ann[kConfigSourceAnnotation] = "file";
  ann[kConfigHashAnnotation] = uidHex.substr(0, 32);
  auto& spec = out["spec"].as_object();
  spec["nodeName"] = nodeName;
  if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Always";
  if (!spec.contains("dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
  if (!spec.contains("terminationGracePeriodSeconds")) spec["terminationGracePeriodSeconds"] = 30;
  if (auto* list = spec.if_contains("containers"); list && list->is_array())
    for (auto& c : list->as_array())
      if (auto* co = c.if_object()) {
        auto image = stringAt(*co, {"image"});
        if (!co->contains("imagePullPolicy"))
          (*co)["imagePullPolicy"] =
              image.find(':') == std::string::npos || image.ends_with(":latest") ? "Always"
                                                                                 : "IfNotPresent";
        if (!co->contains("terminationMessagePath"))
          (*co)["terminationMessagePath"] = "/dev/termination-log";
      }
  out.erase("status");
  return out;
}

json::object mirrorPodFor(const json::object& staticPod, const std::string& nodeName,
                          const std::string& nodeUid) {
  json::object mirror = staticPod;
  auto& meta = mirror["metadata"].as_object();
  meta.erase("uid");
  meta.erase("resourceVersion");
  meta["annotations"].as_object()[kConfigMirrorAnnotation] =
      stringAt(staticPod, {"metadata", "annotations", kConfigHashAnnotation});
  if (!nodeUid.empty())
    meta["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                       {"kind", "Node"},
                                                       {"name", nodeName},
                                                       {"uid", nodeUid},
                                                       {"controller", true}}};
  return mirror;
}

StaticPodSource::StaticPodSource(std::string dir, std::string nodeName)
    : dir_(std::move(dir)), nodeName_(std::move(nodeName)) {}

std::vector<std::string> StaticPodSource::rescan() {
  std::map<std::string, json::object> found;
  std::error_code ec;
  if (!dir_.empty() && fs::is_directory(dir_, ec)) {
    for (auto& entry : fs::directory_iterator(dir_, ec)) {
      auto name = entry.path().filename().string();
      if (!entry.is_regular_file() || name.empty() || name[0] == '.')
        continue;  // editors' temp files
      std::ifstream in(entry.path());
      std::stringstream content;
      content << in.rdbuf();
      std::string error;
      auto pod = staticPodFromManifest(content.str(), nodeName_, error);
      std::lock_guard lock(mu_);
      if (!pod) {
        if (badFiles_[entry.path().string()] != error)
          SKIFF_LOG_WARN("kubelet static pod manifest={} skipped error=\"{}\"",
                         entry.path().string(), error);
        badFiles_[entry.path().string()] = error;
        continue;
      }
      badFiles_.erase(entry.path().string());
      found[stringAt(*pod, {"metadata", "namespace"}) + "/" +
            stringAt(*pod, {"metadata", "name"})] = std::move(*pod);
    }
  }
  std::vector<std::string> changed;
  std::lock_guard lock(mu_);
  for (auto& [key, pod] : found) {
    auto it = pods_.find(key);
    if (it == pods_.end() || it->second != pod) changed.push_back(key);
  }
  for (auto& [key, pod] : pods_)
    if (!found.count(key)) changed.push_back(key);
  pods_ = std::move(found);
  return changed;
}

std::optional<json::object> StaticPodSource::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> StaticPodSource::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& [k, v] : pods_) out.push_back(k);
  return out;
}

}  // namespace skiff::kubelet
