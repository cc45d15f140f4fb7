// Typed views of Pods and Nodes for the scheduler. Each is built ONCE per object change from
// the API JSON; filter and score plugins never touch JSON.
#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/label_selector.h"

namespace skiff::scheduler {

using Labels = std::map<std::string, std::string, std::less<>>;
using TimePoint = std::chrono::system_clock::time_point;

inline constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";
// Upstream schedutil defaults for containers without requests; used by scoring only.
inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200LL * 1024 * 1024;

// Amounts the scheduler accounts: cpu in millicores, the rest in whole units.
struct Resources {
  int64_t milliCpu = 0;
  int64_t memory = 0;
  int64_t ephemeralStorage = 0;
  std::map<std::string, int64_t, std::less<>> scalar;  // extended resources, hugepages-*

  void add(const Resources& o);
  void sub(const Resources& o);
  // Per-resource max, the init-container rule.
  void setMax(const Resources& o);
  // Reads a ResourceList object {"cpu": "500m", ...}; malformed amounts count as zero.
  static Resources fromJson(const boost::json::value* list);
};

enum class TaintEffect { NoSchedule, PreferNoSchedule, NoExecute, Other };

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::NoSchedule;
};

struct Toleration {
  std::string key;      // empty with Exists: tolerates every key
  bool exists = false;  // operator Exists; otherwise Equal
  std::string value;
  std::optional<TaintEffect> effect;  // empty: every effect
  // tolerationSeconds only matters to eviction (NoExecute), never to scheduling.
  bool tolerates(const Taint& taint) const;
};
bool toleratesAny(const std::vector<Toleration>& tolerations, const Taint& taint);

// v1.NodeSelectorRequirement; Gt/Lt compare integers like upstream.
struct NodeSelectorRequirement {
  enum class Op { In, NotIn, Exists, DoesNotExist, Gt, Lt, Invalid };
  std::string key;
  Op op = Op::Invalid;
  std::vector<std::string> values;
  bool matches(const Labels& labels) const;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> matchExpressions;
  std::vector<NodeSelectorRequirement> matchFields;  // only metadata.name exists upstream
  // An empty term matches nothing, as upstream.
  bool matches(const Labels& labels, std::string_view nodeName) const;
};

struct PreferredSchedulingTerm {
  int32_t weight = 0;
  NodeSelectorTerm term;
};

struct PodInfo;

struct PodAffinityTerm {
  api::LabelSelector selector = api::LabelSelector::nothing();
  // Namespaces the term looks at. Empty list and no namespaceSelector: the pod's own namespace.
  std::vector<std::string> namespaces;
  bool allNamespaces = false;  // namespaceSelector {} (matches every namespace)
  std::string topologyKey;
  bool matches(const PodInfo& candidate) const;
};

struct WeightedPodAffinityTerm {
  int32_t weight = 0;
  PodAffinityTerm term;
};

struct TopologySpreadConstraint {
  int32_t maxSkew = 1;
  std::string topologyKey;
  bool doNotSchedule = true;  // whenUnsatisfiable
  api::LabelSelector selector = api::LabelSelector::nothing();
  int32_t minDomains = 1;
};

struct HostPort {
  std::string ip = "0.0.0.0";
  std::string protocol = "TCP";
  int32_t port = 0;
  // Same protocol and port, and the IPs overlap (0.0.0.0 overlaps every IP).
  bool conflicts(const HostPort& o) const;
};

struct PodInfo {
  std::string ns;
  std::string name;
  std::string uid;
  int32_t priority = 0;
  bool preemptionNever = false;  // spec.preemptionPolicy: Never
  std::string nodeName;
  Labels labels;
  Labels nodeSelector;
  std::optional<std::vector<NodeSelectorTerm>> requiredNodeAffinity;
  std::vector<PreferredSchedulingTerm> preferredNodeAffinity;
  std::vector<PodAffinityTerm> requiredAffinity;
  std::vector<PodAffinityTerm> requiredAntiAffinity;
  std::vector<WeightedPodAffinityTerm> preferredAffinity;
  std::vector<WeightedPodAffinityTerm> preferredAntiAffinity;
  std::vector<Toleration> tolerations;
  // max(sum of containers (+ sidecars), max init container) + overhead.
  Resources requests;
  // Same rule with 100m cpu / 200Mi memory for containers that request none (scoring only).
  int64_t nonZeroMilliCpu = 0;
  int64_t nonZeroMemory = 0;
  std::vector<HostPort> hostPorts;
  std::vector<TopologySpreadConstraint> spreadConstraints;
  // Names of the PersistentVolumeClaims the pod uses (persistentVolumeClaim volumes, and
  // "<pod>-<volume>" for generic ephemeral ones), in volume order.
  std::vector<std::string> claims;
  std::vector<std::string>
      images;  // init containers and containers; normalized: ":latest" added when no tag or digest
  TimePoint creationTime{};
  TimePoint startTime{};  // status.startTime, or creation time when unset
  bool terminating = false;

  std::string key() const { return ns + "/" + name; }
  bool hasAffinityTerms() const {
    return !requiredAffinity.empty() || !requiredAntiAffinity.empty() ||
           !preferredAffinity.empty() || !preferredAntiAffinity.empty();
  }
  // Reads a v1.Pod. Throws std::invalid_argument when it is not an object.
  static PodInfo fromJson(const boost::json::value& pod);
  // The same without first copying an informer's object into a value.
  static PodInfo fromJson(const boost::json::object& pod);
  // Whether fromJson would read the same PodInfo from both versions of a pod: the fields it
  // reads are equal (a status update of a running pod changes none but the phase).
  static bool sameInfo(const boost::json::object& a, const boost::json::object& b);
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// A Node and the pods bound or assumed to it. Immutable once published in a Snapshot: the
// cache replaces the whole NodeInfo on change (copy-on-write).
struct NodeInfo {
  // The fields every filter and score reads on every node come first and together: a cycle
  // visits hundreds of nodes that other threads pushed out of the CPU caches since the last
  // visit, and each node then costs a few cache-line loads instead of one per field.
  bool unschedulable = false;
  int podsWithAffinity = 0;
  int podsWithRequiredAntiAffinity = 0;
  int64_t allowedPods = 0;
  int64_t nonZeroMilliCpu = 0;
  int64_t nonZeroMemory = 0;
  std::vector<PodInfoPtr> pods;
  Resources allocatable;
  Resources requested;
  std::vector<Taint> taints;
  std::vector<HostPort> usedPorts;

  std::string name;
  Labels labels;
  std::map<std::string, int64_t, std::less<>> imageSizes;  // normalized name -> bytes

  // Starts loading the hot fields above, about four cache lines (the caller visits this node
  // soon).
  void prefetch() const {
    const char* p = reinterpret_cast<const char*>(this);
    for (size_t off = 0; off < 256; off += 64) __builtin_prefetch(p + off);
  }

  void addPod(PodInfoPtr pod);
  // False when no pod with that key is on the node.
  bool removePod(std::string_view podKey);
  // Reads a v1.Node (pods are added separately).
  static NodeInfo fromJson(const boost::json::value& node);
  static NodeInfo fromJson(const boost::json::object& node);
};
using NodeInfoPtr = std::shared_ptr<const NodeInfo>;

// Reads a v1.NodeSelectorTerm (a PV's spec.nodeAffinity.required terms, for VolumeBinding).
NodeSelectorTerm nodeSelectorTermFromJson(const boost::json::object* term);

// Adds ":latest" to a reference without tag or digest, as upstream's image normalization.
std::string normalizeImageName(std::string_view image);
// Matches a LabelSelector against typed labels (LabelSelector itself works on JSON).
bool selectorMatches(const api::LabelSelector& selector, const Labels& labels);

}  // namespace skiff::scheduler
