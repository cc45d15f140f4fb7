// The write path's type check (api/type_check.h via checkAndPrune) against the built-in
// OpenAPI schemas: every JSON type mismatch class, with upstream's words per decoding.
#include "api/type_check.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/openapi.h"
#include "api/unknown_fields.h"

namespace json = boost::json;
using skiff::api::checkAndPrune;
using skiff::api::Decoding;
using skiff::api::FieldSchemas;
using skiff::api::OpenApi;

namespace {

const FieldSchemas& schemas() {
  static const FieldSchemas s(OpenApi::instance().definitions());
  return s;
}

// The error checkAndPrune finds in `body` for group/version/kind, or "" when it accepts it.
std::string check(const std::string& body, Decoding mode = Decoding::Json,
                  const std::string& group = "", const std::string& version = "v1",
                  const std::string& kind = "Pod") {
  auto def = OpenApi::instance().definitionFor(group, version, kind);
  EXPECT_TRUE(def.has_value()) << kind;
  json::object obj = json::parse(body).as_object();
  auto result = checkAndPrune(obj, schemas().root(*def), mode);
  return result.typeError.value_or("");
}

std::string pod(const std::string& spec) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":)" + spec + "}";
}

std::string container(const std::string& fields) {
  return pod(R"({"containers":[{"name":"c","image":"i",)" + fields + "}]}");
}

std::string deployment(const std::string& spec) {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":)" + spec +
         "}";
}

}  // namespace

TEST(TypeCheck, AcceptsWellTypedObjects) {
  EXPECT_EQ(check(container(R"("ports":[{"containerPort":80,"protocol":"TCP"}],
      "resources":{"limits":{"cpu":"500m","memory":1073741824},"requests":{"cpu":0.5}},
      "livenessProbe":{"httpGet":{"port":"http","path":"/"},"periodSeconds":10},
      "readinessProbe":{"tcpSocket":{"port":8080}})")),
            "");
  EXPECT_EQ(check(deployment(R"({"replicas":3,"selector":{"matchLabels":{"a":"b"}},
      "strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}})"),
                  Decoding::Json, "apps", "v1", "Deployment"),
            "");
}

TEST(TypeCheck, NullIsAcceptedEverywhere) {
  EXPECT_EQ(
      check(R"({"metadata":{"name":"p","labels":null,"generation":null,"creationTimestamp":null},
      "spec":{"containers":null,"activeDeadlineSeconds":null,"hostNetwork":null}})"),
      "");
}

TEST(TypeCheck, MapGivenAString) {
  std::string body = R"({"metadata":{"name":"p","labels":"invalid"}})";
  EXPECT_EQ(check(body),
            "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels "
            "of type map[string]string");
  EXPECT_EQ(check(body, Decoding::Unstructured), "cannot restore map from string");
}

TEST(TypeCheck, MapValueOfTheWrongTypeNamesTheMapField) {
  // encoding/json adds no map keys to the field path; the type is the value's.
  EXPECT_EQ(check(R"({"metadata":{"name":"p","annotations":{"a":5}}})"),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of "
            "type string");
  EXPECT_EQ(check(R"({"metadata":{"name":"p","annotations":{"a":5}}})", Decoding::Unstructured),
            "cannot convert int64 to string");
  EXPECT_EQ(check(R"({"metadata":{"name":"p","annotations":{"a":true}}})", Decoding::Unstructured),
            "unrecognized type: string");
}

TEST(TypeCheck, StructGivenAScalarOrList) {
  EXPECT_EQ(check(pod(R"("x")")),
            "json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec");
  EXPECT_EQ(check(pod("[]")),
            "json: cannot unmarshal array into Go struct field Pod.spec of type v1.PodSpec");
  EXPECT_EQ(check(pod(R"("x")"), Decoding::Unstructured), "cannot restore struct from: string");
  EXPECT_EQ(check(pod("[1]"), Decoding::Unstructured), "cannot restore struct from: slice");
  // A pointer to a struct is named by the struct.
  EXPECT_EQ(
      check(pod(R"({"containers":[],"securityContext":7})")),
      "json: cannot unmarshal number into Go struct field PodSpec.spec.securityContext of type "
      "v1.PodSecurityContext");
}

TEST(TypeCheck, ListGivenAnObjectAndNestedListItems) {
  EXPECT_EQ(check(pod(R"({"containers":{"name":"c"}})")),
            "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type "
            "[]v1.Container");
  EXPECT_EQ(check(pod(R"({"containers":{"name":"c"}})"), Decoding::Unstructured),
            "cannot restore slice from map");
  EXPECT_EQ(check(pod(R"({"containers":["c"]})")),
            "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type "
            "v1.Container");
  // Indexes do not appear in the path; the innermost struct does.
  EXPECT_EQ(check(container(R"("ports":[{"containerPort":"80"}])")),
            "json: cannot unmarshal string into Go struct field "
            "ContainerPort.spec.containers.ports.containerPort "
            "of type int32");
  EXPECT_EQ(check(container(R"("command":["sh",1])")),
            "json: cannot unmarshal number into Go struct field Container.spec.containers.command "
            "of type string");
  EXPECT_EQ(check(container(R"("command":"sh")")),
            "json: cannot unmarshal string into Go struct field Container.spec.containers.command "
            "of type []string");
}

TEST(TypeCheck, EmbeddedTemplateMetadata) {
  EXPECT_EQ(check(deployment(R"({"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":["a"]}}})"),
                  Decoding::Json, "apps", "v1", "Deployment"),
            "json: cannot unmarshal array into Go struct field "
            "ObjectMeta.spec.template.metadata.labels of "
            "type map[string]string");
}

TEST(TypeCheck, StringGivenOtherTypes) {
  EXPECT_EQ(check(container(R"("image":5)")),
            "json: cannot unmarshal number into Go struct field Container.spec.containers.image of "
            "type string");
  EXPECT_EQ(check(container(R"("image":true)")),
            "json: cannot unmarshal bool into Go struct field Container.spec.containers.image of "
            "type string");
  EXPECT_EQ(check(container(R"("image":{})")),
            "json: cannot unmarshal object into Go struct field Container.spec.containers.image of "
            "type string");
  EXPECT_EQ(check(container(R"("image":5)"), Decoding::Unstructured),
            "cannot convert int64 to string");
  EXPECT_EQ(check(container(R"("image":1.5)"), Decoding::Unstructured),
            "unrecognized type: string");
}

TEST(TypeCheck, BooleansAreNotStrings) {
  EXPECT_EQ(
      check(pod(R"({"containers":[],"hostNetwork":"true"})")),
      "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool");
  EXPECT_EQ(check(pod(R"({"containers":[],"hostNetwork":1})"), Decoding::Unstructured),
            "unrecognized type: bool");
}

TEST(TypeCheck, IntegersFloatsAndOverflow) {
  auto replicas = [](const std::string& v, Decoding mode = Decoding::Json) {
    return check(deployment(R"({"replicas":)" + v + "}"), mode, "apps", "v1", "Deployment");
  };
  const std::string field = " into Go struct field DeploymentSpec.spec.replicas of type int32";
  EXPECT_EQ(replicas("\"3\""), "json: cannot unmarshal string" + field);
  EXPECT_EQ(replicas("1.5"), "json: cannot unmarshal number 1.5" + field);
  EXPECT_EQ(replicas("3000000000"), "json: cannot unmarshal number 3000000000" + field);
  EXPECT_EQ(replicas("18446744073709551615"),
            "json: cannot unmarshal number 18446744073709551615" + field);
  EXPECT_EQ(replicas("2147483647"), "");
  EXPECT_EQ(replicas("-2147483648"), "");
  // Integral floats are what other writers' number formatting may produce: accepted.
  EXPECT_EQ(replicas("1.0"), "");
  EXPECT_EQ(replicas("\"3\"", Decoding::Unstructured), "unrecognized type: int32");
  EXPECT_EQ(replicas("1.5", Decoding::Unstructured), "cannot convert float64 to int32");
  // The converter's reflect conversion wraps an int64 into int32 without complaint.
  EXPECT_EQ(replicas("3000000000", Decoding::Unstructured), "");
  // int64 fields take what int32 ones do not.
  EXPECT_EQ(check(pod(R"({"containers":[],"activeDeadlineSeconds":3000000000})")), "");
  EXPECT_EQ(check(pod(R"({"containers":[],"activeDeadlineSeconds":"5"})")),
            "json: cannot unmarshal string into Go struct field PodSpec.spec.activeDeadlineSeconds "
            "of type int64");
}

TEST(TypeCheck, UnstructuredOverflowWrapsTheValue) {
  auto def = OpenApi::instance().definitionFor("apps", "v1", "Deployment");
  json::object obj = json::parse(deployment(R"({"replicas":4294967297})")).as_object();
  auto result = checkAndPrune(obj, schemas().root(*def), Decoding::Unstructured);
  EXPECT_FALSE(result.typeError);
  EXPECT_EQ(obj.at("spec").at("replicas"), 1);
}

TEST(TypeCheck, IntOrStringTakesBoth) {
  auto targetPort = [](const std::string& v, Decoding mode = Decoding::Json) {
    return check(
        R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":)" + v + "}]}}", mode,
        "", "v1", "Service");
  };
  EXPECT_EQ(targetPort("8080"), "");
  EXPECT_EQ(targetPort("\"http\""), "");
  EXPECT_EQ(targetPort("2.0"), "");
  // IntOrString's UnmarshalJSON decodes a non-string into its int32; the outer decoder adds
  // its field context, the converter calls it bare.
  EXPECT_EQ(targetPort("true"),
            "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of "
            "type int32");
  EXPECT_EQ(targetPort("1.5"),
            "json: cannot unmarshal number 1.5 into Go struct field "
            "ServicePort.spec.ports.targetPort of type int32");
  EXPECT_EQ(targetPort("3000000000"),
            "json: cannot unmarshal number 3000000000 into Go struct field "
            "ServicePort.spec.ports.targetPort of type int32");
  EXPECT_EQ(targetPort("{}", Decoding::Unstructured),
            "json: cannot unmarshal object into Go value of type int32");
  // The port itself is a plain int32.
  EXPECT_EQ(check(R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":"80"}]}})", Decoding::Json,
                  "", "v1", "Service"),
            "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of "
            "type int32");
}

TEST(TypeCheck, QuantitiesAreStringsOrNumbersInTheGrammar) {
  const std::string format =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  auto limit = [](const std::string& v) {
    return check(container(R"("resources":{"limits":{"cpu":)" + v + "}}"));
  };
  EXPECT_EQ(limit("\"100m\""), "");
  EXPECT_EQ(limit("\" 1Gi \""), "");
  EXPECT_EQ(limit("2"), "");
  EXPECT_EQ(limit("0.25"), "");
  EXPECT_EQ(limit("\"1e3\""), "");
  EXPECT_EQ(limit("\"abc\""), format);
  EXPECT_EQ(limit("\"\""), format);
  EXPECT_EQ(limit("true"), format);
  EXPECT_EQ(limit("{}"), format);
  EXPECT_EQ(limit("\"1kk\""), "unable to parse quantity's suffix");
  // The map of quantities is core/v1's named ResourceList.
  EXPECT_EQ(check(container(R"("resources":{"limits":"1"})")),
            "json: cannot unmarshal string into Go struct field "
            "ResourceRequirements.spec.containers.resources.limits "
            "of type v1.ResourceList");
}

TEST(TypeCheck, BytesAreBase64) {
  auto secret = [](const std::string& v, Decoding mode = Decoding::Json) {
    return check(R"({"metadata":{"name":"s"},"data":{"a":)" + v + "}}", mode, "", "v1", "Secret");
  };
  EXPECT_EQ(secret("\"aGVsbG8=\""), "");
  EXPECT_EQ(secret("\"\""), "");
  EXPECT_EQ(secret("\"aGVs\\nbG8=\""), "");  // newlines are skipped
  EXPECT_EQ(secret("\"invalid\""), "illegal base64 data at input byte 4");
  EXPECT_EQ(secret("\"a$bc\""), "illegal base64 data at input byte 1");
  EXPECT_EQ(secret("\"invalid\"", Decoding::Unstructured),
            "error decoding from json: illegal base64 data at input byte 4");
  EXPECT_EQ(secret("5"),
            "json: cannot unmarshal number into Go struct field Secret.data of type []uint8");
  EXPECT_EQ(secret("5", Decoding::Unstructured), "cannot restore slice from int64");
}

TEST(TypeCheck, Base64Offsets) {
  using skiff::api::base64ErrorOffset;
  EXPECT_FALSE(base64ErrorOffset("YQ=="));
  EXPECT_FALSE(base64ErrorOffset("YWI="));
  EXPECT_EQ(base64ErrorOffset("YQ="), 3u);       // "=" needs its second "="
  EXPECT_EQ(base64ErrorOffset("Y==="), 1u);      // padding too early
  EXPECT_EQ(base64ErrorOffset("YQ==YQ=="), 4u);  // data after the padding
  EXPECT_EQ(base64ErrorOffset("YWJj\nZA"), 5u);  // an incomplete last quantum
}

TEST(TypeCheck, TimestampsAreStrings) {
  EXPECT_EQ(check(R"({"metadata":{"name":"p","creationTimestamp":5}})"),
            "json: cannot unmarshal number into Go struct field "
            "ObjectMeta.metadata.creationTimestamp of type string");
  EXPECT_EQ(check(R"({"metadata":{"name":"p","creationTimestamp":5}})", Decoding::Unstructured),
            "json: cannot unmarshal number into Go value of type string");
}

TEST(TypeCheck, RawExtensionsTakeAnything) {
  // ControllerRevision.data is a runtime.RawExtension.
  std::string body = R"({"metadata":{"name":"r"},"revision":1,"data":)";
  EXPECT_EQ(
      check(body + R"({"spec":{"x":[1]}}})", Decoding::Json, "apps", "v1", "ControllerRevision"),
      "");
  EXPECT_EQ(check(body + R"("text"})", Decoding::Json, "apps", "v1", "ControllerRevision"), "");
}

TEST(TypeCheck, TypeErrorStopsTheWalkAndUnknownFieldsAreStillReported) {
  auto def = OpenApi::instance().definitionFor("", "v1", "Pod");
  json::object obj =
      json::parse(R"({"metadata":{"name":"p","bogus":1},"spec":{"containers":[]}})").as_object();
  auto ok = checkAndPrune(obj, schemas().root(*def), Decoding::Json);
  EXPECT_FALSE(ok.typeError);
  EXPECT_EQ(ok.unknown, std::vector<std::string>{"metadata.bogus"});
}

TEST(TypeCheck, PatchDecodeErrorIsUpstreamsInvalid) {
  auto e = skiff::api::patchDecodeError("map[metadata:map[labels:invalid]]",
                                        "cannot restore map from string");
  EXPECT_EQ(e.code(), 422);
  EXPECT_EQ(e.reason(), "Invalid");
  EXPECT_EQ(std::string(e.what()),
            " \"\" is invalid: patch: Invalid value: \"map[metadata:map[labels:invalid]]\": cannot "
            "restore map from string");
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_EQ(e.causes[0].field, "patch");
  EXPECT_EQ(e.causes[0].type, "FieldValueInvalid");
}

TEST(TypeCheck, PatchedObjectTextSortsWhatThePatchTouched) {
  json::value patched =
      json::parse(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","labels":"x"},
      "spec":{"b":1,"a":"<&>"}})");
  json::value patch = json::parse(R"({"metadata":{"labels":"x"}})");
  EXPECT_EQ(
      skiff::api::patchedObjectText(patched, patch, false),
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"labels":"x","name":"p"},"spec":{"b":1,"a":"\u003c\u0026\u003e"}})");
  json::value ops = json::parse(R"([{"op":"add","path":"/spec/c","value":1}])");
  EXPECT_EQ(
      skiff::api::patchedObjectText(patched, ops, true),
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":"x"},"spec":{"a":"\u003c\u0026\u003e","b":1}})");
}

namespace {

std::string applyCheck(const std::string& body, const std::string& group = "",
                       const std::string& kind = "Pod") {
  auto def = OpenApi::instance().definitionFor(group, "v1", kind);
  EXPECT_TRUE(def.has_value()) << kind;
  return skiff::api::applyTypeErrors(json::parse(body), schemas().root(*def)).value_or("");
}

}  // namespace

TEST(ApplyTypeCheck, StructuredMergeDiffWords) {
  EXPECT_EQ(applyCheck(deployment(R"({"replicas":"lots"})"), "apps", "Deployment"),
            ".spec.replicas: expected numeric (int or float), got string");
  EXPECT_EQ(applyCheck(R"({"metadata":{"name":"p","labels":"invalid"}})"),
            ".metadata.labels: expected map, got &{invalid}");
  EXPECT_EQ(applyCheck(R"({"metadata":{"name":"c"},"data":{"a":1}})", "", "ConfigMap"),
            ".data.a: expected string, got &value.valueUnstructured{Value:1}");
  EXPECT_EQ(applyCheck(pod(R"({"containers":{"name":"c"}})")),
            ".spec.containers: expected list, got &{map[name:c]}");
  EXPECT_EQ(applyCheck(pod(R"({"containers":[],"hostNetwork":"yes"})")),
            ".spec.hostNetwork: expected boolean, got &{yes}");
}

TEST(ApplyTypeCheck, ListItemsByKeyValueOrIndex) {
  EXPECT_EQ(
      applyCheck(container(R"("ports":[{"containerPort":"80"}])")),
      ".spec.containers[name=\"c\"].ports[containerPort=\"80\",protocol=\"TCP\"].containerPort: "
      "expected numeric (int or float), got string");
  EXPECT_EQ(applyCheck(container(R"("command":["sh",{"a":1}])")),
            ".spec.containers[name=\"c\"].command[1]: expected string, got "
            "&value.valueUnstructured{Value:map[string]interface {}{\"a\":1}}");
  EXPECT_EQ(
      applyCheck(R"({"metadata":{"name":"p","finalizers":[true]}})"),
      ".metadata.finalizers[=true]: expected string, got &value.valueUnstructured{Value:true}");
}

TEST(ApplyTypeCheck, UntypedScalarsAndSeveralErrors) {
  EXPECT_EQ(applyCheck(container(R"("resources":{"limits":{"cpu":1,"memory":"1Gi"}})")), "");
  EXPECT_EQ(
      applyCheck(R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":{"a":1}}],
      "publishNotReadyAddresses":"yes"}})",
                 "", "Service"),
      "errors:\n"
      "  .spec.ports[port=80,protocol=\"TCP\"].targetPort: expected any scalar, got &{map[a:1]}\n"
      "  .spec.publishNotReadyAddresses: expected boolean, got &{yes}");
  EXPECT_EQ(applyCheck(R"({"metadata":{"name":"p","labels":null},"spec":null})"), "");
}
