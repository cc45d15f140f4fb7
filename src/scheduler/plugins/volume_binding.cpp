#include "scheduler/plugins/volume_binding.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <thread>

#include "api/json_access.h"
#include "api/quantity.h"
#include "client/rest_client.h"

namespace skiff::scheduler {

namespace json = boost::json;
using api::stringAt;

namespace {

constexpr std::string_view kStateKey = "VolumeBinding";
constexpr const char* kNoProvisioner = "kubernetes.io/no-provisioner";
const std::string kNodeConflict = "node(s) had volume node affinity conflict";
const std::string kBindConflict = "node(s) didn't find available persistent volumes to bind";

// A PV's required node affinity; an empty list: any node.
using Affinity = std::vector<NodeSelectorTerm>;

struct VolumeBindingState : StateData {
  std::vector<Affinity> bound;  // PVs of bound claims that have a node affinity
  // Per unbound claim of a class without provisioner: the affinities of the PVs it could bind.
  std::vector<std::vector<Affinity>> staticCandidates;
};

Affinity affinityOf(const json::object& pv) {
  Affinity terms;
  if (auto* list = api::arrayAt(pv, {"spec", "nodeAffinity", "required", "nodeSelectorTerms"}))
    for (auto& t : *list) terms.push_back(nodeSelectorTermFromJson(t.if_object()));
  return terms;
}

bool affinityMatches(const Affinity& terms, const NodeInfo& node) {
  if (terms.empty()) return true;
  return std::any_of(terms.begin(), terms.end(),
                     [&](const NodeSelectorTerm& t) { return t.matches(node.labels, node.name); });
}

std::string claimClass(const json::object& claim) {
  auto cls = stringAt(claim, {"spec", "storageClassName"});
  if (cls.empty())
    cls = stringAt(claim, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  return cls;
}

int64_t bytesAt(const json::value* v) {
  if (!v || !v->is_string()) return -1;
  auto q = api::Quantity::parse(v->get_string());
  return q ? q->value() : -1;
}

// Whether an unbound PV can take the claim: same class, not claimed by another claim, large
// enough, every access mode the claim asks for, same volume mode (upstream's FindMatchingVolume
// without selectors' corner cases).
bool volumeFits(const json::object& pv, const json::object& claim, const std::string& cls) {
  if (api::valueAt(pv, {"metadata", "deletionTimestamp"})) return false;
  if (stringAt(pv, {"spec", "storageClassName"}) != cls) return false;
  auto refName = stringAt(pv, {"spec", "claimRef", "name"});
  if (!refName.empty() &&
      (refName != client::metaString(claim, "name") ||
       stringAt(pv, {"spec", "claimRef", "namespace"}) != client::metaString(claim, "namespace")))
    return false;
  auto phase = stringAt(pv, {"status", "phase"});
  if (!phase.empty() && phase != "Available" && phase != "Pending") return false;
  int64_t want = bytesAt(api::valueAt(claim, {"spec", "resources", "requests", "storage"}));
  if (bytesAt(api::valueAt(pv, {"spec", "capacity", "storage"})) < want) return false;
  auto mode = [](const json::object& o) {
    auto m = stringAt(o, {"spec", "volumeMode"});
    return m.empty() ? std::string("Filesystem") : m;
  };
  if (mode(pv) != mode(claim)) return false;
  if (auto* modes = api::arrayAt(claim, {"spec", "accessModes"})) {
    const auto* have = api::arrayAt(pv, {"spec", "accessModes"});
    for (auto& m : *modes)
      if (!have || std::find(have->begin(), have->end(), m) == have->end()) return false;
  }
  return true;
}

// The binding mode of an unbound claim's class: "" when the class is missing (error set).
std::string bindingMode(const VolumeListers& listers, const json::object& claim,
                        std::string& provisioner, std::string& error) {
  auto cls = claimClass(claim);
  if (cls.empty()) return "Immediate";  // no class: the PV binder binds it at once
  auto sc = listers.storageClass ? listers.storageClass(cls) : nullptr;
  if (!sc) {
    error = "storageclass.storage.k8s.io \"" + cls + "\" not found";
    return "";
  }
  provisioner = stringAt(*sc, {"provisioner"});
  auto mode = stringAt(*sc, {"volumeBindingMode"});
  return mode.empty() ? "Immediate" : mode;
}

}  // namespace

Status VolumeBinding::preFilter(CycleState& state, const PodInfo& pod, const Snapshot&) const {
  if (pod.claims.empty()) return Status::skip();
  auto data = std::make_shared<VolumeBindingState>();
  bool unboundImmediate = false;
  for (const auto& name : pod.claims) {
    auto claim = listers_.claim ? listers_.claim(pod.ns, name) : nullptr;
    if (!claim) return Status::unresolvable("persistentvolumeclaim \"" + name + "\" not found");
    if (api::valueAt(*claim, {"metadata", "deletionTimestamp"}))
      return Status::unresolvable("persistentvolumeclaim \"" + name + "\" is being deleted");
    auto volumeName = stringAt(*claim, {"spec", "volumeName"});
    if (!volumeName.empty()) {
      auto pv = listers_.volume ? listers_.volume(volumeName) : nullptr;
      if (!pv)
        return Status::unresolvable(
            "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)");
      if (auto terms = affinityOf(*pv); !terms.empty()) data->bound.push_back(std::move(terms));
      continue;
    }
    std::string provisioner, error;
    auto mode = bindingMode(listers_, *claim, provisioner, error);
    if (mode.empty()) return Status::unresolvable(error);
    if (mode != "WaitForFirstConsumer") {
      unboundImmediate = true;
      continue;
    }
    if (provisioner != kNoProvisioner) continue;  // provisioned where the pod goes
    std::vector<Affinity> candidates;
    if (listers_.volumes)
      for (auto& pv : listers_.volumes())
        if (pv && volumeFits(*pv, *claim, claimClass(*claim)))
          candidates.push_back(affinityOf(*pv));
    data->staticCandidates.push_back(std::move(candidates));
  }
  if (unboundImmediate)
    return Status::unresolvable("pod has unbound immediate PersistentVolumeClaims");
  state.write(kStateKey, std::move(data));
  return Status::success();
}

Status VolumeBinding::filter(const CycleState& state, const PodInfo&, const NodeInfo& node) const {
  const auto* data = state.read<VolumeBindingState>(kStateKey);
  if (!data) return Status::success();
  for (const auto& terms : data->bound)
    if (!affinityMatches(terms, node)) return Status::unresolvable(kNodeConflict);
  for (const auto& candidates : data->staticCandidates)
    if (std::none_of(candidates.begin(), candidates.end(),
                     [&](const Affinity& a) { return affinityMatches(a, node); }))
      return Status::unresolvable(kBindConflict);
  return Status::success();
}

std::string VolumeBinder::bindPodVolumes(const PodInfo& pod, const std::string& node,
                                         const std::function<bool()>& cancelled) const {
  const std::string prefix = "binding volumes: ";
  // Claims we asked a provisioner for: if the annotation disappears, it gave up on this node.
  std::vector<std::string> provisioned;
  for (const auto& name : pod.claims) {
    auto claim = listers_.claim ? listers_.claim(pod.ns, name) : nullptr;
    if (!claim) return prefix + "persistentvolumeclaim \"" + name + "\" not found";
    if (!stringAt(*claim, {"spec", "volumeName"}).empty()) continue;
    std::string provisioner, error;
    auto mode = bindingMode(listers_, *claim, provisioner, error);
    if (mode.empty()) return prefix + error;
    if (mode != "WaitForFirstConsumer") continue;  // the PV binder binds it by itself
    // Static PVs (no provisioner) are matched by the PV binder; it gets the node too.
    if (provisioner != kNoProvisioner) provisioned.push_back(name);
    if (stringAt(*claim, {"metadata", "annotations", std::string(kSelectedNodeAnnotation)}) == node)
      continue;
    json::object patch{{"metadata",
                        {{"annotations", {{std::string(kSelectedNodeAnnotation), node}}},
                         {"resourceVersion", client::metaString(*claim, "resourceVersion")}}}};
    try {
      patch_(pod.ns, name, json::serialize(patch));
    } catch (const std::exception& e) {
      return prefix + e.what();
    }
  }
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::set<std::string> annotated;  // claims seen in the cache with our annotation
  // The claims' informer brings the binder's writes; a short poll of the cache is cheaper than
  // a wake-up per claim event, and the wait is bounded.
  for (;;) {
    bool allBound = true;
    for (const auto& name : pod.claims) {
      auto claim = listers_.claim ? listers_.claim(pod.ns, name) : nullptr;
      if (!claim) return prefix + "persistentvolumeclaim \"" + name + "\" not found";
      if (stringAt(*claim, {"spec", "volumeName"}).empty() ||
          stringAt(*claim, {"status", "phase"}) != "Bound") {
        allBound = false;
        bool asked = std::find(provisioned.begin(), provisioned.end(), name) != provisioned.end();
        if (!asked) continue;
        auto selected =
            stringAt(*claim, {"metadata", "annotations", std::string(kSelectedNodeAnnotation)});
        // Seen with our annotation and then without it: the provisioner gave up (upstream
        // checks the same and reschedules the pod).
        if (selected == node)
          annotated.insert(name);
        else if (selected.empty() && annotated.count(name))
          return prefix + "provisioning failed for PVC \"" + name + "\"";
      }
    }
    if (allBound) return "";
    if (cancelled && cancelled()) return prefix + "context canceled";
    if (std::chrono::steady_clock::now() >= deadline) return prefix + "context deadline exceeded";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace skiff::scheduler
