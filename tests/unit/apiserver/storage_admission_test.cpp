// The storage admission plugins (DefaultStorageClass, StorageObjectInUseProtection,
// PersistentVolumeClaimResize) and the claim/class validation they lean on, with upstream's
// messages.
#include "apiserver/storage_admission.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/validation.h"
#include "common/api_error.h"

namespace skiff::apiserver::storageadmission {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

ClassPtr cls(std::string_view body) { return std::make_shared<const json::object>(parse(body)); }

const char* kClaim = R"({"metadata":{"name":"c","namespace":"ns"},"spec":{
  "accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})";

TEST(DefaultStorageClass, NewestDefaultOnlyForClaimsWithoutAClass) {
  std::vector<ClassPtr> classes{
      cls(R"({"metadata":{"name":"old","creationTimestamp":"2026-01-01T00:00:00Z",
          "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}})"),
      cls(R"({"metadata":{"name":"new","creationTimestamp":"2026-02-01T00:00:00Z",
          "annotations":{"storageclass.beta.kubernetes.io/is-default-class":"true"}}})"),
      cls(R"({"metadata":{"name":"plain","creationTimestamp":"2026-03-01T00:00:00Z"}})")};
  auto claim = parse(kClaim);
  setDefaultClass(claim, classes);
  EXPECT_EQ(claim.at("spec").at("storageClassName").as_string(), "new");
  // "" means "no class" and is kept; so is a class the client chose.
  auto none = parse(kClaim);
  none["spec"].as_object()["storageClassName"] = "";
  setDefaultClass(none, classes);
  EXPECT_EQ(none.at("spec").at("storageClassName").as_string(), "");
  auto noDefault = parse(kClaim);
  setDefaultClass(noDefault, {classes[2]});
  EXPECT_FALSE(noDefault.at("spec").as_object().contains("storageClassName"));
}

TEST(StorageObjectInUseProtection, FinalizerAddedOnce) {
  auto claim = parse(kClaim);
  addProtectionFinalizer(claim, "kubernetes.io/pvc-protection");
  addProtectionFinalizer(claim, "kubernetes.io/pvc-protection");
  EXPECT_EQ(json::serialize(claim.at("metadata").at("finalizers")),
            R"(["kubernetes.io/pvc-protection"])");
}

std::string resizeError(const json::object& claim, const json::object& old, const ClassPtr& sc) {
  try {
    checkResize(claim, old, [&](const std::string&) { return sc; });
  } catch (const ApiError& e) {
    return std::to_string(e.code()) + " " + e.what();
  }
  return "";
}

TEST(PersistentVolumeClaimResize, OnlyBoundClaimsOfExpandableClasses) {
  auto old = parse(kClaim);
  old["spec"].as_object()["storageClassName"] = "lp";
  old["status"] = {{"phase", "Bound"}};
  auto grown = old;
  grown["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "2Gi";
  auto expandable = cls(R"({"metadata":{"name":"lp"},"allowVolumeExpansion":true})");
  auto fixed = cls(R"({"metadata":{"name":"lp"}})");
  EXPECT_EQ(resizeError(grown, old, expandable), "");
  EXPECT_EQ(resizeError(grown, old, fixed),
            "403 persistentvolumeclaims \"c\" is forbidden: only dynamically provisioned pvc can "
            "be resized and the storageclass that provisions the pvc must support resize");
  EXPECT_EQ(resizeError(grown, old, nullptr).substr(0, 3), "403");
  auto pending = old;
  pending["status"] = {{"phase", "Pending"}};
  EXPECT_EQ(resizeError(grown, pending, expandable),
            "403 persistentvolumeclaims \"c\" is forbidden: Only bound persistent volume claims "
            "can be expanded");
  EXPECT_EQ(resizeError(old, old, fixed), "") << "no growth, nothing to check";
}

std::string causeFor(const std::vector<StatusCause>& causes, std::string_view field) {
  for (const auto& c : causes)
    if (c.field == field) return c.message;
  return "<none>";
}

TEST(PersistentVolumeClaimValidation, UpdateRules) {
  auto old = parse(kClaim);
  old["spec"].as_object()["storageClassName"] = "lp";
  old["spec"].as_object()["volumeName"] = "pv1";
  old["status"] = {{"phase", "Bound"}, {"capacity", {{"storage", "1Gi"}}}};
  auto shrunk = old;
  shrunk["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "500Mi";
  EXPECT_EQ(causeFor(api::validateObject("", "PersistentVolumeClaim", shrunk, &old),
                     "spec.resources.requests.storage"),
            "Forbidden: field can not be less than status.capacity");
  auto grown = old;
  grown["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "5Gi";
  for (auto& c : api::validateObject("", "PersistentVolumeClaim", grown, &old))
    ADD_FAILURE() << c.field << ": " << c.message;
  auto modes = old;
  modes["spec"].as_object()["accessModes"] = json::array{"ReadWriteMany"};
  EXPECT_EQ(
      causeFor(api::validateObject("", "PersistentVolumeClaim", modes, &old), "spec").substr(0, 40),
      "Forbidden: spec is immutable after creat");
  // Unbound claims cannot change their request; the binder may set volumeName once and the
  // default class on a claim that had none.
  auto unbound = parse(kClaim);
  auto set = unbound;
  set["spec"].as_object()["volumeName"] = "pv1";
  set["spec"].as_object()["storageClassName"] = "std";
  EXPECT_TRUE(api::validateObject("", "PersistentVolumeClaim", set, &unbound).empty());
  auto resized = unbound;
  resized["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "2Gi";
  EXPECT_NE(causeFor(api::validateObject("", "PersistentVolumeClaim", resized, &unbound), "spec"),
            "<none>");
}

TEST(StorageClassValidation, RecycleRefusedAndFieldsImmutable) {
  auto sc = parse(R"({"metadata":{"name":"s"},"provisioner":"x","reclaimPolicy":"Recycle"})");
  EXPECT_EQ(
      causeFor(api::validateObject("storage.k8s.io", "StorageClass", sc, nullptr), "reclaimPolicy"),
      "Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"");
  auto a = parse(R"({"metadata":{"name":"s"},"provisioner":"x"})");
  auto b = parse(R"({"metadata":{"name":"s"},"provisioner":"y"})");
  EXPECT_EQ(causeFor(api::validateObject("storage.k8s.io", "StorageClass", b, &a), "provisioner"),
            "Forbidden: updates to provisioner are forbidden.");
}

}  // namespace
}  // namespace skiff::apiserver::storageadmission
