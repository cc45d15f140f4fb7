// Strategic merge patch (application/strategic-merge-patch+json): upstream's JSON merge patch
// variant where lists declared with x-kubernetes-patch-strategy "merge" merge element-wise
// (by x-kubernetes-patch-merge-key for objects, as sets for scalars) and the directives
// $patch, $retainKeys, $setElementOrder/<list> and $deleteFromPrimitiveList/<list> apply.
// kubectl apply, edit, label, annotate, scale, set image and rollout restart send these.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

// A position in an OpenAPI v2 `definitions` document that knows where patch metadata lives.
// Cheap to copy; it points into the definitions, which must outlive it. An unknown schema
// (no definitions, unknown root or field) gives no metadata: maps merge, lists are replaced.
class PatchSchema {
 public:
  struct FieldMeta {
    std::vector<std::string> patchStrategies;  // x-kubernetes-patch-strategy, split on ','
    std::string patchMergeKey;                 // x-kubernetes-patch-merge-key
    std::string listType;                      // x-kubernetes-list-type (informational)
    std::vector<std::string> listMapKeys;      // x-kubernetes-list-map-keys (informational)
  };

  PatchSchema() = default;
  // rootDefinition is a definitions key, e.g. "io.k8s.api.apps.v1.Deployment".
  PatchSchema(const boost::json::object* definitions, std::string rootDefinition);

  // Schema of member `name` of this object schema (a property, or the value schema of a map
  // with additionalProperties); fills `meta` with that member's patch metadata if given.
  PatchSchema field(std::string_view name, FieldMeta* meta = nullptr) const;
  // Schema of the elements of this array schema.
  PatchSchema items() const;
  bool known() const { return node_ != nullptr; }
  // The definition this schema came from, for error messages ("" when unknown).
  const std::string& name() const { return name_; }

 private:
  PatchSchema(const boost::json::object* definitions, const boost::json::object* node,
              std::string name);
  // Follows $ref (and a leading allOf) to the schema that has the properties.
  const boost::json::object* resolve(const boost::json::object* node, std::string& name) const;

  const boost::json::object* definitions_ = nullptr;
  const boost::json::object* node_ = nullptr;  // already resolved
  std::string name_;
};

// Applies `patch` to `original` (both JSON objects; a null patch changes nothing) and returns
// the result with no directive keys left in it. Errors, as upstream's apiserver reports them:
// malformed directives (bad $retainKeys/$setElementOrder format, non-object patch) -> 400
// BadRequest; lists of lists -> PatchApplyError (422 Invalid); other failures (missing merge
// key, unknown $patch value, mixed element types) -> 500 with the upstream message.
boost::json::value applyStrategicMergePatch(const boost::json::value& original,
                                            const boost::json::value& patch,
                                            const PatchSchema& schema);

}  // namespace skiff::api
