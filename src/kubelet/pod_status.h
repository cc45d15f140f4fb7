// The pod status a kubelet reports (upstream's generateAPIPodStatus + getPhase): phase,
// conditions, init/regular containerStatuses with state and lastState, IPs, start time and
// QoS class, computed from the pod, the runtime's view and the worker's notes. Pure: no I/O.
#pragma once
#include <boost/json/object.hpp>
#include <string>

#include "kubelet/runtime_state.h"

namespace skiff::kubelet {

// The full status object to write to pods/status. Conditions the kubelet does not own
// (PodScheduled, DisruptionTarget, readiness gates' own) are carried over from the pod.
boost::json::object computePodStatus(const boost::json::object& pod, const PodSyncView& view,
                                     const std::string& now);

// "Guaranteed", "Burstable" or "BestEffort" from the containers' requests and limits.
std::string qosClassOf(const boost::json::object& pod);

// RFC 3339 (seconds) of a unix-nanoseconds runtime timestamp.
std::string timeFromNanos(int64_t nanos);

}  // namespace skiff::kubelet
