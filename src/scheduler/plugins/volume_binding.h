// VolumeBinding (upstream pkg/scheduler/framework/plugins/volumebinding, reduced to what skiff
// serves). PreFilter reads the pod's claims once:
//   - a missing claim, or one being deleted            -> UnschedulableAndUnresolvable;
//   - an unbound claim whose class binds Immediately    -> "pod has unbound immediate
//     PersistentVolumeClaims" (the PV binder has to bind it first);
//   - a bound claim: its PV's spec.nodeAffinity filters nodes ("node(s) had volume node
//     affinity conflict");
//   - an unbound WaitForFirstConsumer claim: a provisioned class (skiff.io/local-path, ...)
//     accepts any node, the provisioner makes the volume where the pod goes; a class without
//     provisioner (kubernetes.io/no-provisioner) needs an Available PV of the class that fits
//     the claim and whose nodeAffinity matches ("node(s) didn't find available persistent
//     volumes to bind").
// The binding cycle's half (selected-node annotation, wait for Bound) is VolumeBinder below,
// run on the scheduler's binder threads.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "client/indexer.h"
#include "scheduler/framework.h"

namespace skiff::scheduler {

// What the plugin reads of the cluster: the scheduler's informers (tests pass maps).
struct VolumeListers {
  std::function<client::ObjectPtr(const std::string& ns, const std::string& name)> claim;
  std::function<client::ObjectPtr(const std::string& name)> volume;
  std::function<client::ObjectPtr(const std::string& name)> storageClass;
  std::function<std::vector<client::ObjectPtr>()> volumes;  // every PV
};

inline constexpr std::string_view kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";

class VolumeBinding : public PreFilterPlugin, public FilterPlugin {
 public:
  static constexpr std::string_view kName = "VolumeBinding";
  explicit VolumeBinding(VolumeListers listers) : listers_(std::move(listers)) {}
  std::string_view name() const override { return kName; }
  Status preFilter(CycleState& state, const PodInfo& pod, const Snapshot& snapshot) const override;
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;

 private:
  VolumeListers listers_;
};

// The PreBind half: for every unbound WaitForFirstConsumer claim of the pod, annotate it with
// the chosen node, then wait until all its claims are Bound. Blocking; run on a binder thread.
class VolumeBinder {
 public:
  // patchClaim(ns, name, mergePatch) writes to the API server (throws on failure).
  using ClaimPatcher =
      std::function<void(const std::string& ns, const std::string& name, const std::string&)>;
  VolumeBinder(VolumeListers listers, ClaimPatcher patch, std::chrono::milliseconds timeout)
      : listers_(std::move(listers)), patch_(std::move(patch)), timeout_(timeout) {}
  // "" when every claim is bound; otherwise upstream's error text ("binding volumes: ...").
  // `cancelled` is polled while waiting (scheduler stopping, pod deleted).
  std::string bindPodVolumes(const PodInfo& pod, const std::string& node,
                             const std::function<bool()>& cancelled) const;
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  VolumeListers listers_;
  ClaimPatcher patch_;
  std::chrono::milliseconds timeout_;
};

}  // namespace skiff::scheduler
