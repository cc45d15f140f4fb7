// pvc-protection and pv-protection (upstream pkg/controller/volume/pvcprotection and
// pvprotection). The StorageObjectInUseProtection admission plugin puts the finalizers on
// every new claim and volume; these controllers take them off once deleting is safe:
// - a claim being deleted keeps kubernetes.io/pvc-protection while a scheduled pod that has
//   not terminated uses it (a volume of the pod names it, directly or as the pod's generic
//   ephemeral volume). The cache answers first; "not in use" is confirmed with a live list
//   of the namespace's pods, as upstream, so a pod the cache has not seen yet still counts.
// - a volume being deleted keeps kubernetes.io/pv-protection while it is Bound.
#include <boost/json.hpp>

#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/pv_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace pv;
namespace res = client::resources;

// The claims a pod's volumes name (generic ephemeral volumes: "<pod>-<volume>").
std::vector<std::string> claimsOfPod(const json::object& pod) {
  std::vector<std::string> out;
  if (auto* volumes = arrayAt(pod, {"spec", "volumes"}))
    for (auto& v : *volumes) {
      if (!v.is_object()) continue;
      const auto& vol = v.get_object();
      if (auto c = stringAt(vol, {"persistentVolumeClaim", "claimName"}); !c.empty())
        out.push_back(c);
      else if (objectAt(vol, {"ephemeral"}))
        out.push_back(nameOf(pod) + "-" + stringAt(vol, {"name"}));
    }
  return out;
}

// Upstream counts only scheduled pods (the kubelet refuses to start a pod whose claim is
// being deleted) that have not terminated.
bool podBlocksClaim(const json::object& pod, const std::string& claim) {
  if (stringAt(pod, {"spec", "nodeName"}).empty() || isPodTerminal(pod)) return false;
  for (auto& c : claimsOfPod(pod))
    if (c == claim) return true;
  return false;
}

// The object without `finalizer`, written with its resourceVersion (a conflict retries).
void removeFinalizer(client::RestClient& client, const client::Resource& r, const json::object& obj,
                     const std::string& finalizer) {
  json::object updated = obj;
  json::array kept;
  if (auto* f = arrayAt(obj, {"metadata", "finalizers"}))
    for (auto& x : *f)
      if (!(x.is_string() && x.get_string() == finalizer)) kept.push_back(x);
  ensureObject(updated, {"metadata"})["finalizers"] = std::move(kept);
  try {
    client.update(r, namespaceOf(obj), updated);
  } catch (const ApiError& e) {
    if (e.code() != 404) throw;
  }
}

class PvcProtection : public QueueController {
 public:
  explicit PvcProtection(ControllerContext& ctx)
      : QueueController(ctx, "pvc-protection", "pvc-protection-controller"),
        claims_(ctx.informers.informer(res::persistentVolumeClaims)),
        pods_(ctx.informers.informer(res::pods)) {
    auto onClaim = [this](const json::object& c) {
      if (isBeingDeleted(c) && hasFinalizer(c, kPvcProtectionFinalizer)) enqueue(c);
    };
    claims_.addEventHandler(
        {.onAdd = onClaim,
         .onUpdate = [onClaim](const json::object&, const json::object& c) { onClaim(c); }});
    // A pod that terminates or goes away may free its claims.
    auto onPod = [this](const json::object& p) {
      for (auto& c : claimsOfPod(p)) enqueueKey(makeKey(namespaceOf(p), c));
    };
    pods_.addEventHandler(
        {.onUpdate = [onPod](const json::object&, const json::object& p) { onPod(p); },
         .onDelete = onPod});
  }

 protected:
  void sync(const std::string& key) override {
    auto claim = claims_.get(key);
    if (!claim || !isBeingDeleted(*claim) || !hasFinalizer(*claim, kPvcProtectionFinalizer)) return;
    const std::string ns = namespaceOf(*claim), name = nameOf(*claim);
    for (auto& p : pods_.list())
      if (namespaceOf(*p) == ns && podBlocksClaim(*p, name)) return;  // the pod's event retries
    auto live = client_.list(res::pods, ns);
    if (auto* items = arrayAt(live, {"items"}))
      for (auto& p : *items)
        if (p.is_object() && podBlocksClaim(p.get_object(), name)) return;
    removeFinalizer(client_, res::persistentVolumeClaims, *claim, kPvcProtectionFinalizer);
  }

 private:
  client::SharedInformer& claims_;
  client::SharedInformer& pods_;
};

class PvProtection : public QueueController {
 public:
  explicit PvProtection(ControllerContext& ctx)
      : QueueController(ctx, "pv-protection", "pv-protection-controller"),
        volumes_(ctx.informers.informer(res::persistentVolumes)) {
    auto onVolume = [this](const json::object& v) {
      if (isBeingDeleted(v) && hasFinalizer(v, kPvProtectionFinalizer)) enqueue(v);
    };
    volumes_.addEventHandler(
        {.onAdd = onVolume,
         .onUpdate = [onVolume](const json::object&, const json::object& v) { onVolume(v); }});
  }

 protected:
  void sync(const std::string& key) override {
    auto volume = volumes_.get(key);
    if (!volume || !isBeingDeleted(*volume) || !hasFinalizer(*volume, kPvProtectionFinalizer))
      return;
    if (stringAt(*volume, {"status", "phase"}) == "Bound") return;  // its status event retries
    removeFinalizer(client_, res::persistentVolumes, *volume, kPvProtectionFinalizer);
  }

 private:
  client::SharedInformer& volumes_;
};

ControllerRegistration pvcReg("pvc-protection", [](ControllerContext& ctx) {
  return std::make_unique<PvcProtection>(ctx);
});
ControllerRegistration pvReg("pv-protection", [](ControllerContext& ctx) {
  return std::make_unique<PvProtection>(ctx);
});

}  // namespace
}  // namespace skiff::controller
