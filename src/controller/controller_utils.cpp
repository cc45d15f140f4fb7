#include "controller/controller_utils.h"

#include "api/json_view.h"
#include "common/ids.h"

namespace skiff::controller {

namespace json = boost::json;
using api::stringViewAt;

std::string nameOf(const json::object& obj) { return stringAt(obj, {"metadata", "name"}); }
std::string namespaceOf(const json::object& obj) {
  return stringAt(obj, {"metadata", "namespace"});
}
std::string uidOf(const json::object& obj) { return stringAt(obj, {"metadata", "uid"}); }
bool isBeingDeleted(const json::object& obj) {
  auto* v = valueAt(obj, {"metadata", "deletionTimestamp"});
  return v && !v->is_null();
}

std::string makeKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> splitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

json::object makeControllerRef(const json::object& owner, std::string_view apiVersion,
                               std::string_view kind) {
  return json::object{{"apiVersion", apiVersion}, {"kind", kind},
                      {"name", nameOf(owner)},    {"uid", uidOf(owner)},
                      {"controller", true},       {"blockOwnerDeletion", true}};
}

bool isControlledBy(const json::object& obj, const std::string& ownerUid) {
  auto* ref = controllerRefOf(obj);
  return ref && stringAt(*ref, {"uid"}) == ownerUid;
}

std::string controllerKeyOf(const json::object& obj, std::string_view kind) {
  auto* ref = controllerRefOf(obj);
  if (!ref || stringAt(*ref, {"kind"}) != kind) return "";
  return makeKey(namespaceOf(obj), stringAt(*ref, {"name"}));
}

std::string podPhase(const json::object& pod) { return stringAt(pod, {"status", "phase"}); }

bool isPodTerminal(const json::object& pod) {
  auto phase = stringViewAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

bool isPodActive(const json::object& pod) { return !isPodTerminal(pod) && !isBeingDeleted(pod); }

const json::object* findCondition(const json::object& obj, std::string_view type) {
  auto* conds = arrayAt(obj, {"status", "conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds) {
    auto* cond = c.if_object();
    if (cond && stringViewAt(*cond, {"type"}) == type) return cond;
  }
  return nullptr;
}

bool conditionTrue(const json::object& obj, std::string_view type) {
  auto* c = findCondition(obj, type);
  return c && stringViewAt(*c, {"status"}) == "True";
}

bool isPodReady(const json::object& pod) { return conditionTrue(pod, "Ready"); }

bool isPodAvailable(const json::object& pod, int64_t minReadySeconds,
                    std::chrono::system_clock::time_point now) {
  auto* c = findCondition(pod, "Ready");
  if (!c || stringViewAt(*c, {"status"}) != "True") return false;
  if (minReadySeconds <= 0) return true;
  std::chrono::system_clock::time_point since;
  if (!parseTime(stringAt(*c, {"lastTransitionTime"}), since)) return false;
  return since + std::chrono::seconds(minReadySeconds) <= now;
}

bool setCondition(json::object& obj, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, bool withUpdateTime) {
  auto& st = ensureObject(obj, {"status"});
  auto& condsValue = st["conditions"];
  if (!condsValue.is_array()) condsValue = json::array{};
  auto& conds = condsValue.get_array();
  auto now = nowTime();
  for (auto& c : conds) {
    auto* cond = c.if_object();
    if (!cond || stringAt(*cond, {"type"}) != type) continue;
    bool statusChanged = stringAt(*cond, {"status"}) != status;
    bool changed = statusChanged || stringAt(*cond, {"reason"}) != reason ||
                   stringAt(*cond, {"message"}) != message;
    if (!changed) return false;
    (*cond)["status"] = status;
    (*cond)["reason"] = reason;
    (*cond)["message"] = message;
    if (statusChanged) (*cond)["lastTransitionTime"] = now;
    if (withUpdateTime) (*cond)["lastUpdateTime"] = now;
    return true;
  }
  json::object cond{{"type", type}, {"status", status}};
  if (withUpdateTime) cond["lastUpdateTime"] = now;
  cond["lastTransitionTime"] = now;
  cond["reason"] = reason;
  cond["message"] = message;
  conds.push_back(std::move(cond));
  return true;
}

bool removeCondition(json::object& obj, std::string_view type) {
  auto* st = obj.if_contains("status");
  if (!st || !st->is_object()) return false;
  auto* conds = st->get_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  auto& arr = conds->get_array();
  for (auto it = arr.begin(); it != arr.end(); ++it) {
    auto* c = it->if_object();
    if (c && stringAt(*c, {"type"}) == type) {
      arr.erase(it);
      return true;
    }
  }
  return false;
}

json::object podFromTemplate(const json::object& podTemplate, const std::string& ns,
                             const json::object& controllerRef,
                             const std::string& generateNamePrefix) {
  json::object meta;
  if (auto* tm = objectAt(podTemplate, {"metadata"})) {
    if (auto* l = tm->if_contains("labels")) meta["labels"] = *l;
    if (auto* a = tm->if_contains("annotations")) meta["annotations"] = *a;
  }
  if (!generateNamePrefix.empty()) meta["generateName"] = generateNamePrefix;
  meta["namespace"] = ns;
  meta["ownerReferences"] = json::array{controllerRef};
  json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}};
  if (auto* spec = podTemplate.if_contains("spec")) pod["spec"] = *spec;
  return pod;
}

namespace {
uint32_t fnv32a(std::string_view data, uint32_t h = 2166136261u) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}
}  // namespace

std::string computeHash(const json::value& v, int64_t collisionCount) {
  uint32_t h = fnv32a(json::serialize(v));
  if (collisionCount > 0) h = fnv32a(std::to_string(collisionCount), h);
  // Upstream's SafeEncodeString alphabet: no vowels, no confusable characters.
  static constexpr std::string_view alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string digits = std::to_string(h), out;
  for (char c : digits) out.push_back(alphabet[static_cast<size_t>(c) % alphabet.size()]);
  return out;
}

api::LabelSelector selectorOf(const json::object& obj) {
  auto* sel = valueAt(obj, {"spec", "selector"});
  if (!sel) return api::LabelSelector::nothing();
  return api::LabelSelector::fromJson(*sel);
}

bool labelsMatch(const api::LabelSelector& selector, const json::object& obj) {
  return selector.matches(objectAt(obj, {"metadata", "labels"}));
}

namespace {
thread_local const Clock* currentSyncClock = nullptr;
}  // namespace

const Clock& syncClock() { return currentSyncClock ? *currentSyncClock : realClock(); }

SyncClockScope::SyncClockScope(const Clock& clock) : previous_(currentSyncClock) {
  currentSyncClock = &clock;
}
SyncClockScope::~SyncClockScope() { currentSyncClock = previous_; }

std::string nowTime() { return formatTime(syncClock().now()); }

void Expectations::expect(const std::string& key, int adds, int dels) {
  std::lock_guard lock(mu_);
  entries_[key] = Entry{adds, dels, syncClock().monotonic()};
}

void Expectations::lower(const std::string& key, int adds, int dels) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.adds -= adds;
  it->second.dels -= dels;
}

bool Expectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return true;
  if (it->second.adds <= 0 && it->second.dels <= 0) return true;
  return syncClock().monotonic() - it->second.since > std::chrono::minutes(5);
}

void Expectations::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

}  // namespace skiff::controller
