#include "controller/controller_history.h"

#include <algorithm>

#include "common/api_error.h"
#include "controller/controller_utils.h"

namespace skiff::controller {

namespace json = boost::json;

json::object templatePatchOf(const json::object& owner) {
  json::object tmpl;
  if (auto* t = objectAt(owner, {"spec", "template"})) tmpl = *t;
  // The directive makes kubectl's strategic merge on undo replace the whole template
  // instead of merging the old one into the current one.
  tmpl["$patch"] = "replace";
  return json::object{{"spec", json::object{{"template", std::move(tmpl)}}}};
}

json::object applyRevision(const json::object& owner, const json::object& revision) {
  json::object out = owner;
  auto* tmpl = objectAt(revision, {"data", "spec", "template"});
  if (!tmpl) return out;
  json::object t = *tmpl;
  t.erase("$patch");
  ensureObject(out, {"spec"})["template"] = std::move(t);
  return out;
}

int64_t revisionNumber(const json::object& revision) { return intAt(revision, {"revision"}); }

std::vector<client::ObjectPtr> ownedRevisions(const client::SharedInformer& revisions,
                                              const std::string& ownerUid) {
  std::vector<client::ObjectPtr> out;
  for (auto& r : revisions.byIndex(client::kIndexOwnerUid, ownerUid))
    if (isControlledBy(*r, ownerUid)) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
    auto ra = revisionNumber(*a), rb = revisionNumber(*b);
    return ra != rb ? ra < rb : nameOf(*a) < nameOf(*b);
  });
  return out;
}

namespace {

bool sameData(const json::object& revision, const json::object& data) {
  auto* d = revision.if_contains("data");
  return d && d->is_object() && d->get_object() == data;
}

// Upstream truncates long owner names so "<name>-<hash>" stays a valid object name.
std::string revisionName(const std::string& prefix, const std::string& hash) {
  return (prefix.size() > 223 ? prefix.substr(0, 223) : prefix) + "-" + hash;
}

}  // namespace

json::object ensureRevision(client::RestClient& client, const json::object& owner,
                            std::string_view kind, const std::vector<client::ObjectPtr>& history,
                            int64_t& collisionCount) {
  const auto ns = namespaceOf(owner);
  const auto data = templatePatchOf(owner);
  int64_t maxRevision = 0;
  for (auto& r : history) maxRevision = std::max(maxRevision, revisionNumber(*r));

  client::ObjectPtr equal;
  for (auto& r : history)
    if (sameData(*r, data)) equal = r;  // the newest equal one (history is sorted)
  if (equal) {
    if (revisionNumber(*equal) == maxRevision) return *equal;
    // The template went back to an older revision (rollback): it becomes the newest again.
    return client.patch(kControllerRevisions, ns, nameOf(*equal), client::PatchType::Merge,
                        json::object{{"revision", maxRevision + 1}});
  }

  for (int attempt = 0; attempt < 10; ++attempt) {
    auto hash = computeHash(data, collisionCount);
    json::object labels;
    if (auto* l = objectAt(owner, {"spec", "template", "metadata", "labels"})) labels = *l;
    labels[kControllerRevisionHashLabel] = hash;
    json::object meta{{"name", revisionName(nameOf(owner), hash)},
                      {"namespace", ns},
                      {"labels", std::move(labels)},
                      {"ownerReferences", json::array{makeControllerRef(owner, "apps/v1", kind)}}};
    if (auto* a = objectAt(owner, {"metadata", "annotations"})) {
      // kubectl shows kubernetes.io/change-cause from the revision; the last-applied blob
      // is only noise there.
      json::object ann = *a;
      ann.erase("kubectl.kubernetes.io/last-applied-configuration");
      if (!ann.empty()) meta["annotations"] = std::move(ann);
    }
    json::object rev{{"apiVersion", "apps/v1"},
                     {"kind", "ControllerRevision"},
                     {"metadata", std::move(meta)},
                     {"data", data},
                     {"revision", maxRevision + 1}};
    try {
      return client.create(kControllerRevisions, ns, rev);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
    }
    // The name exists: ours from a write the cache has not shown yet, or a hash collision.
    auto existing = client.get(kControllerRevisions, ns, revisionName(nameOf(owner), hash));
    if (isControlledBy(existing, uidOf(owner)) && sameData(existing, data)) return existing;
    ++collisionCount;
  }
  throw ApiError(500, "InternalError", "too many ControllerRevision hash collisions");
}

void truncateHistory(client::RestClient& client, const std::vector<client::ObjectPtr>& history,
                     const std::set<std::string>& keep, int64_t limit) {
  std::vector<client::ObjectPtr> old;
  for (auto& r : history)
    if (!keep.count(nameOf(*r))) old.push_back(r);
  int64_t excess = static_cast<int64_t>(old.size()) - std::max<int64_t>(0, limit);
  for (int64_t i = 0; i < excess; ++i) {
    try {
      client.remove(kControllerRevisions, namespaceOf(*old[i]), nameOf(*old[i]));
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }
}

}  // namespace skiff::controller
