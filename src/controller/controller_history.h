// ControllerRevision helpers shared by the DaemonSet and StatefulSet controllers (upstream's
// controller/history package). A revision snapshots the owner's pod template as the patch
// kubectl applies on `rollout undo`: {"spec":{"template":{..., "$patch":"replace"}}}, so
// kubectl's history/undo code works on revisions written here unchanged.
#pragma once
#include <boost/json/object.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "client/informer.h"
#include "client/rest_client.h"

namespace skiff::controller {

inline const client::Resource kControllerRevisions{"apps", "v1", "controllerrevisions"};
// Label on revisions (both kinds) and on pods: DaemonSet pods carry the revision's hash,
// StatefulSet pods the revision's name (as upstream).
inline const std::string kControllerRevisionHashLabel = "controller-revision-hash";

// The revision data for the owner's current template.
boost::json::object templatePatchOf(const boost::json::object& owner);
// The owner with spec.template taken from `revision`'s data (what the owner looked like at
// that revision). Returns the owner unchanged when the data holds no template.
boost::json::object applyRevision(const boost::json::object& owner,
                                  const boost::json::object& revision);
int64_t revisionNumber(const boost::json::object& revision);
// Revisions controlled by `ownerUid` in the cache, oldest revision number first.
std::vector<client::ObjectPtr> ownedRevisions(const client::SharedInformer& revisions,
                                              const std::string& ownerUid);

// Finds the revision equal to the owner's current template or creates it, like upstream:
// an equal revision that is not the newest gets its revision number bumped (a rollback);
// a name taken by a different revision bumps `collisionCount` and retries with another
// hash. `collisionCount` is updated in place; callers persist it in their status.
boost::json::object ensureRevision(client::RestClient& client, const boost::json::object& owner,
                                   std::string_view kind,
                                   const std::vector<client::ObjectPtr>& history,
                                   int64_t& collisionCount);

// Deletes the oldest revisions beyond `limit`, never one whose name is in `keep`.
void truncateHistory(client::RestClient& client, const std::vector<client::ObjectPtr>& history,
                     const std::set<std::string>& keep, int64_t limit);

}  // namespace skiff::controller
