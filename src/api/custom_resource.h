// What a CustomResourceDefinition says about one served version of its resource, attached to
// the registry entry (ResourceInfo::custom) so the generic store, Table output and the scale
// subresource treat custom resources the way upstream's apiextensions-apiserver does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/structural_schema.h"

namespace skiff::api {

// The finalizer a CRD's DELETE adds: its objects are deleted before the CRD goes.
inline constexpr const char* kCrdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

// spec.versions[].additionalPrinterColumns[]
struct PrinterColumn {
  std::string name, type, format, description, jsonPath;
  int priority = 0;
};

struct CustomResourceBehavior {
  std::string crdName;  // "widgets.example.com"
  std::shared_ptr<const StructuralNode> schema;
  boost::json::object schemaJson;  // the openAPIV3Schema as written (for /openapi/v3)
  std::shared_ptr<const ApplySchema> applySchema;  // for field sets and server-side apply
  std::vector<PrinterColumn> columns;
  // The scale subresource's JSON paths (".spec.replicas"); empty when not enabled.
  std::string specReplicasPath, statusReplicasPath, labelSelectorPath;
  bool terminating = false;  // the CRD is being deleted: no new objects
};

}  // namespace skiff::api
