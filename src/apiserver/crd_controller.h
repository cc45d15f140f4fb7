// CustomResourceDefinitions inside the API server (upstream's apiextensions-apiserver
// controllers, in one thread):
//   - serving: every CRD's served versions join the server's registry (routing, discovery,
//     OpenAPI, the watch cache follow it) with the version's compiled schema, printer columns
//     and subresources; a deleted CRD's resources leave it;
//   - naming and establishing: status.acceptedNames, NamesAccepted and Established
//     conditions, status.storedVersions;
//   - finalizing: a deleted CRD (its DELETE added the customresourcecleanup finalizer and the
//     Terminating condition) first loses all its objects, then the finalizer.
// It runs once synchronously at start, so objects of existing CRDs are served from the first
// request, then on every change of a CRD and every second while one is terminating.
#pragma once

#include <memory>

#include "api/custom_resource.h"
#include "api/resource_registry.h"

namespace skiff::apiserver {

class ResourceStore;

using api::kCrdCleanupFinalizer;  // added by a CRD's DELETE (api/kinds/crd.cpp)

class CrdController {
 public:
  CrdController(ResourceStore& resources, api::ResourceRegistry& registry);
  ~CrdController();
  // Registers the resources of the CRDs stored now, then follows changes on a thread.
  void start();
  void stop();
  // One pass over every CRD (tests).
  void syncOnce();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
