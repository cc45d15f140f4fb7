#include "api/unknown_fields.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

#include "api/openapi.h"

namespace json = boost::json;
using skiff::api::OpenApi;
using skiff::api::pruneUnknownFields;

namespace {

std::vector<std::string> prune(json::object& pod) {
  const auto& openapi = OpenApi::instance();
  auto def = openapi.definitionFor("", "v1", "Pod");
  EXPECT_TRUE(def.has_value());
  return pruneUnknownFields(pod, openapi.definitions(), *def);
}

}  // namespace

TEST(UnknownFields, PathsNameRootNestedListAndMapFields) {
  json::object pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod", "bogus": 1,
    "metadata": {"name": "p", "labels": {"a": "b"}, "extra": true},
    "spec": {"containers": [
      {"name": "c", "image": "busybox:1.36"},
      {"name": "d", "image": "busybox:1.36", "typo": "x", "resources": {"limits": {"cpu": "1"}, "nope": {}}}
    ]}
  })").as_object();
  auto unknown = prune(pod);
  // (Erasing a member moves the object's last member into its place, so the walk order and
  // with it the order of the paths is not the document's.)
  std::sort(unknown.begin(), unknown.end());
  std::vector<std::string> want = {"bogus", "metadata.extra", "spec.containers[1].resources.nope",
                                   "spec.containers[1].typo"};
  EXPECT_EQ(unknown, want);
  // Unknown fields are gone, known ones (map values included) stay.
  EXPECT_FALSE(pod.contains("bogus"));
  EXPECT_FALSE(pod.at("metadata").as_object().contains("extra"));
  const auto& second = pod.at("spec").at("containers").as_array()[1].as_object();
  EXPECT_FALSE(second.contains("typo"));
  EXPECT_EQ(second.at("resources").at("limits").at("cpu"), "1");
  EXPECT_EQ(pod.at("metadata").at("labels").at("a"), "b");
}

TEST(UnknownFields, DropsWhatAGoRoundTripOmitsButKeepsEmptyStructs) {
  json::object pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}, "finalizers": []},
    "spec": {"nodeName": null, "containers": [{"name": "c", "image": "i"}],
             "volumes": [{"name": "v", "emptyDir": {}}]}
  })").as_object();
  EXPECT_TRUE(prune(pod).empty());
  EXPECT_FALSE(pod.at("metadata").as_object().contains("labels"));
  EXPECT_FALSE(pod.at("metadata").as_object().contains("finalizers"));
  EXPECT_FALSE(pod.at("spec").as_object().contains("nodeName"));
  EXPECT_TRUE(pod.at("spec").at("volumes").as_array()[0].as_object().contains("emptyDir"));
}
