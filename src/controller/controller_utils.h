// Helpers shared by the controllers: null-safe JSON access, owner references, pod states,
// status conditions, pods from templates, template hashes, and creation/deletion
// expectations (upstream's ControllerExpectations, which stop a controller from acting
// twice on a cache that has not yet seen its own writes).
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/json_access.h"
#include "api/label_selector.h"
#include "common/clock.h"

namespace skiff::controller {

// --- time
// The clock of the controller whose sync (or periodic task) runs on this thread, the real
// clock elsewhere. Shared helpers below (nowTime, setCondition, isPodAvailable,
// expectations, ...) read time through it, so a controller built with a FakeClock sees fake
// time in its helpers too without the clock being passed down every call.
const Clock& syncClock();
// Makes `clock` this thread's syncClock() for the scope (QueueController sets it around sync).
class SyncClockScope {
 public:
  explicit SyncClockScope(const Clock& clock);
  ~SyncClockScope();
  SyncClockScope(const SyncClockScope&) = delete;
  SyncClockScope& operator=(const SyncClockScope&) = delete;

 private:
  const Clock* previous_;
};

// Null-safe JSON access lives in api/json_access.h; controllers use it unqualified.
using api::arrayAt;
using api::boolAt;
using api::ensureObject;
using api::intAt;
using api::objectAt;
using api::Path;
using api::stringAt;
using api::valueAt;

std::string nameOf(const boost::json::object& obj);
std::string namespaceOf(const boost::json::object& obj);
std::string uidOf(const boost::json::object& obj);
bool isBeingDeleted(const boost::json::object& obj);  // metadata.deletionTimestamp set
// "ns/name" from namespace and name ("name" when ns is empty).
std::string makeKey(const std::string& ns, const std::string& name);
// Splits "ns/name" (cluster-scoped keys have no slash: ns is "").
std::pair<std::string, std::string> splitKey(const std::string& key);

// --- owner references
using api::controllerRefOf;
// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}
boost::json::object makeControllerRef(const boost::json::object& owner, std::string_view apiVersion,
                                      std::string_view kind);
bool isControlledBy(const boost::json::object& obj, const std::string& ownerUid);
// "ns/name" of the object's controller when that controller is of `kind`, else "".
std::string controllerKeyOf(const boost::json::object& obj, std::string_view kind);

// --- pods
std::string podPhase(const boost::json::object& pod);
// Not terminated (Succeeded/Failed) and not being deleted: upstream's IsPodActive.
bool isPodActive(const boost::json::object& pod);
bool isPodTerminal(const boost::json::object& pod);  // Succeeded or Failed
bool isPodReady(const boost::json::object& pod);     // condition Ready=True
// Ready for at least minReadySeconds (by the Ready condition's lastTransitionTime).
bool isPodAvailable(const boost::json::object& pod, int64_t minReadySeconds,
                    std::chrono::system_clock::time_point now = syncClock().now());
// The condition `type` in status.conditions, or nullptr.
const boost::json::object* findCondition(const boost::json::object& obj, std::string_view type);
bool conditionTrue(const boost::json::object& obj, std::string_view type);

// --- status conditions
// Sets condition {type, status, reason, message} in status.conditions of `obj` (creating the
// array). lastTransitionTime (and lastUpdateTime when `withUpdateTime`) is now when the
// status changes; an unchanged status keeps its transition time. Returns true if anything
// changed.
bool setCondition(boost::json::object& obj, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message,
                  bool withUpdateTime = false);
bool removeCondition(boost::json::object& obj, std::string_view type);

// --- templates
// A Pod for the owner's spec.template: labels/annotations/spec copied, generateName
// "<prefix>", the controller ownerReference set, finalizers none.
boost::json::object podFromTemplate(const boost::json::object& podTemplate, const std::string& ns,
                                    const boost::json::object& controllerRef,
                                    const std::string& generateNamePrefix);
// A short, label-safe hash of a JSON value (FNV-1a 32 over its serialization, plus the
// collision count), encoded like upstream's rand.SafeEncodeString (no vowels).
std::string computeHash(const boost::json::value& v, int64_t collisionCount = 0);
// spec.selector of a workload as a LabelSelector (nothing() when absent).
api::LabelSelector selectorOf(const boost::json::object& obj);
bool labelsMatch(const api::LabelSelector& selector, const boost::json::object& obj);

std::string nowTime();  // syncClock().now() as RFC 3339, seconds

// Expected creations/deletions per controller key; satisfied when both reached zero or
// after 5 minutes (upstream's ExpectationsTimeout).
class Expectations {
 public:
  void expect(const std::string& key, int adds, int dels);
  void creationObserved(const std::string& key) { lower(key, 1, 0); }
  void deletionObserved(const std::string& key) { lower(key, 0, 1); }
  void lower(const std::string& key, int adds, int dels);
  bool satisfied(const std::string& key) const;
  void forget(const std::string& key);

 private:
  struct Entry {
    int adds = 0, dels = 0;
    std::chrono::steady_clock::time_point since;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace skiff::controller
