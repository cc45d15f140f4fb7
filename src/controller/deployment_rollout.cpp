// The Deployment controller's rollout logic, following upstream's sync.go, rolling.go,
// recreate.go and progress.go: which ReplicaSet is new, how far each one may be scaled at
// each step, proportional scaling, revision bookkeeping, history cleanup and status.
#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "controller/deployment_controller.h"

namespace skiff::controller {

namespace json = boost::json;

namespace {

constexpr size_t kMaxRevisionHistoryChars = 2000;

// Condition reasons (upstream deployment util).
const std::string kProgressing = "Progressing";
const std::string kAvailable = "Available";
const std::string kReplicaFailure = "ReplicaFailure";
const std::string kNewRSCreated = "NewReplicaSetCreated";
const std::string kFoundNewRS = "FoundNewReplicaSet";
const std::string kRSUpdated = "ReplicaSetUpdated";
const std::string kNewRSAvailable = "NewReplicaSetAvailable";
const std::string kTimedOut = "ProgressDeadlineExceeded";
const std::string kPaused = "DeploymentPaused";
const std::string kResumed = "DeploymentResumed";
const std::string kFailedRSCreate = "ReplicaSetCreateError";

int64_t statusInt(const json::object& obj, const char* field) {
  return intAt(obj, {"status", field});
}

bool hasProgressDeadline(const json::object& d) {
  auto* v = valueAt(d, {"spec", "progressDeadlineSeconds"});
  return v && (v->is_int64() || v->is_uint64()) &&
         intAt(d, {"spec", "progressDeadlineSeconds"}) != INT32_MAX;
}

json::object& statusOf(json::object& d) {
  auto& s = d["status"];
  if (!s.is_object()) s = json::object{};
  return s.get_object();
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Older first, then by name (upstream ReplicaSetsByCreationTimestamp).
bool createdBefore(const json::object& a, const json::object& b) {
  auto ta = stringAt(a, {"metadata", "creationTimestamp"});
  auto tb = stringAt(b, {"metadata", "creationTimestamp"});
  if (ta != tb) return ta < tb;
  return nameOf(a) < nameOf(b);
}

bool isSkippedAnnotation(const std::string& k) {
  return k == kLastAppliedAnnotation || k == kRevisionAnnotation ||
         k == kRevisionHistoryAnnotation || k == kDesiredReplicasAnnotation ||
         k == kMaxReplicasAnnotation || k == kRollbackToAnnotation;
}

std::optional<int64_t> parseNonNegative(const std::string& s) {
  if (s.empty() || s.size() > 18 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(s);
}

std::optional<std::chrono::system_clock::time_point> conditionTime(const json::object& c,
                                                                   const char* field) {
  std::chrono::system_clock::time_point t;
  auto s = stringAt(c, {field});
  if (s.empty() || !parseTime(s, t)) return std::nullopt;
  return t;
}

}  // namespace

// ---------------------------------------------------------------- arithmetic

namespace deployment {

int64_t specReplicas(const json::object& obj) {
  return std::max<int64_t>(0, intAt(obj, {"spec", "replicas"}, 1));
}

int64_t maxSurge(const json::object& d) {
  if (stringAt(d, {"spec", "strategy", "type"}, "RollingUpdate") != "RollingUpdate") return 0;
  return resolveFenceposts(d).surge;
}

int64_t maxUnavailable(const json::object& d) {
  if (stringAt(d, {"spec", "strategy", "type"}, "RollingUpdate") != "RollingUpdate") return 0;
  int64_t replicas = specReplicas(d);
  if (replicas == 0) return 0;
  return std::min(resolveFenceposts(d).unavailable, replicas);
}

int64_t newRSNewReplicas(const json::object& d, const std::vector<const json::object*>& all,
                         const json::object& newRs) {
  int64_t replicas = specReplicas(d);
  if (stringAt(d, {"spec", "strategy", "type"}) == "Recreate") return replicas;
  int64_t current = 0;
  for (auto* rs : all) current += specReplicas(*rs);
  int64_t maxTotal = replicas + maxSurge(d);
  int64_t newReplicas = specReplicas(newRs);
  if (current >= maxTotal) return newReplicas;
  int64_t up = std::min(maxTotal - current, replicas - newReplicas);
  return newReplicas + std::max<int64_t>(0, up);
}

namespace {
// The size `rs` should have relative to the deployment's new total, minus its size now.
int64_t replicaSetFraction(const json::object& rs, const json::object& d) {
  int64_t replicas = specReplicas(d);
  if (replicas == 0) return -specReplicas(rs);
  int64_t deploymentReplicas = replicas + maxSurge(d);
  auto annotated = parseNonNegative(annotationOf(rs, kMaxReplicasAnnotation));
  // Without the annotation the last observed size stands in, as upstream.
  int64_t base = annotated ? *annotated : statusInt(d, "replicas");
  if (base == 0) return 0;
  double size =
      static_cast<double>(specReplicas(rs) * deploymentReplicas) / static_cast<double>(base);
  return static_cast<int64_t>(std::llround(size)) - specReplicas(rs);
}
}  // namespace

int64_t proportion(const json::object& rs, const json::object& d, int64_t toAdd, int64_t added) {
  if (specReplicas(rs) == 0 || toAdd == 0 || toAdd == added) return 0;
  int64_t fraction = replicaSetFraction(rs, d);
  int64_t allowed = toAdd - added;
  return toAdd > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

bool setReplicasAnnotations(json::object& rs, int64_t desired, int64_t max) {
  auto& ann = ensureObject(rs, {"metadata", "annotations"});
  bool changed = false;
  auto set = [&](const std::string& k, int64_t v) {
    auto s = std::to_string(v);
    auto* cur = ann.if_contains(k);
    if (cur && cur->is_string() && cur->get_string() == s) return;
    ann[k] = s;
    changed = true;
  };
  set(kDesiredReplicasAnnotation, desired);
  set(kMaxReplicasAnnotation, max);
  return changed;
}

bool setNewReplicaSetAnnotations(const json::object& d, json::object& rs,
                                 const std::string& newRevision, bool exists) {
  bool changed = false;
  auto& ann = ensureObject(rs, {"metadata", "annotations"});
  if (auto* dAnn = objectAt(d, {"metadata", "annotations"}))
    for (const auto& kv : *dAnn) {
      std::string k(kv.key());
      if (isSkippedAnnotation(k) || !kv.value().is_string()) continue;
      auto* cur = ann.if_contains(k);
      if (cur && *cur == kv.value()) continue;
      ann[k] = kv.value();
      changed = true;
    }
  std::string oldRevision = annotationOf(rs, kRevisionAnnotation);
  auto oldRev = oldRevision.empty() ? std::optional<int64_t>(0) : parseNonNegative(oldRevision);
  auto newRev = parseNonNegative(newRevision);
  if (oldRev && newRev && *oldRev < *newRev) {
    ann[kRevisionAnnotation] = newRevision;
    changed = true;
    // Reusing an old ReplicaSet (a rollback): remember the revisions it had before.
    if (!oldRevision.empty()) {
      std::string history = annotationOf(rs, kRevisionHistoryAnnotation);
      if (history.empty()) {
        ann[kRevisionHistoryAnnotation] = oldRevision;
      } else {
        std::vector<std::string> parts;
        size_t start = 0;
        while (true) {
          auto comma = history.find(',', start);
          parts.push_back(history.substr(
              start, comma == std::string::npos ? std::string::npos : comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        size_t total = history.size() + oldRevision.size() + 1;
        size_t drop = 0;
        while (total > kMaxRevisionHistoryChars && drop < parts.size())
          total -= parts[drop++].size() + 1;
        if (total <= kMaxRevisionHistoryChars) {
          std::string joined;
          for (size_t i = drop; i < parts.size(); ++i) joined += parts[i] + ",";
          ann[kRevisionHistoryAnnotation] = joined + oldRevision;
        }
      }
    }
  }
  if (!exists && setReplicasAnnotations(rs, specReplicas(d), specReplicas(d) + maxSurge(d)))
    changed = true;
  return changed;
}

bool deploymentComplete(const json::object& d, const json::object& status) {
  int64_t replicas = specReplicas(d);
  return intAt(status, {"updatedReplicas"}) == replicas &&
         intAt(status, {"replicas"}) == replicas &&
         intAt(status, {"availableReplicas"}) == replicas &&
         intAt(status, {"observedGeneration"}) >= intAt(d, {"metadata", "generation"});
}

}  // namespace deployment

using namespace deployment;

std::vector<int> DeploymentState::oldIdx() const {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(rss.size()); ++i)
    if (i != newIdx) out.push_back(i);
  return out;
}

// ---------------------------------------------------------------- writes

void DeploymentController::writeStatus(DeploymentState& st) {
  st.d = client_.updateStatus(client::resources::deployments, namespaceOf(st.d), st.d);
  if (!st.d.contains("status") || !st.d["status"].is_object()) st.d["status"] = json::object{};
}

void DeploymentController::setDeploymentRevision(DeploymentState& st, const std::string& revision) {
  if (revision.empty() || annotationOf(st.d, kRevisionAnnotation) == revision) return;
  // Pinned to the version this sync read, so a concurrent spec change makes us start over.
  json::object meta{{"annotations", json::object{{kRevisionAnnotation, revision}}},
                    {"resourceVersion", stringAt(st.d, {"metadata", "resourceVersion"})}};
  json::object status = statusOf(st.d);
  st.d = client_.patch(client::resources::deployments, namespaceOf(st.d), nameOf(st.d),
                       client::PatchType::Merge, json::object{{"metadata", std::move(meta)}});
  // Keep the status this sync is building; the next status write carries it.
  st.d["status"] = std::move(status);
}

bool DeploymentController::scaleReplicaSet(DeploymentState& st, int idx, int64_t newScale,
                                           const std::string& op) {
  json::object& rs = st.rss[idx];
  int64_t oldScale = specReplicas(rs);
  bool sizeChanged = oldScale != newScale;
  json::object probe = rs;
  bool annotationsChanged =
      setReplicasAnnotations(probe, specReplicas(st.d), specReplicas(st.d) + maxSurge(st.d));
  if (!sizeChanged && !annotationsChanged) return false;
  json::object patch{
      {"metadata",
       json::object{{"annotations",
                     json::object{{kDesiredReplicasAnnotation, std::to_string(specReplicas(st.d))},
                                  {kMaxReplicasAnnotation,
                                   std::to_string(specReplicas(st.d) + maxSurge(st.d))}}}}},
      {"spec", json::object{{"replicas", newScale}}}};
  rs = client_.patch(client::resources::replicaSets, namespaceOf(rs), nameOf(rs),
                     client::PatchType::Merge, patch);
  rememberWrite(rs);
  if (sizeChanged)
    recorder_.event(st.d, client::kEventTypeNormal, "ScalingReplicaSet",
                    "Scaled " + op + " replica set " + nameOf(rs) + " from " +
                        std::to_string(oldScale) + " to " + std::to_string(newScale));
  return sizeChanged;
}

bool DeploymentController::scaleReplicaSetAndRecordEvent(DeploymentState& st, int idx,
                                                         int64_t newScale) {
  int64_t cur = specReplicas(st.rss[idx]);
  if (cur == newScale) return false;
  return scaleReplicaSet(st, idx, newScale, cur < newScale ? "up" : "down");
}

// ---------------------------------------------------------------- new / old ReplicaSets

void DeploymentController::getAllReplicaSetsAndSyncRevision(DeploymentState& st,
                                                            bool createIfMissing) {
  st.newIdx = -1;
  // The oldest ReplicaSet whose template matches is the new one (upstream FindNewReplicaSet).
  auto* tmpl = valueAt(st.d, {"spec", "template"});
  for (int i = 0; i < static_cast<int>(st.rss.size()); ++i) {
    if (!templatesEqualIgnoreHash(valueAt(st.rss[i], {"spec", "template"}), tmpl)) continue;
    if (st.newIdx < 0 || createdBefore(st.rss[i], st.rss[st.newIdx])) st.newIdx = i;
  }
  getNewReplicaSet(st, createIfMissing);
}

void DeploymentController::getNewReplicaSet(DeploymentState& st, bool createIfMissing) {
  int64_t maxOld = 0;
  for (int i : st.oldIdx()) maxOld = std::max(maxOld, revisionOf(st.rss[i]));
  const std::string newRevision = std::to_string(maxOld + 1);
  const std::string ns = namespaceOf(st.d);
  const bool progressDeadline = hasProgressDeadline(st.d);

  if (st.newIdx >= 0) {
    json::object& rs = st.rss[st.newIdx];
    json::object copy = rs;
    bool annotationsChanged = setNewReplicaSetAnnotations(st.d, copy, newRevision, true);
    int64_t minReady = intAt(st.d, {"spec", "minReadySeconds"});
    bool minReadyChanged = intAt(rs, {"spec", "minReadySeconds"}) != minReady;
    if (annotationsChanged || minReadyChanged) {
      json::object patch{
          {"metadata", json::object{{"annotations", *objectAt(copy, {"metadata", "annotations"})}}},
          {"spec", json::object{{"minReadySeconds", minReady}}}};
      rs = client_.patch(client::resources::replicaSets, ns, nameOf(rs), client::PatchType::Merge,
                         patch);
      rememberWrite(rs);
    }
    setDeploymentRevision(st, annotationOf(rs, kRevisionAnnotation));
    if (progressDeadline && !deploymentCondition(statusOf(st.d), kProgressing)) {
      setDeploymentCondition(statusOf(st.d),
                             newDeploymentCondition(kProgressing, "True", kFoundNewRS,
                                                    "Found new replica set " + quoted(nameOf(rs))));
      writeStatus(st);
    }
    return;
  }
  if (!createIfMissing) return;

  // A new ReplicaSet: the template hash (with the collision count) names it and joins its
  // selector, so its pods never overlap another revision's.
  json::value tmplValue =
      valueAt(st.d, {"spec", "template"}) ? *valueAt(st.d, {"spec", "template"}) : json::object{};
  if (!tmplValue.is_object()) tmplValue = json::object{};
  int64_t collisionCount = intAt(st.d, {"status", "collisionCount"});
  std::string hash = computeHash(tmplValue, collisionCount);
  json::object tmpl = tmplValue.get_object();
  ensureObject(tmpl, {"metadata", "labels"})[kPodTemplateHashLabel] = hash;
  json::object selector =
      objectAt(st.d, {"spec", "selector"}) ? *objectAt(st.d, {"spec", "selector"}) : json::object{};
  ensureObject(selector, {"matchLabels"})[kPodTemplateHashLabel] = hash;
  const std::string name = nameOf(st.d) + "-" + hash;
  json::object rs{
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata", json::object{{"name", name},
                                {"namespace", ns},
                                {"labels", *objectAt(tmpl, {"metadata", "labels"})},
                                {"ownerReferences",
                                 json::array{makeControllerRef(st.d, "apps/v1", "Deployment")}}}},
      {"spec", json::object{{"replicas", 0},
                            {"minReadySeconds", intAt(st.d, {"spec", "minReadySeconds"})},
                            {"selector", selector},
                            {"template", tmpl}}}};
  std::vector<const json::object*> all;
  for (auto& r : st.rss) all.push_back(&r);
  all.push_back(&rs);
  int64_t newReplicas = newRSNewReplicas(st.d, all, rs);
  rs["spec"].get_object()["replicas"] = newReplicas;
  setNewReplicaSetAnnotations(st.d, rs, newRevision, false);

  bool alreadyExists = false;
  json::object created;
  try {
    created = client_.create(client::resources::replicaSets, ns, rs);
  } catch (const ApiError& e) {
    if (e.code() == 409) {
      auto existing = sets_.get(makeKey(ns, name));
      if (!existing) throw;  // our own earlier create, not in the cache yet: retry later
      if (isControlledBy(*existing, uidOf(st.d)) &&
          templatesEqualIgnoreHash(valueAt(*existing, {"spec", "template"}),
                                   valueAt(st.d, {"spec", "template"}))) {
        created = *existing;
        alreadyExists = true;
      } else {
        // A hash collision with somebody else's ReplicaSet: bump collisionCount so the next
        // attempt hashes differently.
        statusOf(st.d)["collisionCount"] = collisionCount + 1;
        writeStatus(st);
        throw ApiError(409, "AlreadyExists",
                       "replica set " + quoted(name) + " exists with another template");
      }
    } else {
      std::string msg = "Failed to create new replica set " + quoted(name) + ": " + e.what();
      if (progressDeadline) {
        setDeploymentCondition(statusOf(st.d),
                               newDeploymentCondition(kProgressing, "False", kFailedRSCreate, msg));
        writeStatus(st);
      }
      recorder_.event(st.d, client::kEventTypeWarning, kFailedRSCreate, msg);
      throw;
    }
  }
  if (!alreadyExists && newReplicas > 0)
    recorder_.event(st.d, client::kEventTypeNormal, "ScalingReplicaSet",
                    "Scaled up replica set " + name + " from 0 to " + std::to_string(newReplicas));
  setDeploymentRevision(st, newRevision);
  if (!alreadyExists) rememberWrite(created);
  st.rss.push_back(std::move(created));
  st.newIdx = static_cast<int>(st.rss.size()) - 1;
  if (!alreadyExists && progressDeadline) {
    setDeploymentCondition(statusOf(st.d),
                           newDeploymentCondition(kProgressing, "True", kNewRSCreated,
                                                  "Created new replica set " + quoted(name)));
    writeStatus(st);
  }
}

// ---------------------------------------------------------------- paused / scaling

void DeploymentController::checkPausedConditions(DeploymentState& st) {
  if (!hasProgressDeadline(st.d)) return;
  auto* cond = deploymentCondition(statusOf(st.d), kProgressing);
  if (cond && stringAt(*cond, {"reason"}) == kTimedOut) return;
  bool pausedCond = cond && stringAt(*cond, {"reason"}) == kPaused;
  bool paused = boolAt(st.d, {"spec", "paused"});
  if (paused && !pausedCond) {
    setDeploymentCondition(statusOf(st.d), newDeploymentCondition(kProgressing, "Unknown", kPaused,
                                                                  "Deployment is paused"));
  } else if (!paused && pausedCond) {
    setDeploymentCondition(statusOf(st.d), newDeploymentCondition(kProgressing, "Unknown", kResumed,
                                                                  "Deployment is resumed"));
  } else {
    return;
  }
  writeStatus(st);
}

bool DeploymentController::isScalingEvent(DeploymentState& st) {
  getAllReplicaSetsAndSyncRevision(st, false);
  for (auto& rs : st.rss) {
    if (specReplicas(rs) <= 0) continue;
    auto desired = parseNonNegative(annotationOf(rs, kDesiredReplicasAnnotation));
    if (desired && *desired != specReplicas(st.d)) return true;
  }
  return false;
}

void DeploymentController::syncScale(DeploymentState& st) {
  getAllReplicaSetsAndSyncRevision(st, false);
  scale(st);
  if (boolAt(st.d, {"spec", "paused"})) cleanupDeployment(st);
  syncDeploymentStatus(st);
}

void DeploymentController::syncStatusOnly(DeploymentState& st) {
  getAllReplicaSetsAndSyncRevision(st, false);
  syncDeploymentStatus(st);
}

void DeploymentController::scale(DeploymentState& st) {
  const int64_t replicas = specReplicas(st.d);
  std::vector<int> active;
  for (int i = 0; i < static_cast<int>(st.rss.size()); ++i)
    if (specReplicas(st.rss[i]) > 0) active.push_back(i);

  // Only one ReplicaSet is active (or none: the newest): it simply takes the new size.
  int activeOrLatest = -1;
  if (active.size() == 1) {
    activeOrLatest = active[0];
  } else if (active.empty()) {
    if (st.newIdx >= 0) {
      activeOrLatest = st.newIdx;
    } else {
      for (int i : st.oldIdx())
        if (activeOrLatest < 0 || createdBefore(st.rss[activeOrLatest], st.rss[i]))
          activeOrLatest = i;
    }
  }
  if (activeOrLatest >= 0 || active.empty()) {
    if (activeOrLatest >= 0) scaleReplicaSetAndRecordEvent(st, activeOrLatest, replicas);
    return;
  }

  // The new ReplicaSet is saturated: the old ones go away.
  if (st.newIdx >= 0) {
    const auto& n = st.rss[st.newIdx];
    auto desired = parseNonNegative(annotationOf(n, kDesiredReplicasAnnotation));
    if (specReplicas(n) == replicas && desired && *desired == replicas &&
        statusInt(n, "availableReplicas") == replicas) {
      for (int i : active)
        if (i != st.newIdx) scaleReplicaSetAndRecordEvent(st, i, 0);
      return;
    }
  }

  if (stringAt(st.d, {"spec", "strategy", "type"}, "RollingUpdate") != "RollingUpdate") return;
  // Proportional scaling: spread the difference over the active ReplicaSets by size.
  int64_t total = 0;
  for (int i : active) total += specReplicas(st.rss[i]);
  int64_t allowed = replicas > 0 ? replicas + maxSurge(st.d) : 0;
  int64_t toAdd = allowed - total;
  std::string op;
  if (toAdd > 0) {
    op = "up";
    std::sort(active.begin(), active.end(), [&](int a, int b) {
      if (specReplicas(st.rss[a]) != specReplicas(st.rss[b]))
        return specReplicas(st.rss[a]) > specReplicas(st.rss[b]);
      return createdBefore(st.rss[b], st.rss[a]);  // newer first
    });
  } else if (toAdd < 0) {
    op = "down";
    std::sort(active.begin(), active.end(), [&](int a, int b) {
      if (specReplicas(st.rss[a]) != specReplicas(st.rss[b]))
        return specReplicas(st.rss[a]) > specReplicas(st.rss[b]);
      return createdBefore(st.rss[a], st.rss[b]);  // older first
    });
  }
  int64_t added = 0;
  std::vector<int64_t> sizes;
  for (int i : active) {
    int64_t size = specReplicas(st.rss[i]);
    if (toAdd != 0) {
      int64_t p = proportion(st.rss[i], st.d, toAdd, added);
      size += p;
      added += p;
    }
    sizes.push_back(size);
  }
  for (size_t k = 0; k < active.size(); ++k) {
    // What rounding left over goes to the largest ReplicaSet.
    if (k == 0 && toAdd != 0) sizes[0] = std::max<int64_t>(0, sizes[0] + toAdd - added);
    scaleReplicaSet(st, active[k], sizes[k], op.empty() ? "up" : op);
  }
}

// ---------------------------------------------------------------- strategies

void DeploymentController::rolloutRolling(DeploymentState& st) {
  getAllReplicaSetsAndSyncRevision(st, true);
  if (reconcileNewReplicaSet(st) || reconcileOldReplicaSets(st)) {
    syncRolloutStatus(st);
    return;
  }
  if (deploymentComplete(st.d, statusOf(st.d))) cleanupDeployment(st);
  syncRolloutStatus(st);
}

bool DeploymentController::reconcileNewReplicaSet(DeploymentState& st) {
  if (st.newIdx < 0) return false;
  int64_t replicas = specReplicas(st.d);
  int64_t cur = specReplicas(st.rss[st.newIdx]);
  if (cur == replicas) return false;
  if (cur > replicas) return scaleReplicaSetAndRecordEvent(st, st.newIdx, replicas);
  std::vector<const json::object*> all;
  for (auto& r : st.rss) all.push_back(&r);
  return scaleReplicaSetAndRecordEvent(st, st.newIdx,
                                       newRSNewReplicas(st.d, all, st.rss[st.newIdx]));
}

bool DeploymentController::reconcileOldReplicaSets(DeploymentState& st) {
  std::vector<int> olds;
  int64_t oldPods = 0, allPods = 0;
  for (int i : st.oldIdx())
    if (specReplicas(st.rss[i]) > 0) {
      olds.push_back(i);
      oldPods += specReplicas(st.rss[i]);
    }
  if (oldPods == 0) return false;
  for (auto& r : st.rss) allPods += specReplicas(r);
  const int64_t minAvailable = specReplicas(st.d) - maxUnavailable(st.d);
  int64_t newUnavailable = 0;
  if (st.newIdx >= 0)
    newUnavailable =
        specReplicas(st.rss[st.newIdx]) - statusInt(st.rss[st.newIdx], "availableReplicas");
  int64_t maxScaledDown = allPods - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return false;

  std::sort(olds.begin(), olds.end(),
            [&](int a, int b) { return createdBefore(st.rss[a], st.rss[b]); });
  // First the old pods that are not available anyway (upstream cleanupUnhealthyReplicas).
  int64_t cleaned = 0;
  for (int i : olds) {
    if (cleaned >= maxScaledDown) break;
    int64_t spec = specReplicas(st.rss[i]);
    int64_t avail = std::min(spec, statusInt(st.rss[i], "availableReplicas"));
    if (spec == 0 || spec == avail) continue;
    int64_t down = std::min(maxScaledDown - cleaned, spec - avail);
    if (down <= 0) continue;
    scaleReplicaSetAndRecordEvent(st, i, spec - down);
    cleaned += down;
  }

  // Then available old pods, as far as the minimum availability allows.
  // A ReplicaSet whose spec was just lowered may still report the pods it is about to
  // delete as available (its status lags its spec): count at most spec.replicas of them,
  // or the next pass would scale down again on availability that is already going away.
  int64_t available = 0;
  for (auto& r : st.rss) available += std::min(specReplicas(r), statusInt(r, "availableReplicas"));
  int64_t scaledDown = 0;
  if (available > minAvailable) {
    int64_t totalDown = available - minAvailable;
    for (int i : olds) {
      if (scaledDown >= totalDown) break;
      int64_t spec = specReplicas(st.rss[i]);
      if (spec == 0) continue;
      int64_t down = std::min(spec, totalDown - scaledDown);
      scaleReplicaSetAndRecordEvent(st, i, spec - down);
      scaledDown += down;
    }
  }
  return cleaned + scaledDown > 0;
}

bool DeploymentController::oldPodsRunning(const DeploymentState& st) {
  for (int i : st.oldIdx()) {
    if (statusInt(st.rss[i], "replicas") > 0) return true;
    const std::string uid = uidOf(st.rss[i]);
    for (auto& p : pods_.byIndex(client::kIndexOwnerUid, uid)) {
      if (!isControlledBy(*p, uid)) continue;
      if (!isPodTerminal(*p)) return true;
    }
  }
  return false;
}

void DeploymentController::rolloutRecreate(DeploymentState& st) {
  getAllReplicaSetsAndSyncRevision(st, false);
  bool scaledDown = false;
  for (int i : st.oldIdx())
    if (specReplicas(st.rss[i]) > 0 && scaleReplicaSetAndRecordEvent(st, i, 0)) scaledDown = true;
  if (scaledDown || oldPodsRunning(st)) {
    syncRolloutStatus(st);
    return;
  }
  if (st.newIdx < 0) getAllReplicaSetsAndSyncRevision(st, true);
  if (st.newIdx >= 0) scaleReplicaSetAndRecordEvent(st, st.newIdx, specReplicas(st.d));
  if (deploymentComplete(st.d, statusOf(st.d))) cleanupDeployment(st);
  syncRolloutStatus(st);
}

void DeploymentController::cleanupDeployment(DeploymentState& st) {
  auto* limitValue = valueAt(st.d, {"spec", "revisionHistoryLimit"});
  if (!limitValue || !(limitValue->is_int64() || limitValue->is_uint64())) return;
  int64_t limit = intAt(st.d, {"spec", "revisionHistoryLimit"});
  if (limit == INT32_MAX) return;
  std::vector<int> cleanable;
  for (int i : st.oldIdx())
    if (!isBeingDeleted(st.rss[i])) cleanable.push_back(i);
  int64_t diff = static_cast<int64_t>(cleanable.size()) - limit;
  if (diff <= 0) return;
  std::sort(cleanable.begin(), cleanable.end(), [&](int a, int b) {
    int64_t ra = revisionOf(st.rss[a]), rb = revisionOf(st.rss[b]);
    if (ra != rb) return ra < rb;
    return createdBefore(st.rss[a], st.rss[b]);
  });
  for (int64_t k = 0; k < diff; ++k) {
    const auto& rs = st.rss[cleanable[k]];
    // Only ReplicaSets that are fully scaled down and whose status caught up.
    if (statusInt(rs, "replicas") != 0 || specReplicas(rs) != 0 ||
        intAt(rs, {"metadata", "generation"}) > statusInt(rs, "observedGeneration"))
      continue;
    try {
      client_.remove(client::resources::replicaSets, namespaceOf(rs), nameOf(rs));
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }
}

// ---------------------------------------------------------------- status

json::object DeploymentController::calculateStatus(const DeploymentState& st) {
  int64_t available = 0, total = 0, actual = 0, ready = 0, updated = 0;
  for (auto& rs : st.rss) {
    available += statusInt(rs, "availableReplicas");
    total += specReplicas(rs);
    actual += statusInt(rs, "replicas");
    ready += statusInt(rs, "readyReplicas");
  }
  if (st.newIdx >= 0) updated = statusInt(st.rss[st.newIdx], "replicas");
  const json::object& old = *objectAt(st.d, {"status"});
  json::object status;
  auto put = [&](const char* k, int64_t v) {
    if (v != 0) status[k] = v;
  };
  put("observedGeneration", intAt(st.d, {"metadata", "generation"}));
  put("replicas", actual);
  put("updatedReplicas", updated);
  put("readyReplicas", ready);
  put("availableReplicas", available);
  put("unavailableReplicas", std::max<int64_t>(0, total - available));
  if (auto* c = old.if_contains("conditions")) status["conditions"] = *c;
  if (auto* c = old.if_contains("collisionCount")) status["collisionCount"] = *c;
  if (available >= specReplicas(st.d) - maxUnavailable(st.d))
    setDeploymentCondition(status,
                           newDeploymentCondition(kAvailable, "True", "MinimumReplicasAvailable",
                                                  "Deployment has minimum availability."));
  else
    setDeploymentCondition(
        status, newDeploymentCondition(kAvailable, "False", "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability."));
  return status;
}

void DeploymentController::syncDeploymentStatus(DeploymentState& st) {
  auto status = calculateStatus(st);
  if (status == *objectAt(st.d, {"status"})) return;
  st.d["status"] = std::move(status);
  writeStatus(st);
}

void DeploymentController::syncRolloutStatus(DeploymentState& st) {
  json::object status = calculateStatus(st);
  const json::object& oldStatus = *objectAt(st.d, {"status"});
  const bool deadline = hasProgressDeadline(st.d);
  if (!deadline) removeDeploymentCondition(status, kProgressing);
  auto* current = deploymentCondition(oldStatus, kProgressing);
  bool complete = intAt(status, {"replicas"}) == intAt(status, {"updatedReplicas"}) && current &&
                  stringAt(*current, {"reason"}) == kNewRSAvailable;
  const std::string rsName = st.newIdx >= 0 ? nameOf(st.rss[st.newIdx]) : "";
  if (deadline && !complete) {
    auto progressing = [&] {
      int64_t oldOld = statusInt(st.d, "replicas") - statusInt(st.d, "updatedReplicas");
      int64_t newOld = intAt(status, {"replicas"}) - intAt(status, {"updatedReplicas"});
      return intAt(status, {"updatedReplicas"}) > statusInt(st.d, "updatedReplicas") ||
             newOld < oldOld ||
             intAt(status, {"readyReplicas"}) > statusInt(st.d, "readyReplicas") ||
             intAt(status, {"availableReplicas"}) > statusInt(st.d, "availableReplicas");
    };
    auto timedOut = [&] {
      auto* c = deploymentCondition(status, kProgressing);
      if (!c) return false;
      auto reason = stringAt(*c, {"reason"});
      if (reason == kNewRSAvailable) return false;
      if (reason == kTimedOut) return true;
      auto from = conditionTime(*c, "lastUpdateTime");
      if (!from) return false;
      auto limit = std::chrono::seconds(intAt(st.d, {"spec", "progressDeadlineSeconds"}));
      return *from + limit < syncClock().now();
    };
    if (deploymentComplete(st.d, status)) {
      std::string msg = rsName.empty()
                            ? "Deployment " + quoted(nameOf(st.d)) + " has successfully progressed."
                            : "ReplicaSet " + quoted(rsName) + " has successfully progressed.";
      setDeploymentCondition(status,
                             newDeploymentCondition(kProgressing, "True", kNewRSAvailable, msg));
    } else if (progressing()) {
      std::string msg = rsName.empty() ? "Deployment " + quoted(nameOf(st.d)) + " is progressing."
                                       : "ReplicaSet " + quoted(rsName) + " is progressing.";
      auto cond = newDeploymentCondition(kProgressing, "True", kRSUpdated, msg);
      // Progress refreshes lastUpdateTime (the deadline counts from it); a condition that
      // already was True keeps its transition time.
      if (current && stringAt(*current, {"status"}) == "True")
        if (auto* t = current->if_contains("lastTransitionTime")) cond["lastTransitionTime"] = *t;
      removeDeploymentCondition(status, kProgressing);
      setDeploymentCondition(status, std::move(cond));
    } else if (timedOut()) {
      std::string msg = rsName.empty()
                            ? "Deployment " + quoted(nameOf(st.d)) + " has timed out progressing."
                            : "ReplicaSet " + quoted(rsName) + " has timed out progressing.";
      setDeploymentCondition(status, newDeploymentCondition(kProgressing, "False", kTimedOut, msg));
    }
  }
  // A ReplicaSet failing to create pods (quota, admission) surfaces on the deployment.
  const json::object* failure = nullptr;
  if (st.newIdx >= 0) failure = findCondition(st.rss[st.newIdx], kReplicaFailure);
  for (int i : st.oldIdx())
    if (!failure) failure = findCondition(st.rss[i], kReplicaFailure);
  if (failure && stringAt(*failure, {"status"}) == "True") {
    setDeploymentCondition(
        status, newDeploymentCondition(kReplicaFailure, "True", stringAt(*failure, {"reason"}),
                                       stringAt(*failure, {"message"})));
  } else {
    removeDeploymentCondition(status, kReplicaFailure);
  }
  if (status == oldStatus) {
    requeueStuckDeployment(st, status);
    return;
  }
  st.d["status"] = status;
  writeStatus(st);
  // Also from here: the next sync that would notice a stall may never come if nothing moves.
  requeueStuckDeployment(st, status);
}

void DeploymentController::requeueStuckDeployment(const DeploymentState& st,
                                                  const json::object& newStatus) {
  if (!hasProgressDeadline(st.d)) return;
  auto* cond = deploymentCondition(*objectAt(st.d, {"status"}), kProgressing);
  if (!cond) return;
  if (deploymentComplete(st.d, newStatus) || stringAt(*cond, {"reason"}) == kTimedOut) return;
  auto from = conditionTime(*cond, "lastUpdateTime");
  if (!from) return;
  auto deadline = *from + std::chrono::seconds(intAt(st.d, {"spec", "progressDeadlineSeconds"}));
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - syncClock().now());
  // Timestamps have whole seconds: look again just after the deadline has certainly passed.
  enqueueAfter(client::objectKey(st.d),
               std::max(after, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1100));
}

}  // namespace skiff::controller
