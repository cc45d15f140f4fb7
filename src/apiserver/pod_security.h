// Pod Security admission (upstream's PodSecurity plugin, k8s.io/pod-security-admission): the
// Pod Security Standards as checks over pod JSON, namespace label parsing, and the decisions
// the admission chain takes for pods, pod templates of workloads and namespaces. Pure: the
// caller (Admission) supplies namespace labels and existing pods.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::apiserver::podsecurity {

enum class Level { Privileged = 0, Baseline = 1, Restricted = 2 };

// A policy version: v1.<minor>, or latest (newer than any numbered one).
struct Version {
  bool latest = true;
  int minor = 0;
  bool operator==(const Version&) const = default;
  // At least v1.<m>: latest is.
  bool atLeast(int m) const { return latest || minor >= m; }
};

struct LevelVersion {
  Level level = Level::Privileged;
  Version version;
  bool operator==(const LevelVersion&) const = default;
  std::string str() const;  // "baseline:latest", "restricted:v1.24"
};

struct Policy {
  LevelVersion enforce, audit, warn;
  bool fullyPrivileged() const {
    return enforce.level == Level::Privileged && audit.level == Level::Privileged &&
           warn.level == Level::Privileged;
  }
};

inline constexpr const char* kEnforceLabel = "pod-security.kubernetes.io/enforce";
inline constexpr const char* kEnforceVersionLabel = "pod-security.kubernetes.io/enforce-version";
inline constexpr const char* kAuditLabel = "pod-security.kubernetes.io/audit";
inline constexpr const char* kAuditVersionLabel = "pod-security.kubernetes.io/audit-version";
inline constexpr const char* kWarnLabel = "pod-security.kubernetes.io/warn";
inline constexpr const char* kWarnVersionLabel = "pod-security.kubernetes.io/warn-version";

std::optional<Level> parseLevel(std::string_view s);
std::optional<Version> parseVersion(std::string_view s);
std::string levelName(Level level);

// One label that failed to parse, as upstream's field error on metadata.labels[<label>].
struct LabelError {
  std::string label, value, detail;
  bool operator==(const LabelError&) const = default;
};

// Upstream's PolicyToEvaluate: the namespace's labels over the cluster defaults. A bad enforce
// level fails closed (restricted), bad audit/warn levels fail open (privileged), bad versions
// become latest. When only enforce is set and it is stricter than warn, warn follows it.
Policy policyFromLabels(const boost::json::object* labels, const Policy& defaults,
                        std::vector<LabelError>* errors = nullptr);

// One failed check: upstream's ForbiddenReason and ForbiddenDetail.
struct Violation {
  std::string reason, detail;
};

// Every check of the level (baseline ones first, then restricted, each group by check ID, as
// upstream orders them) run against a pod's metadata and spec; empty: allowed.
std::vector<Violation> evaluate(const LevelVersion& lv, const boost::json::object* podMeta,
                                const boost::json::object* podSpec);
// "reason (detail), reason (detail)": the text after "violates PodSecurity \"l:v\": ".
std::string forbiddenDetail(const std::vector<Violation>& violations);
// "reason, reason": what a namespace update reports per existing pod.
std::string forbiddenReasons(const std::vector<Violation>& violations);

// Upstream's isSignificantPodUpdate: only image changes, added or removed (init) containers and
// ephemeral containers re-check a pod.
bool significantPodUpdate(const boost::json::object& pod, const boost::json::object& old);

// The pod template of a workload kind upstream checks (warn/audit only), by group and plural:
// podtemplates, replicationcontrollers, apps deployments/replicasets/statefulsets/daemonsets,
// batch jobs/cronjobs. Returns false when the resource has none; template null: it has none
// in this object.
bool podTemplateOf(const std::string& group, const std::string& plural,
                   const boost::json::object& obj, const boost::json::object** templ);

// The cluster-wide configuration (server flags, upstream's PodSecurityConfiguration).
struct Options {
  Policy defaults;
  std::set<std::string> exemptNamespaces;
};

// The warnings a namespace update that tightens enforce gives about its existing pods
// (upstream's EvaluatePodsInNamespace, without its time limit).
std::vector<std::string> checkExistingPods(const std::string& ns, const LevelVersion& enforce,
                                           const std::vector<const boost::json::object*>& pods);

// "namespace \"x\" is exempt from Pod Security, and the policy (...) will be ignored", or
// empty when the labels set nothing beyond privileged or the defaults.
std::string exemptNamespaceWarning(const std::string& ns, const Policy& policy,
                                   const Policy& defaults, const boost::json::object* labels);

}  // namespace skiff::apiserver::podsecurity
