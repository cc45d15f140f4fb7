// The write hooks of custom resources (upstream's apiextensions-apiserver customresource
// strategy): schema pruning, defaulting and validation, dispatched beside the built-in kinds'.
#include <algorithm>
#include <boost/json.hpp>

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
                                            const json::object& old,
                                            const std::string& subresource) {
  auto causes = api::validateStatusUpdate(info.group, info.kind, obj, old, subresource);
  if (const api::StructuralNode* schema = schemaOf(info))
    for (auto& c : api::validateBySchema(obj, *schema, &old)) causes.push_back(std::move(c));
  return causes;
}

std::vector<std::string> pruneCustomResource(const api::ResourceInfo& info, json::object& obj) {
  std::vector<std::string> pruned;
  if (const api::StructuralNode* schema = schemaOf(info)) pruned = api::pruneBySchema(obj, *schema);
  if (json::value* meta = obj.if_contains("metadata"); meta && meta->is_object()) {
    // metadata is an ObjectMeta for custom resources too: pruned and type-checked as such.
    auto checked = api::checkAndPrune(
        meta->as_object(), api::FieldSchemas::builtin().root(kObjectMeta), api::Decoding::Json);
    if (checked.typeError) throw api::DecodeError(info.kind, info.version, *checked.typeError);
    for (auto& f : checked.unknown) pruned.push_back("metadata." + f);
  }
  return pruned;
}

}  // namespace skiff::apiserver
