// The write hooks of custom resources (upstream's apiextensions-apiserver customresource
// strategy): schema pruning, defaulting and validation, dispatched beside the built-in kinds'.
#include <boost/json.hpp>
#include <algorithm>

#include "api/custom_resource.h"
#include "api/defaults.h"
#include "api/json_access.h"
#include "api/openapi.h"
#include "api/type_check.h"
#include "api/unknown_fields.h"
#include "api/validation.h"
#include "apiserver/crd_controller.h"
#include "apiserver/strategy.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {
const api::StructuralNode* schemaOf(const api::ResourceInfo& info) {
  return info.custom && info.custom->schema ? info.custom->schema.get() : nullptr;
}

constexpr const char* kObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
}  // namespace

void applyKindDefaults(const api::ResourceInfo& info, json::object& obj) {
  if (const api::StructuralNode* schema = schemaOf(info)) return api::defaultBySchema(obj, *schema);
  api::applyDefaults(info.group, info.kind, obj);
}

std::vector<StatusCause> validateKind(const api::ResourceInfo& info, const json::object& obj,
                                      const json::object* old) {
  auto causes = api::validateObject(info.group, info.kind, obj, old);
  if (const api::StructuralNode* schema = schemaOf(info))
    for (auto& c : api::validateBySchema(obj, *schema, old)) causes.push_back(std::move(c));
  return causes;
}

std::vector<StatusCause> validateKindStatus(const api::ResourceInfo& info, const json::object& obj,
                                            const json::object& old) {
  auto causes = api::validateStatusUpdate(info.group, info.kind, obj, old);
  if (const api::StructuralNode* schema = schemaOf(info))
    for (auto& c : api::validateBySchema(obj, *schema, &old)) causes.push_back(std::move(c));
  return causes;
}

std::vector<std::string> pruneCustomResource(const api::ResourceInfo& info, json::object& obj) {
  std::vector<std::string> pruned;
  if (const api::StructuralNode* schema = schemaOf(info)) pruned = api::pruneBySchema(obj, *schema);
  if (json::value* meta = obj.if_contains("metadata"); meta && meta->is_object()) {
    // metadata is an ObjectMeta for custom resources too: pruned and type-checked as such.
    auto checked = api::checkAndPrune(meta->as_object(), api::FieldSchemas::builtin().root(kObjectMeta),
                                      api::Decoding::Json);
    if (checked.typeError) throw api::DecodeError(info.kind, info.version, *checked.typeError);
    for (auto& f : checked.unknown) pruned.push_back("metadata." + f);
  }
  return pruned;
}

bool prepareCrdDeletion(json::object& crd) {
  json::object& meta = crd["metadata"].as_object();
  json::value& finalizers = meta["finalizers"];
  if (!finalizers.is_array()) finalizers.emplace_array();
  bool changed = false;
  auto& list = finalizers.as_array();
  if (std::find(list.begin(), list.end(), json::value(kCrdCleanupFinalizer)) == list.end()) {
    list.push_back(json::value(kCrdCleanupFinalizer));
    changed = true;
  }
  json::value& status = crd["status"];
  if (!status.is_object()) status.emplace_object();
  json::value& conditions = status.as_object()["conditions"];
  if (!conditions.is_array()) conditions.emplace_array();
  json::array kept;
  for (auto& c : conditions.as_array())
    if (!c.is_object() || api::stringAt(c.as_object(), {"type"}) != "Terminating") kept.push_back(std::move(c));
  kept.push_back(json::object{{"type", "Terminating"},
                              {"status", "True"},
                              {"lastTransitionTime", formatTime(std::chrono::system_clock::now())},
                              {"reason", "InstanceDeletionInProgress"},
                              {"message", "CustomResource deletion is in progress"}});
  conditions = std::move(kept);
  return changed;
}

}  // namespace skiff::apiserver
