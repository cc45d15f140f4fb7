// The OpenAPI documents skiff serves: the processed swagger 2.0 document embedded from
// data/openapi-v2.json (scripts/gen-openapi.py makes it) and, derived from it, the
// OpenAPI 3.0 documents per group-version that kubectl 1.32 reads (/openapi/v3) to decide
// server-side field validation, to build strategic merge patches and for `kubectl explain`.
#pragma once

#include <boost/json/fwd.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

class OpenApi {
 public:
  // Parsed once (thread-safe) from the embedded "openapi_v2" file. Throws if it is invalid.
  static const OpenApi& instance();

  // Parses a swagger 2.0 document; throws std::invalid_argument if it is not one.
  explicit OpenApi(std::string_view v2Document);
  ~OpenApi();
  OpenApi(const OpenApi&) = delete;
  OpenApi& operator=(const OpenApi&) = delete;

  // The swagger `definitions` ("io.k8s.api.apps.v1.Deployment" -> schema).
  const boost::json::object& definitions() const;

  // "io.k8s.api.apps.v1.Deployment" for ("apps", "v1", "Deployment"); the core group is "".
  // Found through x-kubernetes-group-version-kind. nullopt if no definition declares it.
  std::optional<std::string> definitionFor(std::string_view group, std::string_view version,
                                           std::string_view kind) const;

  // The whole v2 document, serialized (what /openapi/v2 answers).
  const std::string& v2Json() const;

  // Group-version paths that have a v3 document: "api/v1", "apis/apps/v1", ... (sorted).
  const std::vector<std::string>& v3GroupVersions() const;

  // /openapi/v3: {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=H"},...}}.
  // Building it builds (and caches) every group-version document, since H hashes content.
  const std::string& v3RootJson() const;

  // The OpenAPI 3.0 document for one group-version path ("api/v1", "apis/apps/v1"); nullptr
  // if unknown. Built on first use and cached for the object's lifetime (thread-safe).
  const std::string* v3GroupVersionJson(std::string_view gvPath) const;

  // Upper-case hex content hash of that document (used in serverRelativeURL and as the
  // ETag); empty if gvPath is unknown. Deterministic across runs and builds.
  std::string v3Hash(std::string_view gvPath) const;

  // The OpenAPI 3.0 document for a group-version served outside the built-in document (custom
  // resources): `paths` and `definitions` in swagger 2.0 form, resolved against the built-in
  // definitions and parameters (ObjectMeta, ListMeta, query parameters).
  std::string v3DocumentWith(const boost::json::object& paths,
                             const boost::json::object& definitions, std::string_view gvPath) const;
  // The built-in v2 path item of `path` (a template for paths of custom resources), or null.
  const boost::json::object* v2PathItem(std::string_view path) const;
  // The content hash used for v3 documents.
  static std::string hashOf(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::api
