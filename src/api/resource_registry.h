// The resource registry: one table describing every served resource. Discovery, routing,
// storage keys, kubectl api-resources and (later) RBAC all read it. Adding a kind is one
// entry here plus its kind-specific hooks (defaults, validation, table printer). Custom
// resources (CustomResourceDefinitions) join and leave a server's registry while it serves.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

struct CustomResourceBehavior;  // api/custom_resource.h

struct SubresourceInfo {
  std::string name;  // "status", "scale", "binding", "eviction", ...
  // The kind the subresource speaks (e.g. deployments/scale → autoscaling/v1 Scale).
  std::string group, version, kind;
  std::vector<std::string> verbs;
};

struct ResourceInfo {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  std::vector<SubresourceInfo> subresources;
  // metadata.generation is maintained (bumped on spec changes).
  bool tracksGeneration = false;
  // A DELETE that removes the object at once answers with the object (upstream's
  // ReturnDeletedObject); otherwise with a Success Status naming it.
  bool returnsDeletedObject = false;
  // Fields usable in fieldSelector beyond metadata.name / metadata.namespace.
  std::vector<std::string> selectableFields;
  // Set when another served version holds this resource's storage (objects are converted
  // at the API boundary, see api/conversion.h): its group and version here, resolved by the
  // registry into `storage`.
  std::string storedAsGroup, storedAsVersion;
  const ResourceInfo* storage = nullptr;
  // Set for a custom resource: its CRD's schema, printer columns and subresource paths.
  std::shared_ptr<const CustomResourceBehavior> custom;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string listKind() const { return kind + "List"; }
  // "pods", "deployments.apps": how upstream names the resource in messages.
  std::string qualifiedResource() const { return group.empty() ? plural : plural + "." + group; }
  // "/registry/<group or core>/<plural>/": every version of a resource shares it.
  std::string storagePrefix() const;
  const SubresourceInfo* subresource(std::string_view name) const;
  // The entry whose version is stored: `storage` or this one.
  const ResourceInfo& storageInfo() const { return storage ? *storage : *this; }
  bool hasStatus() const { return subresource("status") != nullptr; }
  // A core-group resource with this plural ("pods", "namespaces", ...).
  bool isCore(std::string_view pluralName) const { return group.empty() && plural == pluralName; }
};

struct GroupVersion {
  std::string group, version;
  bool custom = false;  // served for a CustomResourceDefinition
};

class ResourceRegistry {
 public:
  // The built-in resources of Kubernetes v1.32 that skiff serves.
  static const ResourceRegistry& builtin();
  // A registry of its own with the built-in resources, to which a server adds custom ones.
  static std::unique_ptr<ResourceRegistry> withBuiltins();

  // The built-in resources (what the registry was constructed with).
  const std::vector<ResourceInfo>& all() const { return resources_; }
  // Built-in group-versions in discovery order (core first, then groups by upstream priority).
  const std::vector<GroupVersion>& groupVersions() const { return groupVersions_; }

  // Every resource served now: built-in, then custom ones by owner.
  std::vector<const ResourceInfo*> served() const;
  // Built-in group-versions, then those of custom resources (in owner order).
  std::vector<GroupVersion> servedGroupVersions() const;
  // Replaces the custom resources of `owner` (a CRD's name; empty `resources` removes them).
  // Non-storage versions are resolved to the entry of the version whose `storedAsVersion`
  // they name. Entries stay allocated while the registry lives: a request that found one
  // may still use it after its CRD changed.
  void setCustom(const std::string& owner, std::vector<ResourceInfo> resources);
  // Bumped by every setCustom: discovery and OpenAPI caches compare it.
  uint64_t generation() const;
  // Preferred version per group (first version listed for it).
  std::string preferredVersion(std::string_view group) const;

  const ResourceInfo* find(std::string_view group, std::string_view version,
                           std::string_view plural) const;
  const ResourceInfo* findKind(std::string_view group, std::string_view version,
                               std::string_view kind) const;

  explicit ResourceRegistry(std::vector<ResourceInfo> resources);
  // Entries point at each other (`storage`): not copyable.
  ResourceRegistry(const ResourceRegistry&) = delete;
  ResourceRegistry& operator=(const ResourceRegistry&) = delete;

 private:
  const ResourceInfo* findCustom(std::string_view group, std::string_view version,
                                 std::string_view plural, std::string_view kind) const;

  std::vector<ResourceInfo> resources_;
  std::vector<GroupVersion> groupVersions_;
  mutable std::shared_mutex customMu_;
  std::map<std::string, std::shared_ptr<std::vector<ResourceInfo>>> custom_;
  std::vector<std::shared_ptr<std::vector<ResourceInfo>>> retired_;
  uint64_t generation_ = 0;
};

}  // namespace skiff::api
