#include "api/openapi.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>

namespace skiff::api {
namespace {
namespace json = boost::json;

const OpenApi& api() { return OpenApi::instance(); }

json::object parseDoc(const std::string* text) {
  EXPECT_NE(text, nullptr);
  return text ? json::parse(*text).as_object() : json::object{};
}

// Every "$ref" below v, collected with the path where it was found.
void collectRefs(const json::value& v, std::set<std::string>& refs) {
  if (v.is_object()) {
    for (const auto& [k, sub] : v.as_object()) {
      if (k == "$ref" && sub.is_string())
        refs.emplace(sub.as_string());
      else
        collectRefs(sub, refs);
    }
  } else if (v.is_array()) {
    for (const auto& sub : v.as_array()) collectRefs(sub, refs);
  }
}

// Finds `description` keywords; keys of a `properties` map are field names, not keywords
// (scheduling.k8s.io PriorityClass has a field called description).
bool hasDescriptionKeyword(const json::value& v, bool inPropertiesMap = false) {
  if (v.is_object()) {
    for (const auto& [k, sub] : v.as_object()) {
      if (k == "description" && !inPropertiesMap) return true;
      if (hasDescriptionKeyword(sub, k == "properties" && !inPropertiesMap)) return true;
    }
  } else if (v.is_array()) {
    for (const auto& sub : v.as_array())
      if (hasDescriptionKeyword(sub)) return true;
  }
  return false;
}

bool isString(const json::value& v, std::string_view s) {
  return v.is_string() && std::string_view(v.as_string()) == s;
}

bool hasGvk(const json::object& o, std::string_view group, std::string_view version,
            std::string_view kind) {
  const json::value* g = o.if_contains("x-kubernetes-group-version-kind");
  auto matches = [&](const json::value& e) {
    const auto& m = e.as_object();
    return isString(m.at("group"), group) && isString(m.at("version"), version) &&
           isString(m.at("kind"), kind);
  };
  if (!g) return false;
  if (g->is_object()) return matches(*g);
  for (const auto& e : g->as_array())
    if (matches(e)) return true;
  return false;
}

TEST(OpenApi, EmbeddedDefinitionsLoad) {
  auto start = std::chrono::steady_clock::now();
  const auto& defs = api().definitions();
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  RecordProperty("parse_ms", std::to_string(ms.count()));
  EXPECT_GT(defs.size(), 300u);
  EXPECT_TRUE(defs.contains("io.k8s.api.apps.v1.Deployment"));
  EXPECT_TRUE(defs.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  // Kinds skiff does not serve are not carried.
  EXPECT_TRUE(defs.contains("io.k8s.api.certificates.v1.CertificateSigningRequest"));
  EXPECT_FALSE(defs.contains("io.k8s.api.resource.v1.ResourceClaim"));
}

TEST(OpenApi, DefinitionForKnownKinds) {
  EXPECT_EQ(api().definitionFor("apps", "v1", "Deployment"), "io.k8s.api.apps.v1.Deployment");
  EXPECT_EQ(api().definitionFor("", "v1", "Pod"), "io.k8s.api.core.v1.Pod");
  EXPECT_EQ(api().definitionFor("", "v1", "ConfigMapList"), "io.k8s.api.core.v1.ConfigMapList");
  EXPECT_EQ(api().definitionFor("rbac.authorization.k8s.io", "v1", "ClusterRole"),
            "io.k8s.api.rbac.v1.ClusterRole");
  EXPECT_EQ(api().definitionFor("autoscaling", "v2", "HorizontalPodAutoscaler"),
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler");
  EXPECT_EQ(api().definitionFor("coordination.k8s.io", "v1", "Lease"),
            "io.k8s.api.coordination.v1.Lease");
  EXPECT_EQ(api().definitionFor("apps", "v1", "DeleteOptions"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
}

TEST(OpenApi, DefinitionForUnknownKindIsEmpty) {
  EXPECT_EQ(api().definitionFor("apps", "v1", "Pod"), std::nullopt);
  EXPECT_EQ(api().definitionFor("", "v1", "Deployment"), std::nullopt);
  EXPECT_EQ(api().definitionFor("networking.k8s.io", "v1", "ServiceCIDR"), std::nullopt);
}

TEST(OpenApi, V2HasPatchMetadataAndNoPost132Fields) {
  const auto& defs = api().definitions();
  const auto& podSpec =
      defs.at("io.k8s.api.core.v1.PodSpec").as_object().at("properties").as_object();
  const auto& containers = podSpec.at("containers").as_object();
  EXPECT_EQ(containers.at("x-kubernetes-patch-merge-key"), "name");
  EXPECT_EQ(containers.at("x-kubernetes-patch-strategy"), "merge");
  EXPECT_EQ(containers.at("x-kubernetes-list-type"), "map");
  const auto& depStatus =
      defs.at("io.k8s.api.apps.v1.DeploymentStatus").as_object().at("properties").as_object();
  EXPECT_TRUE(depStatus.contains("replicas"));
  EXPECT_FALSE(depStatus.contains("terminatingReplicas"));  // added in v1.33
}

TEST(OpenApi, V2DocumentHasNoDescriptions) {
  json::value v2 = json::parse(api().v2Json());
  EXPECT_FALSE(hasDescriptionKeyword(v2));
  EXPECT_EQ(v2.at("swagger"), "2.0");
}

TEST(OpenApi, V3RootListsEveryGroupVersionWithHash) {
  json::object root = json::parse(api().v3RootJson()).as_object();
  const auto& paths = root.at("paths").as_object();
  const char* expected[] = {"api/v1",
                            "apis/apps/v1",
                            "apis/batch/v1",
                            "apis/autoscaling/v1",
                            "apis/autoscaling/v2",
                            "apis/coordination.k8s.io/v1",
                            "apis/discovery.k8s.io/v1",
                            "apis/events.k8s.io/v1",
                            "apis/scheduling.k8s.io/v1",
                            "apis/storage.k8s.io/v1",
                            "apis/policy/v1",
                            "apis/networking.k8s.io/v1",
                            "apis/rbac.authorization.k8s.io/v1",
                            "apis/authorization.k8s.io/v1",
                            "apis/authentication.k8s.io/v1",
                            "apis/apiregistration.k8s.io/v1",
                            "apis/apiextensions.k8s.io/v1",
                            "apis/certificates.k8s.io/v1"};
  EXPECT_EQ(paths.size(), std::size(expected));
  for (const char* gv : expected) {
    SCOPED_TRACE(gv);
    ASSERT_TRUE(paths.contains(gv));
    std::string url(paths.at(gv).at("serverRelativeURL").as_string());
    std::string hash = api().v3Hash(gv);
    EXPECT_EQ(hash.size(), 32u);
    EXPECT_EQ(url, "/openapi/v3/" + std::string(gv) + "?hash=" + hash);
    EXPECT_EQ(hash.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  }
}

TEST(OpenApi, V3UnknownGroupVersionIsNull) {
  EXPECT_EQ(api().v3GroupVersionJson("apis/apps/v1beta1"), nullptr);
  EXPECT_EQ(api().v3GroupVersionJson("apis/resource.k8s.io/v1"), nullptr);
  EXPECT_EQ(api().v3Hash("apis/nope/v1"), "");
}

TEST(OpenApi, V3AppsDeploymentPatchHasInlineFieldValidationAndGvk) {
  json::object doc = parseDoc(api().v3GroupVersionJson("apis/apps/v1"));
  EXPECT_EQ(doc.at("openapi"), "3.0.0");
  const auto& patch = doc.at("paths")
                          .at("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
                          .at("patch")
                          .as_object();
  EXPECT_TRUE(hasGvk(patch, "apps", "v1", "Deployment"));
  bool fieldValidation = false;
  for (const auto& p : patch.at("parameters").as_array()) {
    EXPECT_FALSE(p.as_object().contains("$ref"));
    if (isString(p.at("name"), "fieldValidation")) {
      fieldValidation = true;
      EXPECT_EQ(p.at("in"), "query");
      EXPECT_EQ(p.at("schema").at("type"), "string");
    }
  }
  EXPECT_TRUE(fieldValidation);
  const auto& body = patch.at("requestBody").at("content").as_object();
  for (const char* mt : {"application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json", "application/apply-patch+yaml"})
    EXPECT_TRUE(body.contains(mt)) << mt;
  const auto& ok = patch.at("responses").at("200").at("content").as_object();
  EXPECT_EQ(ok.at("application/json").at("schema").at("$ref"),
            "#/components/schemas/io.k8s.api.apps.v1.Deployment");
  EXPECT_TRUE(ok.contains("application/yaml"));
  EXPECT_TRUE(ok.contains("application/vnd.kubernetes.protobuf"));
  EXPECT_FALSE(ok.contains("application/cbor"));
}

TEST(OpenApi, V3ListOperationsOfferWatchStreams) {
  json::object doc = parseDoc(api().v3GroupVersionJson("apis/apps/v1"));
  const auto& list =
      doc.at("paths").at("/apis/apps/v1/namespaces/{namespace}/deployments").at("get");
  const auto& content = list.at("responses").at("200").at("content").as_object();
  EXPECT_TRUE(content.contains("application/json;stream=watch"));
  EXPECT_TRUE(content.contains("application/vnd.kubernetes.protobuf;stream=watch"));
  // Shared list parameters are inlined.
  std::set<std::string> names;
  for (const auto& p : list.at("parameters").as_array()) names.emplace(p.at("name").as_string());
  EXPECT_TRUE(names.count("labelSelector"));
  EXPECT_TRUE(names.count("watch"));
  EXPECT_FALSE(names.count("shardSelector"));  // newer than v1.32
}

TEST(OpenApi, V3KindSchemasCarryGvkAndWrapFieldRefs) {
  json::object doc = parseDoc(api().v3GroupVersionJson("apis/apps/v1"));
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& dep = schemas.at("io.k8s.api.apps.v1.Deployment").as_object();
  EXPECT_TRUE(hasGvk(dep, "apps", "v1", "Deployment"));
  const auto& spec = dep.at("properties").at("spec").as_object();
  EXPECT_EQ(spec.at("allOf").at(0).at("$ref"),
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec");
  // Patch metadata stays beside the wrapped ref, where kubectl's strategic merge reads it.
  const auto& strategy =
      schemas.at("io.k8s.api.apps.v1.DeploymentSpec").at("properties").at("strategy").as_object();
  EXPECT_EQ(strategy.at("x-kubernetes-patch-strategy"), "retainKeys");
  EXPECT_TRUE(strategy.contains("allOf"));
  const auto& replicas =
      schemas.at("io.k8s.api.apps.v1.DeploymentSpec").at("properties").at("replicas").as_object();
  EXPECT_EQ(replicas.at("type"), "integer");
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.PodSpec"));  // via the pod template
}

// For every served group-version: refs resolve, no prose, and every PATCH operation lists
// an inline fieldValidation (kubectl picks one PATCH op per kind at random map order).
TEST(OpenApi, V3EveryGroupVersionIsSelfContainedAndValidatesServerSide) {
  for (const auto& gv : api().v3GroupVersions()) {
    SCOPED_TRACE(gv);
    json::object doc = parseDoc(api().v3GroupVersionJson(gv));
    const auto& schemas = doc.at("components").at("schemas").as_object();
    std::set<std::string> refs;
    collectRefs(doc, refs);
    EXPECT_FALSE(refs.empty());
    for (const auto& ref : refs) {
      const std::string prefix = "#/components/schemas/";
      ASSERT_EQ(ref.rfind(prefix, 0), 0u) << ref;
      EXPECT_TRUE(schemas.contains(ref.substr(prefix.size()))) << "dangling " << ref;
    }
    EXPECT_FALSE(hasDescriptionKeyword(doc));
    size_t patches = 0;
    for (const auto& [path, item] : doc.at("paths").as_object()) {
      const json::value* patch = item.as_object().if_contains("patch");
      if (!patch || !patch->as_object().contains("x-kubernetes-group-version-kind")) continue;
      // Proxy "connect" operations carry *ProxyOptions kinds and no options, as upstream.
      if (isString(patch->at("x-kubernetes-action"), "connect")) continue;
      ++patches;
      bool found = false;
      for (const auto& p : patch->at("parameters").as_array())
        found |= isString(p.at("name"), "fieldValidation");
      EXPECT_TRUE(found) << path;
    }
    if (gv != "apis/authorization.k8s.io/v1" && gv != "apis/authentication.k8s.io/v1") {
      EXPECT_GT(patches, 0u);
    }
  }
}

TEST(OpenApi, V3CoreGroupHasPodsAndNoNewerResources) {
  json::object core = parseDoc(api().v3GroupVersionJson("api/v1"));
  EXPECT_TRUE(core.at("paths").as_object().contains("/api/v1/namespaces/{namespace}/pods/{name}"));
  json::object net = parseDoc(api().v3GroupVersionJson("apis/networking.k8s.io/v1"));
  for (const auto& [path, item] : net.at("paths").as_object())
    EXPECT_EQ(std::string(path).find("servicecidrs"), std::string::npos) << path;
}

TEST(OpenApi, V3HashIsDeterministic) {
  const std::string v2 = api().v2Json();
  OpenApi a(v2), b(v2);
  for (const char* gv : {"api/v1", "apis/apps/v1", "apis/batch/v1"}) {
    EXPECT_EQ(a.v3Hash(gv), b.v3Hash(gv));
    EXPECT_EQ(a.v3Hash(gv), api().v3Hash(gv));
    EXPECT_EQ(*a.v3GroupVersionJson(gv), *b.v3GroupVersionJson(gv));
  }
  EXPECT_EQ(a.v3RootJson(), b.v3RootJson());
  EXPECT_NE(a.v3Hash("api/v1"), a.v3Hash("apis/apps/v1"));
}

TEST(OpenApi, SmallDocumentConvertsBodyAndSharedParameters) {
  OpenApi small(R"({"swagger":"2.0","info":{"title":"t","version":"v"},
    "parameters":{"pretty-x":{"in":"query","name":"pretty","type":"string","uniqueItems":true}},
    "paths":{"/apis/example.com/v1/widgets":{
      "parameters":[{"$ref":"#/parameters/pretty-x"}],
      "post":{"consumes":["*/*"],"produces":["application/json"],"operationId":"createWidget",
        "parameters":[{"in":"body","name":"body","required":true,"schema":{"$ref":"#/definitions/W"}}],
        "responses":{"201":{"schema":{"$ref":"#/definitions/W"}},"401":{}},
        "x-kubernetes-group-version-kind":{"group":"example.com","version":"v1","kind":"Widget"}}}},
    "definitions":{"W":{"type":"object","properties":{"inner":{"$ref":"#/definitions/I"},
        "items":{"type":"array","items":{"$ref":"#/definitions/I"}}},
        "x-kubernetes-group-version-kind":[{"group":"example.com","version":"v1","kind":"Widget"}]},
      "I":{"type":"string"},"Unused":{"type":"object"}}})");
  EXPECT_EQ(small.definitionFor("example.com", "v1", "Widget"), "W");
  json::object doc = parseDoc(small.v3GroupVersionJson("apis/example.com/v1"));
  const auto& item = doc.at("paths").at("/apis/example.com/v1/widgets").as_object();
  EXPECT_EQ(item.at("parameters").at(0).at("schema").at("type"), "string");
  EXPECT_EQ(item.at("parameters").at(0).at("name"), "pretty");
  const auto& post = item.at("post").as_object();
  EXPECT_FALSE(post.contains("parameters"));
  EXPECT_FALSE(post.contains("consumes"));
  EXPECT_EQ(post.at("requestBody").at("required"), true);
  EXPECT_EQ(post.at("requestBody").at("content").at("*/*").at("schema").at("$ref"),
            "#/components/schemas/W");
  EXPECT_TRUE(post.at("responses").at("401").as_object().empty());
  const auto& schemas = doc.at("components").at("schemas").as_object();
  EXPECT_EQ(schemas.size(), 2u);  // W and I; Unused is not reachable
  const auto& w = schemas.at("W").at("properties").as_object();
  EXPECT_EQ(w.at("inner").at("allOf").at(0).at("$ref"), "#/components/schemas/I");
  EXPECT_EQ(w.at("items").at("items").at("$ref"), "#/components/schemas/I");
}

TEST(OpenApi, RejectsNonObjectDocument) {
  EXPECT_THROW(OpenApi("[1,2]"), std::invalid_argument);
  EXPECT_THROW(OpenApi("{not json"), std::invalid_argument);
}

}  // namespace
}  // namespace skiff::api
