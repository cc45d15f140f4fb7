#include "controller/workload_utils.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>

#include "api/json_view.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/thread_name.h"

namespace skiff::controller {

namespace json = boost::json;
using api::stringViewAt;
using Clock = std::chrono::system_clock;

std::optional<int64_t> workloadScaledValue(const json::value* v, int64_t total, bool roundUp) {
  if (!v || v->is_null()) return int64_t{0};
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (!v->is_string()) return std::nullopt;
  std::string s(v->get_string());
  if (s.empty()) return std::nullopt;
  bool percent = s.back() == '%';
  if (percent) s.pop_back();
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int64_t n = 0;
  try {
    n = std::stoll(s);
  } catch (...) {
    return std::nullopt;
  }
  // A plain numeric string is not a valid IntOrString percentage upstream.
  if (!percent) return std::nullopt;
  int64_t scaled = n * total;
  return roundUp ? (scaled + 99) / 100 : scaled / 100;
}

Fenceposts resolveFenceposts(const json::object& d) {
  Fenceposts f;
  int64_t desired = intAt(d, {"spec", "replicas"}, 1);
  if (stringAt(d, {"spec", "strategy", "type"}, "RollingUpdate") != "RollingUpdate") return f;
  auto* ru = objectAt(d, {"spec", "strategy", "rollingUpdate"});
  // Absent fields take the API defaults (25%); malformed ones count as zero.
  json::value defaultValue = "25%";
  const json::value* surge =
      ru && ru->contains("maxSurge") ? ru->if_contains("maxSurge") : &defaultValue;
  const json::value* unavail =
      ru && ru->contains("maxUnavailable") ? ru->if_contains("maxUnavailable") : &defaultValue;
  f.surge = std::max<int64_t>(0, workloadScaledValue(surge, desired, true).value_or(0));
  f.unavailable = std::max<int64_t>(0, workloadScaledValue(unavail, desired, false).value_or(0));
  if (f.surge == 0 && f.unavailable == 0) f.unavailable = 1;
  return f;
}

namespace {

int phaseOrdinal(const json::object& pod) {
  auto phase = podPhase(pod);
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;  // Pending and anything unexpected
}

int64_t deletionCost(const json::object& pod) {
  auto s = stringAt(pod, {"metadata", "annotations", kPodDeletionCostAnnotation});
  if (s.empty()) return 0;
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

int64_t maxRestarts(const json::object& pod) {
  int64_t m = 0;
  if (auto* statuses = arrayAt(pod, {"status", "containerStatuses"}))
    for (const auto& s : *statuses)
      if (auto* o = s.if_object()) m = std::max(m, intAt(*o, {"restartCount"}));
  return m;
}

std::optional<Clock::time_point> timeAt(const json::object& obj, Path path) {
  auto s = stringAt(obj, path);
  Clock::time_point t;
  if (s.empty() || !parseTime(s, t)) return std::nullopt;
  return t;
}

std::optional<Clock::time_point> readyTime(const json::object& pod) {
  auto* c = findCondition(pod, "Ready");
  if (!c || stringAt(*c, {"status"}) != "True") return std::nullopt;
  return timeAt(*c, {"lastTransitionTime"});
}

// Zero (unknown) times sort first, then the later time (the newer pod) first.
bool afterOrZero(const std::optional<Clock::time_point>& a,
                 const std::optional<Clock::time_point>& b) {
  if (!a || !b) return !a;
  return *a > *b;
}

// Upstream LogarithmicScaleDown: times whose ages fall in the same power-of-two bucket
// (in nanoseconds) are treated as equal, so scale-down can spread over similar pods.
int64_t logRank(Clock::time_point t, Clock::time_point now) {
  auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
  if (d <= 0) return -1;
  return static_cast<int64_t>(std::log2(static_cast<double>(d)));
}

// Compares two times (newer first) through the logarithmic buckets, ties broken by UID.
bool newerFirst(const std::optional<Clock::time_point>& a,
                const std::optional<Clock::time_point>& b, const json::object& pa,
                const json::object& pb, Clock::time_point now) {
  if (!a || !b) return afterOrZero(a, b);
  int64_t diff = logRank(*a, now) - logRank(*b, now);
  if (diff == 0) return uidOf(pa) < uidOf(pb);
  return diff < 0;
}

}  // namespace

bool podDeleteBefore(const json::object& a, int rankA, const json::object& b, int rankB,
                     Clock::time_point now) {
  bool assignedA = !stringAt(a, {"spec", "nodeName"}).empty();
  bool assignedB = !stringAt(b, {"spec", "nodeName"}).empty();
  if (assignedA != assignedB) return !assignedA;
  int pa = phaseOrdinal(a), pb = phaseOrdinal(b);
  if (pa != pb) return pa < pb;
  bool readyA = isPodReady(a), readyB = isPodReady(b);
  if (readyA != readyB) return !readyA;
  int64_t costA = deletionCost(a), costB = deletionCost(b);
  if (costA != costB) return costA < costB;
  if (rankA != rankB) return rankA > rankB;
  if (readyA && readyB) {
    auto ta = readyTime(a), tb = readyTime(b);
    if (ta != tb) return newerFirst(ta, tb, a, b, now);
  }
  int64_t ra = maxRestarts(a), rb = maxRestarts(b);
  if (ra != rb) return ra > rb;
  auto ca = timeAt(a, {"metadata", "creationTimestamp"});
  auto cb = timeAt(b, {"metadata", "creationTimestamp"});
  if (ca != cb) return newerFirst(ca, cb, a, b, now);
  return false;
}

std::vector<client::ObjectPtr> podsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related,
                                            size_t count) {
  if (count >= pods.size()) return pods;
  std::map<std::string, int> perNode;
  for (const auto& p : related)
    if (isPodActive(*p)) ++perNode[stringAt(*p, {"spec", "nodeName"})];
  std::vector<int> ranks;
  ranks.reserve(pods.size());
  for (const auto& p : pods) ranks.push_back(perNode[stringAt(*p, {"spec", "nodeName"})]);
  std::vector<size_t> order(pods.size());
  std::iota(order.begin(), order.end(), 0);
  auto now = syncClock().now();
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    return podDeleteBefore(*pods[i], ranks[i], *pods[j], ranks[j], now);
  });
  std::vector<client::ObjectPtr> out;
  for (size_t i = 0; i < count; ++i) out.push_back(pods[order[i]]);
  return out;
}

void parallelFor(int count, const std::function<void(int)>& fn) {
  if (count <= 0) return;
  if (count == 1) return fn(0);
  // Few threads: the machine is small and the API server serializes writes anyway.
  int threads = std::min(count, 8);
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  // The helpers carry the caller's name: in `skiff server` a create they send runs the whole
  // API write path on them, and profiles should charge it to the controller that asked.
  const std::string name = currentThreadName();
  for (int t = 0; t < threads; ++t)
    pool.push_back(namedThread(name, [&] {
      for (int i = next++; i < count; i = next++) fn(i);
    }));
  for (auto& t : pool) t.join();
}

int slowStartBatch(int count, int initialBatch, const std::function<bool(int)>& fn) {
  int done = 0, successes = 0;
  int batch = std::min(count, std::max(1, initialBatch));
  while (batch > 0) {
    std::atomic<int> ok{0};
    parallelFor(batch, [&](int i) {
      if (fn(done + i)) ++ok;
    });
    successes += ok;
    done += batch;
    if (ok != batch) break;
    batch = std::min(2 * batch, count - done);
  }
  return successes;
}

void WorkloadExpectations::expectCreations(const std::string& key, int adds) {
  counts_.expect(key, adds, 0);
}

void WorkloadExpectations::expectDeletions(const std::string& key,
                                           const std::vector<std::string>& podKeys) {
  {
    std::lock_guard lock(mu_);
    auto& s = deleting_[key];
    s.clear();
    s.insert(podKeys.begin(), podKeys.end());
  }
  counts_.expect(key, 0, static_cast<int>(podKeys.size()));
}

void WorkloadExpectations::deletionObserved(const std::string& key, const std::string& podKey) {
  std::lock_guard lock(mu_);
  auto it = deleting_.find(key);
  if (it == deleting_.end() || it->second.erase(podKey) == 0) return;
  counts_.deletionObserved(key);
}

void WorkloadExpectations::forget(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    deleting_.erase(key);
  }
  counts_.forget(key);
}

api::LabelSelector workloadSelector(const json::object& owner, bool mapSelector) {
  auto* sel = valueAt(owner, {"spec", "selector"});
  if (!sel || sel->is_null()) return api::LabelSelector::nothing();
  try {
    if (mapSelector) {
      if (!sel->is_object() || sel->get_object().empty()) return api::LabelSelector::nothing();
      return api::LabelSelector::fromJson(json::object{{"matchLabels", *sel}});
    }
    return api::LabelSelector::fromJson(*sel);
  } catch (const std::exception&) {
    return api::LabelSelector::nothing();
  }
}

namespace {

// Writes the ownerReferences list, pinned to the resourceVersion the decision was made on.
client::ObjectPtr patchOwnerRefs(client::RestClient& client, const client::Resource& r,
                                 const json::object& obj, json::array refs) {
  json::object meta{{"ownerReferences", std::move(refs)},
                    {"resourceVersion", stringAt(obj, {"metadata", "resourceVersion"})}};
  try {
    auto out = client.patch(r, namespaceOf(obj), nameOf(obj), client::PatchType::Merge,
                            json::object{{"metadata", std::move(meta)}});
    return std::make_shared<const json::object>(std::move(out));
  } catch (const ApiError& e) {
    // Gone, or now invalid to change: nothing to claim. Conflicts are retried by the caller.
    if (e.code() == 404 || e.code() == 422) return nullptr;
    throw;
  }
}

}  // namespace

std::vector<client::ObjectPtr> claimObjects(client::RestClient& client, const client::Resource& r,
                                            const json::object& owner,
                                            const json::object& controllerRef,
                                            const api::LabelSelector& selector,
                                            const std::vector<client::ObjectPtr>& candidates,
                                            const std::function<bool()>& canAdopt) {
  std::vector<client::ObjectPtr> claimed;
  const std::string ownerUid = uidOf(owner);
  std::optional<bool> adoptable;
  for (const auto& c : candidates) {
    const json::object& obj = *c;
    const json::object* ref = controllerRefOf(obj);
    bool matches = labelsMatch(selector, obj);
    if (ref) {
      if (stringViewAt(*ref, {"uid"}) != ownerUid) continue;  // someone else's
      if (matches) {
        claimed.push_back(c);
        continue;
      }
      // Ours but no longer selected: release, unless we are going away anyway.
      if (isBeingDeleted(owner)) continue;
      json::array refs;
      if (auto* old = arrayAt(obj, {"metadata", "ownerReferences"}))
        for (const auto& o : *old)
          if (!o.is_object() || stringAt(o.get_object(), {"uid"}) != ownerUid) refs.push_back(o);
      patchOwnerRefs(client, r, obj, std::move(refs));
      continue;
    }
    if (!matches || isBeingDeleted(owner) || isBeingDeleted(obj)) continue;
    if (!adoptable) adoptable = canAdopt ? canAdopt() : true;
    if (!*adoptable) continue;
    json::array refs;
    if (auto* old = arrayAt(obj, {"metadata", "ownerReferences"})) refs = *old;
    refs.push_back(controllerRef);
    if (auto adopted = patchOwnerRefs(client, r, obj, std::move(refs))) claimed.push_back(adopted);
  }
  return claimed;
}

namespace {
json::object withoutHash(const json::value* t) {
  json::object out = t && t->is_object() ? t->get_object() : json::object{};
  auto& meta = ensureObject(out, {"metadata"});
  if (auto* labels = meta.if_contains("labels"); labels && labels->is_object())
    labels->get_object().erase(kPodTemplateHashLabel);
  // An empty map and an absent one mean the same.
  for (const char* k : {"labels", "annotations"})
    if (auto* m = meta.if_contains(k);
        m && (m->is_null() || (m->is_object() && m->get_object().empty())))
      meta.erase(k);
  if (meta.empty()) out.erase("metadata");
  return out;
}
}  // namespace

bool templatesEqualIgnoreHash(const json::value* a, const json::value* b) {
  return withoutHash(a) == withoutHash(b);
}

std::string annotationOf(const json::object& obj, const std::string& key) {
  auto* ann = objectAt(obj, {"metadata", "annotations"});
  if (!ann) return "";
  auto* v = ann->if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

int64_t revisionOf(const json::object& rs) {
  auto s = annotationOf(rs, kRevisionAnnotation);
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

json::object newDeploymentCondition(const std::string& type, const std::string& status,
                                    const std::string& reason, const std::string& message) {
  auto now = nowTime();
  return json::object{{"type", type},          {"status", status},
                      {"lastUpdateTime", now}, {"lastTransitionTime", now},
                      {"reason", reason},      {"message", message}};
}

const json::object* deploymentCondition(const json::object& status, std::string_view type) {
  auto* conds = status.if_contains("conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->get_array())
    if (auto* o = c.if_object(); o && stringAt(*o, {"type"}) == type) return o;
  return nullptr;
}

void removeDeploymentCondition(json::object& status, std::string_view type) {
  auto* conds = status.if_contains("conditions");
  if (!conds || !conds->is_array()) return;
  auto& arr = conds->get_array();
  for (auto it = arr.begin(); it != arr.end();) {
    auto* o = it->if_object();
    if (o && stringAt(*o, {"type"}) == type)
      it = arr.erase(it);
    else
      ++it;
  }
}

void setDeploymentCondition(json::object& status, json::object condition) {
  const std::string type = stringAt(condition, {"type"});
  if (auto* cur = deploymentCondition(status, type)) {
    bool sameStatus = stringAt(*cur, {"status"}) == stringAt(condition, {"status"});
    if (sameStatus && stringAt(*cur, {"reason"}) == stringAt(condition, {"reason"})) return;
    if (sameStatus)
      if (auto* t = cur->if_contains("lastTransitionTime")) condition["lastTransitionTime"] = *t;
  }
  removeDeploymentCondition(status, type);
  auto& conds = status["conditions"];
  if (!conds.is_array()) conds = json::array{};
  conds.get_array().push_back(std::move(condition));
}

}  // namespace skiff::controller
