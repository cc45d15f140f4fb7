// The default profile (upstream's default plugin set for the plugins skiff has).
#include "scheduler/plugins/balanced_allocation.h"
#include "scheduler/plugins/default_preemption.h"
#include "scheduler/plugins/image_locality.h"
#include "scheduler/plugins/inter_pod_affinity.h"
#include "scheduler/plugins/node_affinity.h"
#include "scheduler/plugins/node_name.h"
#include "scheduler/plugins/node_ports.h"
#include "scheduler/plugins/node_resources_fit.h"
#include "scheduler/plugins/node_unschedulable.h"
#include "scheduler/plugins/pod_topology_spread.h"
#include "scheduler/plugins/taint_toleration.h"
#include "scheduler/plugins/volume_binding.h"
#include "scheduler/scheduler_algorithm.h"

namespace skiff::scheduler {

std::shared_ptr<Profile> defaultProfile() { return defaultProfile(VolumeListers{}); }

std::shared_ptr<Profile> defaultProfile(const VolumeListers& volumes) {
  auto p = std::make_shared<Profile>();
  // Filter order is upstream's: cheap, unresolvable checks first.
  p->add(std::make_shared<NodeUnschedulable>());
  p->add(std::make_shared<NodeName>());
  p->add(std::make_shared<TaintToleration>(), TaintToleration::kDefaultWeight);
  p->add(std::make_shared<NodeAffinity>(), NodeAffinity::kDefaultWeight);
  p->add(std::make_shared<NodePorts>());
  p->add(std::make_shared<NodeResourcesFit>(), NodeResourcesFit::kDefaultWeight);
  if (volumes.claim) p->add(std::make_shared<VolumeBinding>(volumes));
  p->add(std::make_shared<PodTopologySpread>(), PodTopologySpread::kDefaultWeight);
  p->add(std::make_shared<InterPodAffinity>(), InterPodAffinity::kDefaultWeight);
  p->add(std::make_shared<BalancedAllocation>(), BalancedAllocation::kDefaultWeight);
  p->add(std::make_shared<ImageLocality>(), ImageLocality::kDefaultWeight);
  // The profile owns the plugin; the plugin re-runs the profile's filters in what-ifs.
  p->add(std::make_shared<DefaultPreemption>(p.get()));
  return p;
}

}  // namespace skiff::scheduler
