// Deployment controller (upstream's deployment-controller): owns ReplicaSets, one per pod
// template ("<deploy>-<hash>", labelled pod-template-hash), and rolls between them.
//
// sync(key) follows upstream's syncDeployment: claim ReplicaSets (adopt/release), a deployment
// being deleted only gets its status, paused deployments and scaling events only resize
// (proportionally during a rollout), otherwise the strategy runs (RollingUpdate within
// maxSurge/maxUnavailable, or Recreate), old ReplicaSets beyond revisionHistoryLimit are
// deleted once complete, and status (replicas, conditions Available/Progressing with the
// progress deadline) is written. The rollout arithmetic lives in deployment_rollout.cpp.
#include "controller/deployment_controller.h"

#include "api/json_view.h"
#include "common/api_error.h"
#include "common/log.h"

namespace skiff::controller {

namespace json = boost::json;

DeploymentController::DeploymentController(ControllerContext& ctx)
    : QueueController(ctx, "deployment", "deployment-controller"),
      deployments_(ctx.informers.informer(client::resources::deployments)),
      sets_(ctx.informers.informer(client::resources::replicaSets)),
      pods_(ctx.informers.informer(client::resources::pods)) {
  deployments_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
  sets_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
  pods_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
  deployments_.addEventHandler({
      .onAdd = [this](const json::object& d) { enqueue(d); },
      .onUpdate = [this](const json::object&, const json::object& d) { enqueue(d); },
      .onDelete = [this](const json::object& d) { enqueue(d); },
  });
  sets_.addEventHandler({
      .onAdd = [this](const json::object& rs) { replicaSetAdded(rs); },
      .onUpdate = [this](const json::object& o, const json::object& n) { replicaSetUpdated(o, n); },
      .onDelete = [this](const json::object& rs) { replicaSetDeleted(rs); },
  });
  pods_.addEventHandler({.onDelete = [this](const json::object& pod) { podDeleted(pod); }});
}

std::optional<std::string> DeploymentController::ownerKey(const json::object& rs) {
  auto* ref = controllerRefOf(rs);
  if (!ref || stringAt(*ref, {"kind"}) != "Deployment") return std::nullopt;
  auto key = makeKey(namespaceOf(rs), stringAt(*ref, {"name"}));
  auto d = deployments_.get(key);
  if (!d || uidOf(*d) != stringAt(*ref, {"uid"})) return std::nullopt;
  return key;
}

void DeploymentController::enqueueMatching(const json::object& rs) {
  for (auto& d : deployments_.byIndex(client::kIndexNamespace, namespaceOf(rs)))
    if (labelsMatch(workloadSelector(*d), rs)) enqueue(*d);
}

void DeploymentController::replicaSetAdded(const json::object& rs) {
  if (isBeingDeleted(rs)) return replicaSetDeleted(rs);
  if (controllerRefOf(rs)) {
    if (auto key = ownerKey(rs)) enqueueKey(*key);
    return;
  }
  enqueueMatching(rs);
}

void DeploymentController::replicaSetUpdated(const json::object& oldRs, const json::object& rs) {
  if (stringAt(oldRs, {"metadata", "resourceVersion"}) ==
      stringAt(rs, {"metadata", "resourceVersion"}))
    return;
  auto* oldRef = controllerRefOf(oldRs);
  auto* newRef = controllerRefOf(rs);
  bool refChanged = (oldRef == nullptr) != (newRef == nullptr) ||
                    (oldRef && newRef && stringAt(*oldRef, {"uid"}) != stringAt(*newRef, {"uid"}));
  if (refChanged && oldRef)
    if (auto key = ownerKey(oldRs)) enqueueKey(*key);
  if (newRef) {
    if (auto key = ownerKey(rs)) enqueueKey(*key);
    return;
  }
  if (refChanged || !api::sameAt(oldRs, rs, {"metadata", "labels"})) enqueueMatching(rs);
}

void DeploymentController::replicaSetDeleted(const json::object& rs) {
  if (auto key = ownerKey(rs)) enqueueKey(*key);
}

// Recreate waits for every old pod to be gone before it scales the new ReplicaSet up.
void DeploymentController::podDeleted(const json::object& pod) {
  auto* ref = controllerRefOf(pod);
  if (!ref || stringAt(*ref, {"kind"}) != "ReplicaSet") return;
  auto rs = sets_.get(makeKey(namespaceOf(pod), stringAt(*ref, {"name"})));
  if (!rs) return;
  auto key = ownerKey(*rs);
  if (!key) return;
  if (auto d = deployments_.get(*key);
      d && stringAt(*d, {"spec", "strategy", "type"}) == "Recreate")
    enqueueKey(*key);
}

namespace {
int64_t resourceVersionOf(const json::object& obj) {
  auto s = stringAt(obj, {"metadata", "resourceVersion"});
  try {
    return s.empty() ? 0 : std::stoll(s);
  } catch (...) {
    return 0;
  }
}
}  // namespace

void DeploymentController::rememberWrite(const json::object& rs) {
  std::lock_guard lock(writtenMu_);
  written_[client::objectKey(rs)] = resourceVersionOf(rs);
}

bool DeploymentController::cacheBehindWrites(const std::vector<client::ObjectPtr>& rss) {
  std::lock_guard lock(writtenMu_);
  bool behind = false;
  for (auto& rs : rss) {
    auto it = written_.find(client::objectKey(*rs));
    if (it == written_.end()) continue;
    if (resourceVersionOf(*rs) >= it->second)
      written_.erase(it);
    else
      behind = true;
  }
  // Entries of ReplicaSets that went away must not pile up.
  if (written_.size() > 10000) written_.clear();
  return behind;
}

bool DeploymentController::canAdopt(const json::object& d) {
  try {
    auto fresh = client_.get(client::resources::deployments, namespaceOf(d), nameOf(d));
    return uidOf(fresh) == uidOf(d) && !isBeingDeleted(fresh);
  } catch (const ApiError& e) {
    if (e.code() == 404) return false;
    throw;
  }
}

void DeploymentController::sync(const std::string& key) {
  auto cached = deployments_.get(key);
  if (!cached) return;
  DeploymentState st;
  st.d = *cached;
  if (!st.d.contains("status") || !st.d["status"].is_object()) st.d["status"] = json::object{};

  // An empty selector would select every pod of the namespace: refuse it like upstream.
  auto* sel = valueAt(st.d, {"spec", "selector"});
  bool selectsAll = !sel || !sel->is_object() || workloadSelector(st.d).empty();
  if (selectsAll) {
    recorder_.event(st.d, client::kEventTypeWarning, "SelectingAll",
                    "This deployment is selecting all pods. A non-empty selector is required.");
    int64_t gen = intAt(st.d, {"metadata", "generation"});
    if (intAt(st.d, {"status", "observedGeneration"}) < gen) {
      st.d["status"].get_object()["observedGeneration"] = gen;
      writeStatus(st);
    }
    return;
  }

  auto ref = makeControllerRef(st.d, "apps/v1", "Deployment");
  auto claimed = claimObjects(
      client_, client::resources::replicaSets, st.d, ref, workloadSelector(st.d),
      sets_.byIndex(client::kIndexNamespace, namespaceOf(st.d)), [&] { return canAdopt(st.d); });
  // Our last ReplicaSet writes are not in the cache yet: their update events requeue us.
  if (cacheBehindWrites(claimed)) return;
  for (auto& rs : claimed) st.rss.push_back(*rs);

  if (isBeingDeleted(st.d)) {
    syncStatusOnly(st);
    return;
  }
  checkPausedConditions(st);
  if (boolAt(st.d, {"spec", "paused"})) {
    syncScale(st);
    return;
  }
  if (isScalingEvent(st)) {
    syncScale(st);
    return;
  }
  if (stringAt(st.d, {"spec", "strategy", "type"}) == "Recreate")
    rolloutRecreate(st);
  else
    rolloutRolling(st);
}

namespace {
ControllerRegistration reg("deployment", [](ControllerContext& ctx) {
  return std::make_unique<DeploymentController>(ctx);
});
}  // namespace

}  // namespace skiff::controller
