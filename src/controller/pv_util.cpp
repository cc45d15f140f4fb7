#include "controller/pv_util.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/label_selector.h"
#include "controller/controller_utils.h"
#include "controller/daemonset_util.h"

namespace skiff::controller::pv {

namespace json = boost::json;

std::optional<std::string> claimClass(const json::object& claim) {
  if (auto* v = valueAt(claim, {"spec", "storageClassName"}); v && v->is_string())
    return std::string(v->get_string());
  if (auto* a = valueAt(claim, {"metadata", "annotations", kAnnBetaStorageClass});
      a && a->is_string())
    return std::string(a->get_string());
  return std::nullopt;
}

std::string claimClassOrEmpty(const json::object& claim) { return claimClass(claim).value_or(""); }

std::string volumeClass(const json::object& volume) {
  if (auto* a = valueAt(volume, {"metadata", "annotations", kAnnBetaStorageClass});
      a && a->is_string())
    return std::string(a->get_string());
  return stringAt(volume, {"spec", "storageClassName"});
}

namespace {
std::optional<api::Quantity> quantityAt(const json::object& obj, Path path) {
  auto* v = valueAt(obj, path);
  if (!v) return std::nullopt;
  if (v->is_string()) return api::Quantity::parse(v->get_string());
  if (v->is_int64()) return api::Quantity::fromValue(v->get_int64());
  if (v->is_uint64()) return api::Quantity::fromValue(static_cast<int64_t>(v->get_uint64()));
  return std::nullopt;
}
}  // namespace

std::optional<api::Quantity> claimRequest(const json::object& claim) {
  return quantityAt(claim, {"spec", "resources", "requests", "storage"});
}

std::optional<api::Quantity> volumeCapacity(const json::object& volume) {
  return quantityAt(volume, {"spec", "capacity", "storage"});
}

std::vector<std::string> accessModes(const json::object& obj) {
  std::vector<std::string> out;
  if (auto* modes = arrayAt(obj, {"spec", "accessModes"}))
    for (auto& m : *modes)
      if (m.is_string()) out.emplace_back(m.get_string());
  return out;
}

std::string volumeModeOf(const json::object& obj) {
  auto mode = stringAt(obj, {"spec", "volumeMode"});
  return mode.empty() ? "Filesystem" : mode;
}

bool modesSatisfied(const std::vector<std::string>& volumeModes,
                    const std::vector<std::string>& claimModes) {
  for (auto& m : claimModes)
    if (std::find(volumeModes.begin(), volumeModes.end(), m) == volumeModes.end()) return false;
  return true;
}

bool isDefaultClass(const json::object& storageClass) {
  return annotationIs(storageClass, kAnnDefaultClass, "true") ||
         annotationIs(storageClass, kAnnBetaDefaultClass, "true");
}

client::ObjectPtr defaultClass(const std::vector<client::ObjectPtr>& classes) {
  client::ObjectPtr best;
  for (auto& c : classes) {
    if (!c || !isDefaultClass(*c)) continue;
    if (!best) {
      best = c;
      continue;
    }
    // RFC 3339 timestamps of one format compare as strings.
    auto t = stringAt(*c, {"metadata", "creationTimestamp"});
    auto bt = stringAt(*best, {"metadata", "creationTimestamp"});
    if (t > bt || (t == bt && nameOf(*c) < nameOf(*best))) best = c;
  }
  return best;
}

bool hasClaimRef(const json::object& volume) {
  return !stringAt(volume, {"spec", "claimRef", "name"}).empty();
}

bool claimRefMatches(const json::object& volume, const json::object& claim) {
  auto* ref = objectAt(volume, {"spec", "claimRef"});
  if (!ref) return false;
  if (stringAt(*ref, {"name"}) != nameOf(claim) ||
      stringAt(*ref, {"namespace"}) != namespaceOf(claim))
    return false;
  auto uid = stringAt(*ref, {"uid"});
  return uid.empty() || uid == uidOf(claim);
}

bool nodeAffinityMatches(const json::object& volume, const json::object& node) {
  auto* terms = arrayAt(volume, {"spec", "nodeAffinity", "required", "nodeSelectorTerms"});
  if (!terms) return true;
  for (auto& t : *terms)  // terms are ORed
    if (t.is_object() && nodeSelectorTermMatches(t.get_object(), node)) return true;
  return false;
}

std::string volumeUnfitReason(const json::object& volume, const json::object& claim) {
  auto request = claimRequest(claim);
  auto capacity = volumeCapacity(volume);
  if (!capacity || (request && *capacity < *request)) return "requested PV is too small";
  if (volumeClass(volume) != claimClassOrEmpty(claim)) return "storageClassName does not match";
  if (volumeModeOf(volume) != volumeModeOf(claim)) return "incompatible volumeMode";
  if (!modesSatisfied(accessModes(volume), accessModes(claim))) return "incompatible accessMode";
  return "";
}

client::ObjectPtr findBestMatch(const std::vector<client::ObjectPtr>& volumes,
                                const json::object& claim, const json::object* node, bool delayed) {
  auto request = claimRequest(claim).value_or(api::Quantity());
  const std::string cls = claimClassOrEmpty(claim);
  const auto claimModes = accessModes(claim);
  api::LabelSelector selector = api::LabelSelector::everything();
  if (auto* sel = valueAt(claim, {"spec", "selector"}); sel && sel->is_object())
    selector = api::LabelSelector::fromJson(*sel);
  client::ObjectPtr best;
  std::optional<api::Quantity> bestSize;
  // Sorted by name so equal sizes always pick the same volume.
  std::vector<client::ObjectPtr> sorted(volumes.begin(), volumes.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return nameOf(*a) < nameOf(*b); });
  for (auto& v : sorted) {
    const json::object& volume = *v;
    const bool preBound = claimRefMatches(volume, claim);
    if (hasClaimRef(volume) && !preBound) continue;
    auto capacity = volumeCapacity(volume);
    if (!capacity || *capacity < request) continue;
    if (volumeModeOf(volume) != volumeModeOf(claim)) continue;
    if (isBeingDeleted(volume)) continue;
    const bool affinityOk = !node || nodeAffinityMatches(volume, *node);
    if (preBound) return affinityOk ? v : nullptr;
    if (delayed && !node) continue;  // the scheduler picks the node first
    if (stringAt(volume, {"status", "phase"}) != "Available") continue;
    if (!selector.matches(objectAt(volume, {"metadata", "labels"}))) continue;
    if (volumeClass(volume) != cls) continue;
    if (!affinityOk) continue;
    if (!modesSatisfied(accessModes(volume), claimModes)) continue;
    if (!bestSize || *capacity < *bestSize) {
      best = v;
      bestSize = capacity;
    }
  }
  return best;
}

bool hasFinalizer(const json::object& obj, const std::string& finalizer) {
  if (auto* f = arrayAt(obj, {"metadata", "finalizers"}))
    for (auto& x : *f)
      if (x.is_string() && x.get_string() == finalizer) return true;
  return false;
}

bool annotationIs(const json::object& obj, const std::string& key, const std::string& value) {
  auto* v = valueAt(obj, {"metadata", "annotations", key});
  return v && v->is_string() && v->get_string() == value;
}

}  // namespace skiff::controller::pv
