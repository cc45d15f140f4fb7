// Static pods: pod manifests in a folder (--pod-manifest-path) that the kubelet runs on its
// own authority, as upstream's file source. Each is named <name>-<nodeName>, gets a UID
// derived from its content and the node (so an unchanged file is the same pod across kubelet
// restarts) and the annotations kubernetes.io/config.source=file and kubernetes.io/config.hash.
// The API sees it through a mirror pod (annotation kubernetes.io/config.mirror=<hash>,
// owned by the Node) that the kubelet creates, recreates when deleted, and replaces when the
// manifest changes.
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace skiff::kubelet {

inline constexpr const char* kConfigSourceAnnotation = "kubernetes.io/config.source";
inline constexpr const char* kConfigHashAnnotation = "kubernetes.io/config.hash";
inline constexpr const char* kConfigMirrorAnnotation = "kubernetes.io/config.mirror";

// A manifest (YAML or JSON, one Pod) → the static pod object; std::nullopt with `error` when
// the file is not a valid Pod.
std::optional<boost::json::object> staticPodFromManifest(const std::string& content,
                                                         const std::string& nodeName,
                                                         std::string& error);
// The mirror pod for `staticPod` (what the kubelet creates in the API).
boost::json::object mirrorPodFor(const boost::json::object& staticPod, const std::string& nodeName,
                                 const std::string& nodeUid);
bool isMirrorPod(const boost::json::object& pod);

class StaticPodSource {
 public:
  explicit StaticPodSource(std::string dir, std::string nodeName);
  // Re-reads the folder; returns the keys ("ns/name") that appeared, changed or vanished.
  std::vector<std::string> rescan();
  std::optional<boost::json::object> get(const std::string& key) const;
  std::vector<std::string> keys() const;
  bool enabled() const { return !dir_.empty(); }

 private:
  const std::string dir_, nodeName_;
  mutable std::mutex mu_;
  std::map<std::string, boost::json::object> pods_;  // by "ns/name"
  std::map<std::string, std::string> badFiles_;      // path → error, logged once
};

}  // namespace skiff::kubelet
