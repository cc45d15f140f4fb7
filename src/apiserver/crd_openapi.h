// /openapi/v3 documents of custom resources' group-versions ("apis/example.com/v1"), built
// from the registry's custom entries as upstream's CRD OpenAPI builder does: one schema per
// kind named by the reversed group ("com.example.v1.Widget") with the CRD's schema plus
// apiVersion, kind and metadata, its List, and the resource's paths (taken from a built-in
// resource of the same scope, so every operation lists the same query parameters —
// kubectl checks the PATCH operation for fieldValidation). `kubectl explain` reads them.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/resource_registry.h"

namespace skiff::apiserver {

class CustomOpenApi {
 public:
  explicit CustomOpenApi(const api::ResourceRegistry& registry) : registry_(registry) {}

  struct Document {
    std::string json, hash;
  };
  // The document of a custom group-version path; null when none of its resources is custom.
  std::shared_ptr<const Document> document(std::string_view gvPath);
  // The /openapi/v3 root with the custom group-versions added to `builtinRoot`'s paths.
  std::string root(const std::string& builtinRoot);

 private:
  std::vector<std::string> customGroupVersions() const;

  const api::ResourceRegistry& registry_;
  std::mutex mu_;
  uint64_t generation_ = ~uint64_t{0};
  std::vector<std::pair<std::string, std::shared_ptr<const Document>>> cache_;
};

}  // namespace skiff::apiserver
