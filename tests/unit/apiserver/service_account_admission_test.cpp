// ServiceAccount admission (service_account_admission.h): the default account, the
// kube-api-access volume and mounts, automount opt-outs, mirror pods, mountable secrets.
#include "apiserver/service_account_admission.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "common/api_error.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class ServiceAccountAdmissionTest : public ::testing::Test {
 protected:
  std::map<std::string, json::object> accounts{
      {"ns/default", json::object{{"metadata", json::object{{"name", "default"}}}}}};
  ServiceAccountLookup lookup =
      [this](const std::string& ns,
             const std::string& name) -> std::shared_ptr<const json::object> {
    auto it = accounts.find(ns + "/" + name);
    return it == accounts.end() ? nullptr : std::make_shared<json::object>(it->second);
  };
  json::object admit(const std::string& podJson) {
    json::object pod = json::parse(podJson).as_object();
    admitPodServiceAccount(pod, lookup, [] { return std::string("abcde"); });
    return pod;
  }
  static std::string podWith(const std::string& specExtra, const std::string& metaExtra = "") {
    return R"({"metadata":{"name":"p","namespace":"ns")" + metaExtra +
           R"(},"spec":{"containers":[{"name":"c","image":"x"}])" + specExtra + "}}";
  }
  static std::string refusal(const std::function<void()>& f) {
    try {
      f();
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), 403);
      return e.what();
    }
    return "not refused";
  }
};

TEST_F(ServiceAccountAdmissionTest, DefaultsTheAccountAndMountsTheApiAccessVolume) {
  json::object pod = admit(
      R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"initContainers":[{"name":"i","image":"x"}],"containers":[{"name":"c","image":"x"}]}})");
  const json::object& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("serviceAccountName").as_string(), "default");
  EXPECT_EQ(spec.at("serviceAccount").as_string(), "default") << "the deprecated field too";
  ASSERT_EQ(spec.at("volumes").as_array().size(), 1u);
  const json::object& volume = spec.at("volumes").as_array()[0].as_object();
  EXPECT_EQ(volume.at("name").as_string(), "kube-api-access-abcde");
  const json::object& projected = volume.at("projected").as_object();
  EXPECT_EQ(projected.at("defaultMode").as_int64(), 420);
  const json::array& sources = projected.at("sources").as_array();
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0].at("serviceAccountToken").at("expirationSeconds").as_int64(), 3607);
  EXPECT_EQ(sources[0].at("serviceAccountToken").at("path").as_string(), "token");
  EXPECT_EQ(sources[1].at("configMap").at("name").as_string(), "kube-root-ca.crt");
  EXPECT_EQ(sources[1].at("configMap").at("items").as_array()[0].at("key").as_string(), "ca.crt");
  EXPECT_EQ(sources[2]
                .at("downwardAPI")
                .at("items")
                .as_array()[0]
                .at("fieldRef")
                .at("fieldPath")
                .as_string(),
            "metadata.namespace");
  for (const char* field : {"initContainers", "containers"}) {
    const json::array& mounts = spec.at(field).as_array()[0].at("volumeMounts").as_array();
    ASSERT_EQ(mounts.size(), 1u) << field;
    EXPECT_EQ(mounts[0].at("name").as_string(), "kube-api-access-abcde");
    EXPECT_EQ(mounts[0].at("mountPath").as_string(), kServiceAccountTokenMountPath);
    EXPECT_TRUE(mounts[0].at("readOnly").as_bool());
  }
}

TEST_F(ServiceAccountAdmissionTest, MissingAccountIsForbiddenWithUpstreamsWords) {
  EXPECT_EQ(refusal([&] { admit(podWith(R"(,"serviceAccountName":"robot")")); }),
            "pods \"p\" is forbidden: error looking up service account ns/robot: serviceaccount "
            "\"robot\" not found");
  accounts.clear();
  EXPECT_NE(refusal([&] { admit(podWith("")); }).find("serviceaccount \"default\" not found"),
            std::string::npos);
}

TEST_F(ServiceAccountAdmissionTest, AutomountFalseOnPodOrAccountAddsNoVolume) {
  json::object pod = admit(podWith(R"(,"automountServiceAccountToken":false)"));
  EXPECT_FALSE(pod.at("spec").as_object().contains("volumes"));
  accounts["ns/default"]["automountServiceAccountToken"] = false;
  pod = admit(podWith(""));
  EXPECT_FALSE(pod.at("spec").as_object().contains("volumes"));
  // The pod's own true wins over the account's false.
  pod = admit(podWith(R"(,"automountServiceAccountToken":true)"));
  EXPECT_EQ(pod.at("spec").at("volumes").as_array().size(), 1u);
}

TEST_F(ServiceAccountAdmissionTest, ExistingMountAtTheTokenPathIsKept) {
  json::object pod = admit(
      R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"volumes":[{"name":"own","emptyDir":{}}],"containers":[
      {"name":"a","image":"x","volumeMounts":[{"name":"own","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]},
      {"name":"b","image":"x"}]}})");
  const json::object& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("volumes").as_array().size(), 2u);
  EXPECT_EQ(spec.at("containers").as_array()[0].at("volumeMounts").as_array().size(), 1u);
  EXPECT_EQ(spec.at("containers").as_array()[1].at("volumeMounts").as_array()[0].at("name"),
            "kube-api-access-abcde");
  // Every container has its own mount: no volume is added.
  pod = admit(
      R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[
      {"name":"a","image":"x","volumeMounts":[{"name":"own","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}]}})");
  EXPECT_FALSE(pod.at("spec").as_object().contains("volumes"));
}

TEST_F(ServiceAccountAdmissionTest, ImagePullSecretsComeFromTheAccount) {
  accounts["ns/default"]["imagePullSecrets"] =
      json::array{json::object{{"name", "zreg"}}, json::object{{"name", "areg"}}};
  json::object pod = admit(podWith(""));
  EXPECT_EQ(json::serialize(pod.at("spec").at("imagePullSecrets")),
            R"([{"name":"zreg"},{"name":"areg"}])");
  pod = admit(podWith(R"(,"imagePullSecrets":[{"name":"mine"}])"));
  EXPECT_EQ(json::serialize(pod.at("spec").at("imagePullSecrets")), R"([{"name":"mine"}])");
}

TEST_F(ServiceAccountAdmissionTest, MirrorPodsAreLeftAloneButMayNotUseCredentials) {
  const std::string mirror = R"(,"annotations":{"kubernetes.io/config.mirror":"x"})";
  json::object pod = admit(podWith("", mirror));
  EXPECT_FALSE(pod.at("spec").as_object().contains("serviceAccountName"));
  EXPECT_FALSE(pod.at("spec").as_object().contains("volumes"));
  EXPECT_NE(refusal([&] {
              admit(podWith(R"(,"serviceAccountName":"default")", mirror));
            }).find("a mirror pod may not reference service accounts"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              admit(podWith(R"(,"volumes":[{"name":"s","secret":{"secretName":"x"}}])", mirror));
            }).find("a mirror pod may not reference secrets"),
            std::string::npos);
  EXPECT_NE(
      refusal([&] {
        admit(podWith(
            R"(,"volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}}])",
            mirror));
      }).find("a mirror pod may not use ServiceAccountToken volume projections"),
      std::string::npos);
}

TEST_F(ServiceAccountAdmissionTest, EnforceMountableSecretsLimitsSecretReferences) {
  accounts["ns/default"]["metadata"].as_object()["annotations"] =
      json::object{{"kubernetes.io/enforce-mountable-secrets", "true"}};
  accounts["ns/default"]["secrets"] = json::array{json::object{{"name", "allowed"}}};
  admit(podWith(R"(,"volumes":[{"name":"s","secret":{"secretName":"allowed"}}])"));
  EXPECT_NE(refusal([&] {
              admit(podWith(R"(,"volumes":[{"name":"s","secret":{"secretName":"other"}}])"));
            })
                .find("volume with secret.secretName=\"other\" is not allowed because service "
                      "account default does not reference that secret"),
            std::string::npos);
  EXPECT_NE(
      refusal([&] {
        admit(
            R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"x","env":[{"name":"E","valueFrom":{"secretKeyRef":{"name":"other","key":"k"}}}]}]}})");
      }).find("container c with envVar E referencing secret.secretName=\"other\" is not allowed"),
      std::string::npos);
  // Without the annotation anything goes.
  accounts["ns/default"]["metadata"].as_object().erase("annotations");
  admit(podWith(R"(,"volumes":[{"name":"s","secret":{"secretName":"other"}}])"));
}

}  // namespace
}  // namespace skiff::apiserver
