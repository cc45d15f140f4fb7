// metadata.managedFields on every write and server-side apply (upstream's
// apiserver/pkg/endpoints/handlers/fieldmanager over structured-merge-diff). Each write path
// of ResourceStore makes one call here; the field-set algebra is api/field_set.h.
//
// An entry is one (manager, operation, apiVersion for Update, subresource). Update writes
// (create, PUT, non-apply patches) diff the old and new object: the changed fields join the
// writer's entry and leave everybody else's, removed fields leave every entry. Apply writes
// make the configuration's field set the applier's entry, merge the configuration into the
// object by the schema, remove what the applier stopped applying and nobody else manages, and
// refuse (409) to change a field another manager owns unless forced.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/resource_registry.h"
#include "apiserver/resource_store.h"

namespace skiff::apiserver {

// The manager of a request without ?fieldManager=: the User-Agent up to its first "/",
// printable characters only, at most 128 bytes (upstream's prefixFromUserAgent).
std::string managerFromUserAgent(std::string_view userAgent);

// Records a create in obj's managedFields. A client may send managedFields: a valid list is
// kept (and extended), [] or [{}] clears it, an invalid one is ignored. Call after
// defaulting and before the kind's strategy resets fields (upstream's order).
void trackCreate(const api::ResourceInfo& info, boost::json::object& obj,
                 const RequestContext& ctx);

// Records an update (`subresource` "" or "status", ...) of `old` into obj in obj's
// managedFields. Writes through a subresource cannot change managedFields themselves.
void trackUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                 const boost::json::object& old, const std::string& subresource,
                 const RequestContext& ctx);

// For a write the server makes on its own below the request handlers (an eviction's pod
// condition, its PodDisruptionBudget update): upstream's field manager does not see these,
// so `old`'s managedFields are written back unchanged.
void keepManagedFields(RequestContext& ctx, const boost::json::object& old);

// Server-side apply of `config` (the decoded apply-patch body) to `live` (null: the object
// does not exist yet), both in `info`'s version. Returns the merged object with its
// managedFields; throws 400 for a configuration of another kind or with managedFields, and
// 409 Conflict (upstream's message and FieldManagerConflict causes) for fields other
// managers own, unless ctx.force. Sets ctx.managedFieldsDone.
boost::json::object applyConfiguration(const api::ResourceInfo& info,
                                       const boost::json::object* live,
                                       const boost::json::object& config,
                                       const std::string& subresource, RequestContext& ctx);

}  // namespace skiff::apiserver
