#include "api/validation.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/defaults.h"

using skiff::StatusCause;
using skiff::api::applyDefaults;
using skiff::api::validateObject;
namespace json = boost::json;

namespace {

// Objects go through defaulting first, as in the server's request path.
std::vector<StatusCause> validate(std::string_view group, std::string_view kind,
                                  std::string_view body, std::string_view oldBody = "") {
  json::object o = json::parse(body).as_object();
  applyDefaults(group, kind, o);
  if (oldBody.empty()) return validateObject(group, kind, o, nullptr);
  json::object old = json::parse(oldBody).as_object();
  applyDefaults(group, kind, old);
  return validateObject(group, kind, o, &old);
}

const StatusCause* find(const std::vector<StatusCause>& causes, std::string_view field) {
  for (const auto& c : causes)
    if (c.field == field) return &c;
  return nullptr;
}

constexpr const char* kPod =
    R"({"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"app","image":"nginx:1.25"}]}})";

std::string deployment(std::string_view selector, std::string_view labels) {
  return std::string(R"({"metadata":{"name":"web"},"spec":{"selector":)") + std::string(selector) +
         R"(,"template":{"metadata":{"labels":)" + std::string(labels) +
         R"(},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}})";
}

}  // namespace

TEST(Validation, ValidPodHasNoCauses) { EXPECT_TRUE(validate("", "Pod", kPod).empty()); }

TEST(Validation, InvalidNameRejectedWithUpstreamMessage) {
  auto c = validate("", "ConfigMap", R"({"metadata":{"name":"Foo_1"}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "FieldValueInvalid");
  EXPECT_EQ(c[0].field, "metadata.name");
  EXPECT_EQ(c[0].message,
            "Invalid value: \"Foo_1\": a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

TEST(Validation, NameRequiredUnlessGenerateName) {
  auto c = validate("", "ConfigMap", R"({"metadata":{}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "FieldValueRequired");
  EXPECT_EQ(c[0].message, "Required value: name or generateName is required");
}

TEST(Validation, NamespaceNamesAreDnsLabels) {
  auto c = validate("", "Namespace", R"({"metadata":{"name":"a.b"}})");
  ASSERT_NE(find(c, "metadata.name"), nullptr);
  EXPECT_EQ(find(c, "metadata.name")->message, "Invalid value: \"a.b\": must not contain dots");
}

TEST(Validation, ServiceNamesAreDns1035Labels) {
  auto c =
      validate("", "Service", R"({"metadata":{"name":"1web"},"spec":{"ports":[{"port":80}]}})");
  ASSERT_NE(find(c, "metadata.name"), nullptr);
  EXPECT_NE(find(c, "metadata.name")->message.find("a DNS-1035 label"), std::string::npos);
}

TEST(Validation, RbacNamesArePathSegments) {
  EXPECT_TRUE(validate("rbac.authorization.k8s.io", "ClusterRole",
                       R"({"metadata":{"name":"system:controller:Foo"}})")
                  .empty());
  auto c = validate("rbac.authorization.k8s.io", "ClusterRole", R"({"metadata":{"name":"a/b"}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Invalid value: \"a/b\": may not contain '/'");
}

TEST(Validation, GenerateNameMayEndWithDash) {
  EXPECT_TRUE(validate("", "ConfigMap", R"({"metadata":{"generateName":"cm-","name":"cm-x7k2p"}})")
                  .empty());
}

TEST(Validation, LabelKeyAndValueRules) {
  auto c = validate("", "ConfigMap",
                    R"({"metadata":{"name":"c","labels":{"-bad":"ok","good":"bad value"}}})");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].field, "metadata.labels");
  EXPECT_NE(c[0].message.find("name part must consist of"), std::string::npos);
  EXPECT_NE(c[1].message.find("a valid label must be an empty string"), std::string::npos);
}

TEST(Validation, AnnotationsTotalSizeLimited) {
  std::string big(256 * 1024, 'x');
  auto c = validate("", "ConfigMap",
                    R"({"metadata":{"name":"c","annotations":{"a":")" + big + R"("}}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "FieldValueTooLong");
  EXPECT_EQ(c[0].message, "Too long: must have at most 262144 bytes");
}

TEST(Validation, ImmutableNameOnUpdate) {
  auto c =
      validate("", "ConfigMap", R"({"metadata":{"name":"b"}})", R"({"metadata":{"name":"a"}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Invalid value: \"b\": field is immutable");
}

TEST(Validation, PodContainersRequired) {
  auto c = validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"containers":[]}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.containers");
  EXPECT_EQ(c[0].type, "FieldValueRequired");
}

TEST(Validation, PodImageRequired) {
  auto c = validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}})");
  ASSERT_NE(find(c, "spec.containers[0].image"), nullptr);
  EXPECT_EQ(find(c, "spec.containers[0].image")->message, "Required value");
}

TEST(Validation, DuplicateContainerNamesAcrossInitAndMain) {
  auto c = validate("", "Pod",
                    R"({"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"a","image":"x"}],
    "containers":[{"name":"a","image":"x"}]}})");
  ASSERT_NE(find(c, "spec.containers[0].name"), nullptr);
  EXPECT_EQ(find(c, "spec.containers[0].name")->type, "FieldValueDuplicate");
  EXPECT_EQ(find(c, "spec.containers[0].name")->message, "Duplicate value: \"a\"");
}

TEST(Validation, ContainerPortRangeAndProtocol) {
  auto c =
      validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x",
    "ports":[{"containerPort":70000,"protocol":"HTTP"}]}]}})");
  ASSERT_NE(find(c, "spec.containers[0].ports[0].containerPort"), nullptr);
  EXPECT_EQ(find(c, "spec.containers[0].ports[0].containerPort")->message,
            "Invalid value: 70000: must be between 1 and 65535, inclusive");
  ASSERT_NE(find(c, "spec.containers[0].ports[0].protocol"), nullptr);
  EXPECT_EQ(find(c, "spec.containers[0].ports[0].protocol")->message,
            "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
}

TEST(Validation, BidirectionalMountPropagationOnlyForPrivilegedContainers) {
  auto pod = [](const std::string& mode, bool privileged) {
    return std::string(R"({"metadata":{"name":"p"},"spec":{"volumes":[{"name":"v","emptyDir":{}}],
      "containers":[{"name":"a","image":"x",)") +
           (privileged ? R"("securityContext":{"privileged":true},)" : "") +
           R"("volumeMounts":[{"name":"v","mountPath":"/v","mountPropagation":")" + mode +
           R"("}]}]}})";
  };
  const char* field = "spec.containers[0].volumeMounts[0].mountPropagation";
  auto c = validate("", "Pod", pod("Bidirectional", false));
  ASSERT_NE(find(c, field), nullptr);
  EXPECT_EQ(find(c, field)->type, "FieldValueForbidden");
  EXPECT_EQ(find(c, field)->message,
            "Forbidden: Bidirectional mount propagation is available only to privileged "
            "containers");
  EXPECT_EQ(find(validate("", "Pod", pod("Bidirectional", true)), field), nullptr);
  EXPECT_EQ(find(validate("", "Pod", pod("HostToContainer", false)), field), nullptr);
  EXPECT_EQ(find(validate("", "Pod", pod("None", false)), field), nullptr);
  c = validate("", "Pod", pod("Sideways", false));
  ASSERT_NE(find(c, field), nullptr);
  EXPECT_EQ(find(c, field)->message,
            "Unsupported value: \"Sideways\": supported values: \"Bidirectional\", "
            "\"HostToContainer\", \"None\"");
}

TEST(Validation, PodSecurityContextGroups) {
  auto c = validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"securityContext":{
    "fsGroup":-1,"supplementalGroups":[5,2147483648],"fsGroupChangePolicy":"Sometimes"},
    "containers":[{"name":"a","image":"x"}]}})");
  ASSERT_NE(find(c, "spec.securityContext.fsGroup"), nullptr);
  EXPECT_EQ(find(c, "spec.securityContext.fsGroup")->message,
            "Invalid value: -1: must be between 0 and 2147483647, inclusive");
  EXPECT_EQ(find(c, "spec.securityContext.supplementalGroups[0]"), nullptr);
  ASSERT_NE(find(c, "spec.securityContext.supplementalGroups[1]"), nullptr);
  ASSERT_NE(find(c, "spec.securityContext.fsGroupChangePolicy"), nullptr);
  EXPECT_EQ(find(c, "spec.securityContext.fsGroupChangePolicy")->message,
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnRootMismatch\"");
  EXPECT_TRUE(validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"securityContext":{
    "fsGroup":2000,"supplementalGroups":[0],"fsGroupChangePolicy":"OnRootMismatch"},
    "containers":[{"name":"a","image":"x"}]}})")
                  .empty());
}

TEST(Validation, RestartPolicyEnum) {
  auto c = validate(
      "", "Pod",
      R"({"metadata":{"name":"p"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"a","image":"x"}]}})");
  ASSERT_NE(find(c, "spec.restartPolicy"), nullptr);
  EXPECT_EQ(find(c, "spec.restartPolicy")->type, "FieldValueNotSupported");
}

TEST(Validation, RequestsMustNotExceedLimits) {
  auto c =
      validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x",
    "resources":{"requests":{"cpu":"200m"},"limits":{"cpu":"100m"}}}]}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.containers[0].resources.requests[cpu]");
  EXPECT_EQ(c[0].message,
            "Invalid value: \"200m\": must be less than or equal to cpu limit of 100m");
}

TEST(Validation, MalformedQuantityRejected) {
  auto c =
      validate("", "Pod", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x",
    "resources":{"limits":{"memory":"64MB"}}}]}})");
  ASSERT_NE(find(c, "spec.containers[0].resources.limits[memory]"), nullptr);
}

TEST(Validation, PodUpdateMayChangeImageOnly) {
  EXPECT_TRUE(
      validate(
          "", "Pod",
          R"({"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"app","image":"nginx:1.26"}]}})",
          kPod)
          .empty());
  auto c = validate(
      "", "Pod",
      R"({"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"app","image":"nginx:1.25","ports":[{"containerPort":80}]}]}})",
      kPod);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec");
  EXPECT_EQ(c[0].type, "FieldValueForbidden");
  EXPECT_NE(c[0].message.find("pod updates may not change fields other than"), std::string::npos);
}

TEST(Validation, DeploymentSelectorMismatchRejected) {
  auto c = validate("apps", "Deployment",
                    deployment(R"({"matchLabels":{"app":"web"}})", R"({"app":"api"})"));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.template.metadata.labels");
  EXPECT_EQ(c[0].message,
            "Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template "
            "`labels`");
}

TEST(Validation, DeploymentSelectorRequiredAndNonEmpty) {
  auto missing = validate(
      "apps", "Deployment",
      R"({"metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}})");
  ASSERT_NE(find(missing, "spec.selector"), nullptr);
  EXPECT_EQ(find(missing, "spec.selector")->type, "FieldValueRequired");
  auto empty = validate("apps", "Deployment", deployment("{}", R"({"app":"x"})"));
  ASSERT_NE(find(empty, "spec.selector"), nullptr);
  EXPECT_NE(find(empty, "spec.selector")->message.find("empty selector is invalid for deployment"),
            std::string::npos);
}

TEST(Validation, DeploymentTemplateRestartPolicyMustBeAlways) {
  std::string body = R"({"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},
    "template":{"metadata":{"labels":{"a":"b"}},"spec":{"restartPolicy":"Never","containers":[{"name":"a","image":"x"}]}}}})";
  auto c = validate("apps", "Deployment", body);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.template.spec.restartPolicy");
  EXPECT_EQ(c[0].message, "Unsupported value: \"Never\": supported values: \"Always\"");
}

TEST(Validation, NegativeReplicasRejected) {
  std::string body =
      R"({"metadata":{"name":"d"},"spec":{"replicas":-1,"selector":{"matchLabels":{"a":"b"}},
    "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"a","image":"x"}]}}}})";
  auto c = validate("apps", "ReplicaSet", body);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Invalid value: -1: must be greater than or equal to 0");
}

TEST(Validation, DeploymentSelectorImmutable) {
  auto c = validate("apps", "Deployment",
                    deployment(R"({"matchLabels":{"app":"v2"}})", R"({"app":"v2"})"),
                    deployment(R"({"matchLabels":{"app":"web"}})", R"({"app":"web"})"));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.selector");
  EXPECT_EQ(c[0].message,
            "Invalid value: &LabelSelector{MatchLabels:map[string]string{app: v2,},"
            "MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable");
}

TEST(Validation, JobTemplateRestartPolicy) {
  auto c = validate(
      "batch", "Job",
      R"({"metadata":{"name":"j"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.template.spec.restartPolicy");
  EXPECT_EQ(c[0].message,
            "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"");
}

TEST(Validation, CronJobNameAndSchedule) {
  std::string name(53, 'a');
  auto c = validate("batch", "CronJob",
                    R"({"metadata":{"name":")" + name + R"("},"spec":{"schedule":"bad",
    "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"a","image":"x"}]}}}}}})");
  ASSERT_NE(find(c, "metadata.name"), nullptr);
  EXPECT_EQ(find(c, "metadata.name")->message.substr(find(c, "metadata.name")->message.size() - 34),
            "must be no more than 52 characters");
  ASSERT_NE(find(c, "spec.schedule"), nullptr);
}

TEST(Validation, ServicePortsRequired) {
  auto c = validate("", "Service", R"({"metadata":{"name":"s"},"spec":{}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.ports");
  EXPECT_TRUE(
      validate(
          "", "Service",
          R"({"metadata":{"name":"s"},"spec":{"type":"ExternalName","externalName":"example.com"}})")
          .empty());
}

TEST(Validation, ServicePortNamesRequiredAndUnique) {
  auto c = validate(
      "", "Service",
      R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":80},{"port":81,"name":"a"},{"port":82,"name":"a"}]}})");
  ASSERT_NE(find(c, "spec.ports[0].name"), nullptr);
  EXPECT_EQ(find(c, "spec.ports[0].name")->type, "FieldValueRequired");
  ASSERT_NE(find(c, "spec.ports[2].name"), nullptr);
  EXPECT_EQ(find(c, "spec.ports[2].name")->type, "FieldValueDuplicate");
}

TEST(Validation, ServiceTypeEnumAndPortRange) {
  auto c = validate("", "Service",
                    R"({"metadata":{"name":"s"},"spec":{"type":"Magic","ports":[{"port":0}]}})");
  ASSERT_NE(find(c, "spec.type"), nullptr);
  EXPECT_EQ(find(c, "spec.type")->message,
            "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", "
            "\"LoadBalancer\", \"NodePort\"");
  ASSERT_NE(find(c, "spec.ports[0].port"), nullptr);
}

TEST(Validation, ServiceClusterIPImmutable) {
  auto c = validate(
      "", "Service",
      R"({"metadata":{"name":"s"},"spec":{"clusterIP":"10.96.0.9","clusterIPs":["10.96.0.9"],"ports":[{"port":80}]}})",
      R"({"metadata":{"name":"s"},"spec":{"clusterIP":"10.96.0.8","clusterIPs":["10.96.0.8"],"ports":[{"port":80}]}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.clusterIPs[0]");
  EXPECT_EQ(c[0].message, "Invalid value: []string{\"10.96.0.9\"}: may not change once set");
}

TEST(Validation, ConfigMapKeysAndSize) {
  auto c = validate("", "ConfigMap", R"({"metadata":{"name":"c"},"data":{"a b":"x","..x":"y"}})");
  ASSERT_NE(find(c, "data[a b]"), nullptr);
  EXPECT_NE(find(c, "data[a b]")->message.find("a valid config key must consist of"),
            std::string::npos);
  ASSERT_NE(find(c, "data[..x]"), nullptr);
  EXPECT_EQ(find(c, "data[..x]")->message, "Invalid value: \"..x\": must not start with '..'");
  std::string big(1024 * 1024 + 1, 'x');
  auto s = validate("", "ConfigMap", R"({"metadata":{"name":"c"},"data":{"k":")" + big + R"("}})");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].type, "FieldValueTooLong");
}

TEST(Validation, TlsSecretNeedsKeys) {
  auto c =
      validate("", "Secret",
               R"({"metadata":{"name":"s"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "data[tls.key]");
}

TEST(Validation, SecretTypeImmutable) {
  auto c = validate("", "Secret", R"({"metadata":{"name":"s"},"type":"foo"})",
                    R"({"metadata":{"name":"s"}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Invalid value: \"foo\": field is immutable");
}

TEST(Validation, LeaseDurationPositive) {
  auto c = validate("coordination.k8s.io", "Lease",
                    R"({"metadata":{"name":"l"},"spec":{"leaseDurationSeconds":0}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.leaseDurationSeconds");
}

TEST(Validation, NodeTaintEffect) {
  auto c = validate(
      "", "Node",
      R"({"metadata":{"name":"n1"},"spec":{"taints":[{"key":"k","effect":"Sometimes"}]}})");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.taints[0].effect");
}

TEST(Validation, NameHelpers) {
  EXPECT_TRUE(skiff::api::validateDns1123Label("my-name").empty());
  EXPECT_EQ(skiff::api::validateDns1123Label(std::string(64, 'a')).front(),
            "must be no more than 63 characters");
  EXPECT_TRUE(skiff::api::validateDns1123Subdomain("example.com").empty());
  EXPECT_FALSE(skiff::api::validateDns1123Subdomain("-x").empty());
  EXPECT_EQ(skiff::api::validatePathSegmentName(".."),
            (std::vector<std::string>{"may not be '..'"}));
  EXPECT_TRUE(skiff::api::validateQualifiedName("example.com/My_Name").empty());
  EXPECT_EQ(skiff::api::validateQualifiedName("/x").front(), "prefix part must be non-empty");
}
