// Golden inputs: the exact bodies kubectl v1.32 POSTed (captured from a throwaway HTTP
// listener), decoded to the JSON upstream would produce for the same objects (minus
// `creationTimestamp: null`, which skiff omits).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/protobuf_codec.h"
#include "common/api_error.h"
#include "unit/api/protobuf_test_util.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::fromHex;

// kubectl create namespace ns1
constexpr std::string_view kNamespace =
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a00320038004200"
    "12001a020a001a002200";

// kubectl create configmap x --from-literal=a=b --from-literal=empty=
constexpr std::string_view kConfigMap =
    "6b3873000a0f0a0276311209436f6e6669674d617012260a110a017812001a0022002a003200380042001206"
    "0a016112016212090a05656d70747912001a002200";

// kubectl create secret generic s --from-literal=password=hunter2
constexpr std::string_view kSecret =
    "6b3873000a0c0a0276311206536563726574122a0a110a017312001a0022002a0032003800420012130a0870"
    "617373776f7264120768756e746572321a001a002200";

// kubectl create deployment web --image=nginx:1.25 --replicas=3 --port=80
constexpr std::string_view kDeployment =
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bd010a1f0a0377656212001a0022002a"
    "003200380042005a0a0a036170701203776562128b010803120c0a0a0a0361707012037765621a710a1c0a00"
    "12001a0022002a003200380042005a0a0a036170701203776562125112330a056e67696e78120a6e67696e78"
    "3a312e32352a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a"
    "0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a"
    "002200";

// kubectl create deployment zero --image=busybox --replicas=0
constexpr std::string_view kDeploymentZero =
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b4010a210a047a65726f12001a002200"
    "2a003200380042005a0b0a0361707012047a65726f1280010800120d0a0b0a0361707012047a65726f1a650a"
    "1d0a0012001a0022002a003200380042005a0b0a0361707012047a65726f124412260a0762757379626f7812"
    "0762757379626f782a0042006a007200800100880100900100a201001a00320042004a005200580060006800"
    "8201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200";

// kubectl auth can-i get pods
constexpr std::string_view kAccessReview =
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374"
    "416363657373526576696577123c0a100a0012001a0022002a00320038004200121e0a1c0a0764656661756c"
    "7412036765741a0022002a04706f647332003a001a08080012001a0020001a002200";

// kubectl auth can-i --list
constexpr std::string_view kRulesReview =
    "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a656374"
    "52756c657352657669657712230a100a0012001a0022002a0032003800420012090a0764656661756c741a04"
    "180022001a002200";

struct Golden {
  std::string_view hex;
  std::string_view json;
};

const Golden kGoldens[] = {
    {kNamespace,
     R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns1"},"spec":{},"status":{}})"},
    {kConfigMap,
     R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},
         "data":{"a":"b","empty":""}})"},
    {kSecret,
     R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
         "data":{"password":"aHVudGVyMg=="}})"},
    {kDeployment,
     R"({"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"web","labels":{"app":"web"}},
         "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
           "template":{"metadata":{"labels":{"app":"web"}},
             "spec":{"containers":[{"name":"nginx","image":"nginx:1.25",
               "ports":[{"containerPort":80}],"resources":{}}]}},
           "strategy":{}},
         "status":{}})"},
    {kDeploymentZero,
     R"({"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"zero","labels":{"app":"zero"}},
         "spec":{"replicas":0,"selector":{"matchLabels":{"app":"zero"}},
           "template":{"metadata":{"labels":{"app":"zero"}},
             "spec":{"containers":[{"name":"busybox","image":"busybox","resources":{}}]}},
           "strategy":{}},
         "status":{}})"},
    {kAccessReview,
     R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{},
         "spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}},
         "status":{}})"},
    {kRulesReview,
     R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","metadata":{},
         "spec":{"namespace":"default"},"status":{}})"},
};

TEST(ProtobufGolden, DecodesWhatKubectlSends) {
  for (const Golden& g : kGoldens) {
    json::value v = decodeProtobufObject(fromHex(g.hex));
    EXPECT_EQ(v, json::parse(g.json)) << json::serialize(v);
  }
}

TEST(ProtobufGolden, RoundTripsThroughJson) {
  for (const Golden& g : kGoldens) {
    json::value v = decodeProtobufObject(fromHex(g.hex));
    std::string bytes = encodeProtobufObject(v);
    EXPECT_EQ(decodeProtobufObject(bytes), v) << json::serialize(v);
  }
}

TEST(ProtobufGolden, EveryTruncationIsABadRequestOrAValidPrefix) {
  for (const Golden& g : kGoldens) {
    std::string body = fromHex(g.hex);
    for (std::size_t n = 0; n < body.size(); ++n) {
      try {
        decodeProtobufObject(std::string_view(body).substr(0, n));
      } catch (const ApiError& e) {
        EXPECT_EQ(e.code(), 400);
      }
    }
  }
}

}  // namespace
}  // namespace skiff::api
