// Node eligibility and pod shaping for DaemonSets (upstream's daemon/util and
// NodeShouldRunDaemonPod), kept apart from the controller so tests can check them directly.
#pragma once
#include <boost/json/object.hpp>
#include <string>

namespace skiff::controller {

// Adds upstream's automatic DaemonSet tolerations to a pod spec (not-ready/unreachable
// NoExecute without tolerationSeconds, disk/memory/pid-pressure and unschedulable
// NoSchedule, network-unavailable NoSchedule for hostNetwork pods). Existing tolerations for
// the same key and effect are replaced, as upstream does.
void addDaemonTolerations(boost::json::object& podSpec);

// Pins a pod spec to `nodeName` the way the default scheduler understands: the required
// node affinity becomes one term matching metadata.name.
void pinToNode(boost::json::object& podSpec, const std::string& nodeName);

// The node a daemon pod is for: spec.nodeName, else the metadata.name matchFields value.
std::string daemonPodTargetNode(const boost::json::object& pod);

struct NodeFit {
  bool shouldRun = false;              // a daemon pod should be created on the node
  bool shouldContinueRunning = false;  // an existing daemon pod may stay
};
// nodeName, nodeSelector, required node affinity and NoSchedule/NoExecute taints of `node`
// against the DaemonSet's template (with the automatic tolerations). A pod that only
// fails on NoSchedule taints may keep running.
NodeFit nodeShouldRunDaemonPod(const boost::json::object& node, const boost::json::object& ds);

// Node affinity matching shared with the tests: one NodeSelectorTerm against a node.
bool nodeSelectorTermMatches(const boost::json::object& term, const boost::json::object& node);

}  // namespace skiff::controller
