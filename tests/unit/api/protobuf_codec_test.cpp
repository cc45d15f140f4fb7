#include "api/protobuf_codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>

#include "api/protobuf_wire.h"
#include "common/api_error.h"
#include "unit/api/protobuf_test_util.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::Pb;
using testing::wrapObject;

json::value parse(std::string_view text) { return json::parse(text); }

int errorCode(std::string_view body) {
  try {
    decodeProtobufObject(body);
  } catch (const ApiError& e) {
    return e.code();
  }
  return 0;
}

TEST(ProtobufCodec, DecodesNamespace) {
  Pb ns;
  ns.msg(1, Pb().str(1, "team-a").entry(11, "env", "prod").varint(7, 0).msg(8, Pb()))
      .msg(2, Pb().str(1, "kubernetes"))
      .msg(3, Pb().str(1, ""));
  json::value v = decodeProtobufObject(wrapObject("v1", "Namespace", ns));
  EXPECT_EQ(v, parse(R"({"apiVersion":"v1","kind":"Namespace",
      "metadata":{"name":"team-a","labels":{"env":"prod"}},
      "spec":{"finalizers":["kubernetes"]},"status":{}})"));
}

TEST(ProtobufCodec, DecodesConfigMapDataKeepingEmptyValues) {
  Pb cm;
  cm.msg(1, Pb().str(1, "settings").str(3, "default").str(2, ""))
      .entry(2, "a", "b")
      .entry(2, "empty", "")
      .entry(3, "bin", std::string_view("\x00\xff", 2));
  json::value v = decodeProtobufObject(wrapObject("v1", "ConfigMap", cm));
  EXPECT_EQ(v, parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"settings","namespace":"default"},
      "data":{"a":"b","empty":""},"binaryData":{"bin":"AP8="}})"));
}

TEST(ProtobufCodec, DecodesSecretBytesAsBase64) {
  Pb secret;
  secret.msg(1, Pb().str(1, "creds"))
      .entry(2, "password", "hunter2")
      .entry(2, "token", std::string_view("\x01\x02\x03\x04", 4))
      .str(3, "Opaque")
      .varint(5, 1);
  json::value v = decodeProtobufObject(wrapObject("v1", "Secret", secret));
  EXPECT_EQ(v, parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},
      "data":{"password":"aHVudGVyMg==","token":"AQIDBA=="},"type":"Opaque","immutable":true})"));
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(v)), v);
}

Pb webDeployment(std::uint64_t replicas) {
  Pb container = Pb().str(1, "nginx")
                     .str(2, "nginx:1.25")
                     .msg(6, Pb().str(1, "").varint(2, 0).varint(3, 80).str(4, "TCP"))
                     .msg(8, Pb().entry(1, "cpu", Pb().str(1, "500m"))
                                 .entry(1, "memory", Pb().str(1, "128Mi"))
                                 .entry(2, "cpu", Pb().str(1, "250m")))
                     .varint(16, 0);  // stdin: false, written because it is not a pointer
  Pb rollingUpdate = Pb().msg(1, Pb().varint(1, 0).varint(2, 1).str(3, ""))  // maxUnavailable: 1
                         .msg(2, Pb().varint(1, 1).varint(2, 0).str(3, "25%"));  // maxSurge: "25%"
  Pb spec = Pb().varint(1, replicas)
                .msg(2, Pb().entry(1, "app", "web"))
                .msg(3, Pb().msg(1, Pb().entry(11, "app", "web").msg(8, Pb()))
                            .msg(2, Pb().msg(2, container).str(3, "Always").varint(4, 30)))
                .msg(4, Pb().str(1, "RollingUpdate").msg(2, rollingUpdate))
                .varint(5, 0)
                .varint(7, 0);
  Pb status = Pb().varint(1, 0).varint(2, 0).varint(3, 0);
  return Pb()
      .msg(1, Pb().str(1, "web").str(2, "").entry(11, "app", "web"))
      .msg(2, spec)
      .msg(3, status);
}

TEST(ProtobufCodec, DecodesDeployment) {
  json::value v = decodeProtobufObject(wrapObject("apps/v1", "Deployment", webDeployment(3)));
  EXPECT_EQ(v, parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","labels":{"app":"web"}},
      "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
        "template":{"metadata":{"labels":{"app":"web"}},
          "spec":{"containers":[{"name":"nginx","image":"nginx:1.25",
              "ports":[{"containerPort":80,"protocol":"TCP"}],
              "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"250m"}}}],
            "restartPolicy":"Always","terminationGracePeriodSeconds":30}},
        "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":"25%"}}},
      "status":{}})"))
      << json::serialize(v);
}

TEST(ProtobufCodec, KeepsExplicitZeroOnPointerFields) {
  json::value v = decodeProtobufObject(wrapObject("apps/v1", "Deployment", webDeployment(0)));
  EXPECT_EQ(v.at("spec").at("replicas"), 0);
  // minReadySeconds and paused are plain Go fields: their zero values mean unset.
  EXPECT_FALSE(v.at("spec").as_object().contains("minReadySeconds"));
  EXPECT_FALSE(v.at("spec").as_object().contains("paused"));
}

TEST(ProtobufCodec, RoundTripsDeployment) {
  json::value v = decodeProtobufObject(wrapObject("apps/v1", "Deployment", webDeployment(2)));
  std::string bytes = encodeProtobufObject(v);
  EXPECT_EQ(bytes.substr(0, 4), std::string("k8s\0", 4));
  EXPECT_EQ(decodeProtobufObject(bytes), v);
  // Deterministic: encoding the decoded form again gives the same bytes.
  EXPECT_EQ(encodeProtobufObject(decodeProtobufObject(bytes)), bytes);
}

TEST(ProtobufCodec, RoundTripsJsonWithInlineFieldsAndSpecials) {
  json::value pod = parse(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"p","namespace":"default","creationTimestamp":"2024-05-01T10:00:00Z",
      "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u1",
        "controller":true,"blockOwnerDeletion":false}],
      "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1",
        "time":"2024-05-01T10:00:01Z","fieldsType":"FieldsV1",
        "fieldsV1":{"f:metadata":{"f:labels":{".":{}}}}}]},
    "spec":{"volumes":[{"name":"cfg","configMap":{"name":"settings","defaultMode":420}},
                       {"name":"scratch","emptyDir":{}}],
      "containers":[{"name":"app","image":"busybox","command":["sh","-c",""],
        "env":[{"name":"A","valueFrom":{"configMapKeyRef":{"name":"settings","key":"a"}}}],
        "livenessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":10},
        "readinessProbe":{"tcpSocket":{"port":"http"}},
        "resources":{"limits":{"cpu":"1"}},
        "securityContext":{"runAsUser":0,"allowPrivilegeEscalation":false}}],
      "terminationGracePeriodSeconds":0,
      "securityContext":{"supplementalGroups":[1000,0,-1]},
      "nodeSelector":{"disk":"ssd"}},
    "status":{"phase":"Running","startTime":"2024-05-01T10:00:02Z"}})");
  json::value back = decodeProtobufObject(encodeProtobufObject(pod));
  EXPECT_EQ(back, pod) << json::serialize(back);
}

TEST(ProtobufCodec, InlineFieldsFlattenIntoTheParent) {
  // Volume{name, volumeSource{configMap{localObjectReference{name}, defaultMode}}}
  Pb volume =
      Pb().str(1, "cfg").msg(2, Pb().msg(19, Pb().msg(1, Pb().str(1, "settings")).varint(3, 0644)));
  Pb pod = Pb().msg(1, Pb().str(1, "p")).msg(2, Pb().msg(1, volume));
  json::value v = decodeProtobufObject(wrapObject("v1", "Pod", pod));
  EXPECT_EQ(v.at("spec").at("volumes"),
            parse(R"([{"name":"cfg","configMap":{"name":"settings","defaultMode":420}}])"));
}

TEST(ProtobufCodec, TimeFields) {
  // 2024-05-01T10:00:00Z = 1714557600
  Pb meta = Pb().str(1, "n")
                .msg(8, Pb().varint(1, 1714557600).varint(2, 0))
                .msg(9, Pb().varint(1, 1714557600).varint(2, 500000000));
  json::value v = decodeProtobufObject(wrapObject("v1", "Namespace", Pb().msg(1, meta)));
  EXPECT_EQ(v.at("metadata").at("creationTimestamp"), "2024-05-01T10:00:00Z");
  // meta.v1.Time serialises whole seconds only, like upstream.
  EXPECT_EQ(v.at("metadata").at("deletionTimestamp"), "2024-05-01T10:00:00Z");

  // The zero time is an empty message: omitted. The epoch is explicit zero fields.
  json::value zero = decodeProtobufObject(
      wrapObject("v1", "Namespace", Pb().msg(1, Pb().str(1, "n").msg(8, Pb()))));
  EXPECT_EQ(zero.at("metadata"), parse(R"({"name":"n"})"));
  json::value epoch = decodeProtobufObject(wrapObject(
      "v1", "Namespace", Pb().msg(1, Pb().str(1, "n").msg(8, Pb().varint(1, 0).varint(2, 0)))));
  EXPECT_EQ(epoch.at("metadata").at("creationTimestamp"), "1970-01-01T00:00:00Z");

  // Negative seconds (before 1970) and MicroTime precision.
  Pb lease = Pb().msg(1, Pb().str(1, "l"))
                 .msg(2, Pb().str(1, "me")
                             .msg(3, Pb().varint(1, std::uint64_t(-86400)).varint(2, 0))
                             .msg(4, Pb().varint(1, 1714557600).varint(2, 123456789)));
  json::value l = decodeProtobufObject(wrapObject("coordination.k8s.io/v1", "Lease", lease));
  EXPECT_EQ(l.at("spec").at("acquireTime"), "1969-12-31T00:00:00.000000Z");
  EXPECT_EQ(l.at("spec").at("renewTime"), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(l)), l);

  // Out-of-range seconds are rejected, not formatted into nonsense.
  EXPECT_EQ(errorCode(wrapObject("v1", "Namespace",
                                 Pb().msg(1, Pb().msg(8, Pb().varint(1, 1ull << 62))))),
            400);
}

TEST(ProtobufWire, ParsesTimeWithOffsetsAndFractions) {
  std::int64_t s;
  std::int32_t n;
  ASSERT_TRUE(protobuf::parseTime("2024-05-01T12:00:00+02:00", s, n));
  EXPECT_EQ(s, 1714557600);
  ASSERT_TRUE(protobuf::parseTime("2024-05-01T10:00:00.123456Z", s, n));
  EXPECT_EQ(n, 123456000);
  ASSERT_TRUE(protobuf::parseTime("2024-02-29T00:00:00Z", s, n));
  EXPECT_FALSE(protobuf::parseTime("2023-02-29T00:00:00Z", s, n));
  EXPECT_FALSE(protobuf::parseTime("2024-05-01 10:00:00Z", s, n));
  EXPECT_FALSE(protobuf::parseTime("2024-05-01T10:00:00", s, n));
  EXPECT_EQ(protobuf::formatTime(0, 0, false), "1970-01-01T00:00:00Z");
  EXPECT_EQ(protobuf::formatTime(951782400, 0, false), "2000-02-29T00:00:00Z");
  EXPECT_EQ(protobuf::base64Decode("aHVudGVyMg"), "hunter2");
  EXPECT_EQ(protobuf::base64Decode("a$=="), std::nullopt);
}

TEST(ProtobufCodec, IntOrStringAndPackedRepeated) {
  // Packed repeated int64 (supplementalGroups), which Go never sends but protobuf allows.
  std::string payload = Pb().raw("\xe8\x07").raw(std::string_view("\0", 1)).bytes;  // 1000, 0
  Pb pod = Pb().msg(2, Pb().msg(14, Pb().str(4, payload).varint(4, 7)));
  json::value v = decodeProtobufObject(wrapObject("v1", "Pod", pod));
  EXPECT_EQ(v.at("spec").at("securityContext").at("supplementalGroups"), parse("[1000,0,7]"));

  // Negative int32 arrives sign-extended to ten bytes.
  Pb port = Pb().varint(3, std::uint64_t(std::int64_t(-5)));
  Pb container = Pb().str(1, "c").msg(6, port);
  json::value c =
      decodeProtobufObject(wrapObject("v1", "Pod", Pb().msg(2, Pb().msg(2, container))));
  EXPECT_EQ(c.at("spec").at("containers").at(0).at("ports").at(0).at("containerPort"), -5);
}

TEST(ProtobufCodec, SkipsUnknownFields) {
  Pb cm = Pb().msg(1, Pb().str(1, "x").str(999, "future").varint(500, 3))
              .raw("\xb9\x3e\x01\x02\x03\x04\x05\x06\x07\x08")  // field 999, fixed64
              .raw("\xbd\x3e\x01\x02\x03\x04")                  // field 999, fixed32
              .entry(2, "k", "v");
  json::value v = decodeProtobufObject(wrapObject("v1", "ConfigMap", cm));
  EXPECT_EQ(v, parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},
      "data":{"k":"v"}})"));
}

TEST(ProtobufCodec, ReplacesInvalidUtf8) {
  Pb cm = Pb().msg(1, Pb().str(1, "x"))
              .entry(2, "k\xff",
                     "a\xc3\xa9\xed\xa0\x80"
                     "b");
  json::value v = decodeProtobufObject(wrapObject("v1", "ConfigMap", cm));
  EXPECT_EQ(v.at("data"), parse(R"({"k\ufffd":"a\u00e9\ufffd\ufffd\ufffdb"})"));
}

TEST(ProtobufCodec, NullListElementsEncodeAsEmptyMessages) {
  json::value pod = parse(R"({"apiVersion":"v1","kind":"Pod","spec":{"containers":[null]}})");
  json::value back = decodeProtobufObject(encodeProtobufObject(pod));
  EXPECT_EQ(back.at("spec").at("containers"), parse("[{}]"));
}

TEST(ProtobufCodec, SelfSubjectAccessReview) {
  Pb review = Pb().msg(1, Pb())
                  .msg(2, Pb().msg(1, Pb().str(1, "default")
                                          .str(2, "get")
                                          .str(3, "apps")
                                          .str(4, "")
                                          .str(5, "deployments")
                                          .str(6, "scale")))
                  .msg(3, Pb().varint(1, 0).str(2, "").str(3, "").varint(4, 0));
  json::value v = decodeProtobufObject(
      wrapObject("authorization.k8s.io/v1", "SelfSubjectAccessReview", review));
  EXPECT_EQ(v, parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
      "metadata":{},"spec":{"resourceAttributes":{"namespace":"default","verb":"get",
      "group":"apps","resource":"deployments","subresource":"scale"}},"status":{}})"));

  // The server's answer encodes and decodes back.
  v.at("status") = parse(R"({"allowed":true,"reason":"RBAC: allowed"})");
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(v)), v);
}

TEST(ProtobufCodec, StringArrayWrappersAndRawExtensions) {
  json::value review = parse(R"({"apiVersion":"authorization.k8s.io/v1",
      "kind":"SubjectAccessReview","metadata":{},
      "spec":{"user":"bob","groups":["dev"],"extra":{"scopes":["a","b"],"none":[]}},
      "status":{}})");
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(review)), review);

  json::value list = parse(R"({"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"7"},
      "items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},[1,"x",null]]})");
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(list)), list);

  json::value resources = parse(R"({"apiVersion":"v1","kind":"APIResourceList",
      "groupVersion":"v1","resources":[{"name":"pods","namespaced":true,"kind":"Pod",
      "verbs":["get","list"],"shortNames":["po"]}]})");
  EXPECT_EQ(decodeProtobufObject(encodeProtobufObject(resources)), resources);
}

TEST(ProtobufCodec, KindToMessageMapping) {
  EXPECT_TRUE(hasProtobufMessage("v1", "Pod"));
  EXPECT_TRUE(hasProtobufMessage("v1", "PodList"));
  EXPECT_TRUE(hasProtobufMessage("apps/v1", "Deployment"));
  EXPECT_TRUE(hasProtobufMessage("rbac.authorization.k8s.io/v1", "ClusterRole"));
  EXPECT_TRUE(hasProtobufMessage("networking.k8s.io/v1", "Ingress"));
  EXPECT_TRUE(hasProtobufMessage("authorization.k8s.io/v1", "SelfSubjectRulesReview"));
  EXPECT_TRUE(hasProtobufMessage("internal.apiserver.k8s.io/v1alpha1", "StorageVersion"));
  EXPECT_TRUE(hasProtobufMessage("v1", "Status"));  // meta kinds in every group
  EXPECT_TRUE(hasProtobufMessage("apps/v1", "DeleteOptions"));
  EXPECT_TRUE(hasProtobufMessage("meta.k8s.io/v1", "PartialObjectMetadataList"));
  EXPECT_FALSE(hasProtobufMessage("meta.k8s.io/v1", "Table"));  // upstream has none
  EXPECT_FALSE(hasProtobufMessage("apps.example.com/v1", "Deployment"));
  EXPECT_FALSE(hasProtobufMessage("stable.example.com/v1", "CronTab"));
  EXPECT_FALSE(hasProtobufMessage("example.com/v1", "Status"));
  EXPECT_FALSE(hasProtobufMessage("v1", "Time"));  // special messages are not objects
  EXPECT_FALSE(hasProtobufMessage("", "Pod"));
  EXPECT_FALSE(hasProtobufMessage("/v1", "Pod"));
}

TEST(ProtobufCodec, EncodeErrors) {
  auto code = [](std::string_view text) {
    try {
      encodeProtobufObject(parse(text));
    } catch (const ApiError& e) {
      return e.code();
    }
    return 0;
  };
  EXPECT_EQ(code(R"({"apiVersion":"stable.example.com/v1","kind":"CronTab"})"), 406);
  EXPECT_EQ(code(R"({"kind":"Pod"})"), 406);
  EXPECT_EQ(code(R"([1,2])"), 406);
  EXPECT_EQ(code(R"({"apiVersion":"v1","kind":"Pod","spec":{"containers":"x"}})"), 500);
  EXPECT_EQ(code(R"({"apiVersion":"v1","kind":"Pod","spec":{"priority":4294967296}})"), 500);
  EXPECT_EQ(code(R"({"apiVersion":"v1","kind":"Secret","data":{"a":"!!"}})"), 500);
  EXPECT_EQ(code(R"({"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"now"}})"),
            500);
  // Unknown JSON fields and nulls are simply not written.
  EXPECT_EQ(code(R"({"apiVersion":"v1","kind":"Pod","bogus":1,"spec":null})"), 0);
}

TEST(ProtobufCodec, RejectsMalformedBodies) {
  EXPECT_EQ(errorCode(""), 400);
  EXPECT_EQ(errorCode("{\"kind\":\"Pod\"}"), 400);
  EXPECT_EQ(errorCode(std::string("k8s\0", 4)), 400);  // no TypeMeta
  EXPECT_EQ(errorCode(wrapObject("stable.example.com/v1", "CronTab", Pb())), 400);
  EXPECT_EQ(errorCode(wrapObject("v1", "ConfigMap", Pb().varint(1, 5))), 400);  // wrong type
  EXPECT_EQ(errorCode(wrapObject("v1", "ConfigMap", Pb().raw("\x0a\x05\x0a"))), 400);
  // Field 100 as a varint longer than 64 bits.
  EXPECT_EQ(errorCode(wrapObject("v1", "ConfigMap",
                                 Pb().raw("\xa0\x06\xff\xff\xff\xff\xff"
                                          "\xff\xff\xff\xff\xff\x01"))),
            400);
  EXPECT_EQ(errorCode(wrapObject("v1", "ConfigMap", Pb().raw("\xa3\x06"))), 400);  // group
  EXPECT_EQ(errorCode(wrapObject("v1", "ConfigMap", Pb().raw(std::string_view("\0\0", 2)))), 400);
  // Embedded JSON must be JSON.
  EXPECT_EQ(errorCode(wrapObject("v1", "List", Pb().msg(2, Pb().str(1, "{nope")))), 400);
  // gzip-encoded payloads are not supported.
  Pb unknown = Pb().msg(1, Pb().str(1, "v1").str(2, "ConfigMap")).msg(2, Pb()).str(3, "gzip");
  EXPECT_EQ(errorCode(std::string("k8s\0", 4) + unknown.bytes), 400);
}

TEST(ProtobufCodec, LimitsNestingDepth) {
  // Lists embedding lists through RawExtension, 200 deep.
  std::string body = wrapObject("v1", "ConfigMap", Pb());
  for (int i = 0; i < 200; ++i) body = wrapObject("v1", "List", Pb().msg(2, Pb().str(1, body)));
  EXPECT_EQ(errorCode(body), 400);
  // Deep JSON inside a RawExtension.
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_EQ(errorCode(wrapObject("v1", "List", Pb().msg(2, Pb().str(1, deep)))), 400);
  // Ten levels are fine.
  std::string ok = wrapObject("v1", "ConfigMap", Pb());
  for (int i = 0; i < 10; ++i) ok = wrapObject("v1", "List", Pb().msg(2, Pb().str(1, ok)));
  EXPECT_EQ(errorCode(ok), 0);
}

TEST(ProtobufCodec, TruncatedAndCorruptedBodiesNeverCrash) {
  std::string good = wrapObject("apps/v1", "Deployment", webDeployment(3));
  for (std::size_t n = 0; n < good.size(); ++n) {
    int code = errorCode(good.substr(0, n));
    EXPECT_TRUE(code == 0 || code == 400) << "length " << n;
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string bad = good;
    int flips = 1 + int(rng() % 4);
    for (int i = 0; i < flips; ++i) bad[4 + rng() % (bad.size() - 4)] = char(rng());
    try {
      decodeProtobufObject(bad);
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), 400);
    }
  }
}

}  // namespace
}  // namespace skiff::api
