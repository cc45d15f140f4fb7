// containerEnv and the expansion helpers against a fake API (an in-memory object map).
#include "kubelet/container_env.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "common/base64.h"

namespace skiff::kubelet {
namespace {

namespace json = boost::json;

json::object obj(const char* text) { return json::parse(text).as_object(); }

// Objects by "resource/ns/name"; names in `failing` throw like a broken connection.
struct FakeApi {
  std::map<std::string, json::object> objects;
  std::set<std::string> failing;
  int calls = 0;

  void put(const client::Resource& r, const std::string& ns, const std::string& name,
           json::object o) {
    objects[r.resource + "/" + ns + "/" + name] = std::move(o);
  }
  ObjectFetcher fetcher() {
    return [this](const client::Resource& r, const std::string& ns,
                  const std::string& name) -> std::optional<json::object> {
      ++calls;
      if (failing.count(name)) throw std::runtime_error("connection refused");
      auto it = objects.find(r.resource + "/" + ns + "/" + name);
      if (it == objects.end()) return std::nullopt;
      return it->second;
    };
  }
};

json::object configMap(std::initializer_list<std::pair<const char*, const char*>> data) {
  json::object d;
  for (auto& [k, v] : data) d[k] = v;
  return json::object{{"kind", "ConfigMap"}, {"data", d}};
}

json::object secret(std::initializer_list<std::pair<const char*, const char*>> data) {
  json::object d;
  for (auto& [k, v] : data) d[k] = base64Encode(v);
  return json::object{{"kind", "Secret"}, {"data", d}};
}

class ContainerEnvTest : public ::testing::Test {
 protected:
  json::object pod = obj(R"({
    "metadata": {"name": "web-0", "namespace": "ns", "uid": "uid-123",
                 "labels": {"app": "web", "tier": "front"},
                 "annotations": {"note": "hello \"world\""}},
    "spec": {"nodeName": "node-a", "serviceAccountName": "builder",
             "containers": [
               {"name": "app", "resources": {"limits": {"cpu": "250m", "memory": "64Mi"},
                                             "requests": {"cpu": "100m", "memory": "100M"}}},
               {"name": "side", "resources": {"requests": {"cpu": "2"}}}]}
  })");
  PodRuntimeInfo info{"node-a", "10.0.0.5", "10.244.1.7", {"10.244.1.7", "fd00::7"}};
  FakeApi api;

  EnvList env(const char* container, const std::map<std::string, std::string>& allocatable = {}) {
    return containerEnv(pod, obj(container), info, api.fetcher(), allocatable);
  }
  std::string value(const EnvList& e, const std::string& name) {
    for (auto& [k, v] : e)
      if (k == name) return v;
    ADD_FAILURE() << "no variable " << name;
    return "";
  }
  bool has(const EnvList& e, const std::string& name) {
    for (auto& [k, v] : e)
      if (k == name) return true;
    return false;
  }
  // The message of the ContainerConfigError `container` raises ("" when none).
  std::string configError(const char* container) {
    try {
      env(container);
    } catch (const ContainerConfigError& e) {
      EXPECT_EQ(e.reason, "CreateContainerConfigError");
      return e.what();
    }
    return "";
  }
};

TEST_F(ContainerEnvTest, PlainValuesInDeclarationOrder) {
  auto e = env(R"({"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"},
                                          {"name": "EMPTY"}]})");
  EnvList want{{"B", "2"}, {"A", "1"}, {"EMPTY", ""}};
  EXPECT_EQ(e, want);
}

TEST_F(ContainerEnvTest, ValueExpandsEarlierEntriesOnly) {
  auto e = env(R"J({"name": "app", "env": [
      {"name": "HOST", "value": "db"},
      {"name": "URL", "value": "http://$(HOST):$(PORT)/$$(HOST)"},
      {"name": "PORT", "value": "5432"}]})J");
  EXPECT_EQ(value(e, "URL"), "http://db:$(PORT)/$(HOST)");
}

TEST_F(ContainerEnvTest, LaterEntryOverridesButKeepsFirstPosition) {
  auto e = env(R"({"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                                          {"name": "A", "value": "$(A)-again"}]})");
  EnvList want{{"A", "1-again"}, {"B", "2"}};
  EXPECT_EQ(e, want);
}

TEST_F(ContainerEnvTest, EnvFromConfigMapWithPrefix) {
  api.put(client::resources::configMaps, "ns", "cfg",
          configMap({{"MODE", "fast"}, {"LEVEL", "3"}}));
  auto e =
      env(R"({"name": "app", "envFrom": [{"prefix": "APP_", "configMapRef": {"name": "cfg"}}]})");
  EXPECT_EQ(value(e, "APP_MODE"), "fast");
  EXPECT_EQ(value(e, "APP_LEVEL"), "3");
  EXPECT_EQ(e.size(), 2u);
}

TEST_F(ContainerEnvTest, EnvFromSecretIsBase64Decoded) {
  api.put(client::resources::secrets, "ns", "creds", secret({{"PASSWORD", "s3cr=t\n"}}));
  auto e = env(R"({"name": "app", "envFrom": [{"secretRef": {"name": "creds"}}]})");
  EXPECT_EQ(value(e, "PASSWORD"), "s3cr=t\n");
}

TEST_F(ContainerEnvTest, EnvEntriesOverrideEnvFromAndSeeItsValues) {
  api.put(client::resources::configMaps, "ns", "cfg",
          configMap({{"MODE", "fast"}, {"USER", "bob"}}));
  auto e = env(R"J({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}],
                   "env": [{"name": "MODE", "value": "slow"}, {"name": "GREETING", "value": "hi $(USER)"}]})J");
  EXPECT_EQ(value(e, "MODE"), "slow");
  EXPECT_EQ(value(e, "GREETING"), "hi bob");
  EXPECT_EQ(e.front().first, "MODE");  // envFrom's position
}

TEST_F(ContainerEnvTest, EnvFromMissingConfigMapFails) {
  EXPECT_EQ(configError(R"({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}]})"),
            "configmap \"cfg\" not found");
  EXPECT_EQ(configError(R"({"name": "app", "envFrom": [{"secretRef": {"name": "creds"}}]})"),
            "secret \"creds\" not found");
}

TEST_F(ContainerEnvTest, EnvFromOptionalMissingSourcesAreSkipped) {
  auto e = env(R"({"name": "app", "envFrom": [
      {"configMapRef": {"name": "cfg", "optional": true}},
      {"secretRef": {"name": "creds", "optional": true}}],
    "env": [{"name": "A", "value": "1"}]})");
  EnvList want{{"A", "1"}};
  EXPECT_EQ(e, want);
}

TEST_F(ContainerEnvTest, ConfigMapKeyRef) {
  api.put(client::resources::configMaps, "ns", "cfg", configMap({{"k", "v1"}}));
  auto e = env(R"({"name": "app", "env": [
      {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]})");
  EXPECT_EQ(value(e, "K"), "v1");
}

TEST_F(ContainerEnvTest, ConfigMapKeyRefMissingKeyFails) {
  api.put(client::resources::configMaps, "ns", "cfg", configMap({{"other", "x"}}));
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]})"),
            "couldn't find key k in ConfigMap ns/cfg");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]})"),
            "configmap \"absent\" not found");
}

TEST_F(ContainerEnvTest, OptionalKeyRefsLeaveTheVariableOut) {
  api.put(client::resources::configMaps, "ns", "cfg", configMap({{"other", "x"}}));
  api.put(client::resources::secrets, "ns", "creds", secret({{"other", "x"}}));
  auto e = env(R"({"name": "app", "env": [
      {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": true}}},
      {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": true}}},
      {"name": "C", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k", "optional": true}}},
      {"name": "D", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": true}}},
      {"name": "E", "value": "e"}]})");
  EnvList want{{"E", "e"}};
  EXPECT_EQ(e, want);
}

TEST_F(ContainerEnvTest, SecretKeyRefIsDecodedAndMissingKeyFails) {
  api.put(client::resources::secrets, "ns", "creds", secret({{"token", "abc:def"}}));
  auto e = env(R"({"name": "app", "env": [
      {"name": "T", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]})");
  EXPECT_EQ(value(e, "T"), "abc:def");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "T", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope"}}}]})"),
            "couldn't find key nope in Secret ns/creds");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "T", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "token"}}}]})"),
            "secret \"gone\" not found");
}

TEST_F(ContainerEnvTest, EachObjectIsFetchedOncePerCall) {
  api.put(client::resources::configMaps, "ns", "cfg", configMap({{"a", "1"}, {"b", "2"}}));
  env(R"({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}], "env": [
      {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}},
      {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "b"}}}]})");
  EXPECT_EQ(api.calls, 1);
}

TEST_F(ContainerEnvTest, FetchFailureIsAConfigError) {
  api.failing.insert("cfg");
  EXPECT_EQ(
      configError(
          R"({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg", "optional": true}}]})"),
      "connection refused");
}

TEST_F(ContainerEnvTest, FieldRefs) {
  auto e = env(R"({"name": "app", "env": [
      {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
      {"name": "NS", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
      {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
      {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
      {"name": "NONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['absent']"}}},
      {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
      {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
      {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
      {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
      {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
      {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
      {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}}]})");
  EXPECT_EQ(value(e, "NAME"), "web-0");
  EXPECT_EQ(value(e, "NS"), "ns");
  EXPECT_EQ(value(e, "UID"), "uid-123");
  EXPECT_EQ(value(e, "APP"), "web");
  EXPECT_EQ(value(e, "NONE"), "");
  EXPECT_EQ(value(e, "NOTE"), "hello \"world\"");
  EXPECT_EQ(value(e, "LABELS"), "app=\"web\"\ntier=\"front\"");
  EXPECT_EQ(value(e, "NODE"), "node-a");
  EXPECT_EQ(value(e, "SA"), "builder");
  EXPECT_EQ(value(e, "HOST_IP"), "10.0.0.5");
  EXPECT_EQ(value(e, "POD_IP"), "10.244.1.7");
  EXPECT_EQ(value(e, "POD_IPS"), "10.244.1.7,fd00::7");
}

TEST_F(ContainerEnvTest, PodIpFallsBackToPodIpWithoutList) {
  info.podIPs.clear();
  auto e = env(R"({"name": "app", "env": [
      {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}}]})");
  EXPECT_EQ(value(e, "IPS"), "10.244.1.7");
}

TEST_F(ContainerEnvTest, UnsupportedFieldPathFails) {
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}]})"),
            "unsupported fieldPath: spec.hostname");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name['x']"}}}]})"),
            "fieldPath \"metadata.name['x']\" does not support subscript");
}

TEST_F(ContainerEnvTest, ResourceFieldRefRoundsUpToTheDivisor) {
  auto e = env(R"({"name": "app", "resources": {"limits": {"cpu": "250m", "memory": "64Mi"},
                                                "requests": {"cpu": "100m", "memory": "100M"}},
    "env": [
      {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
      {"name": "CPU_1", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}}},
      {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
      {"name": "REQ_CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "30m"}}},
      {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
      {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
      {"name": "REQ_MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}}},
      {"name": "DISK", "valueFrom": {"resourceFieldRef": {"resource": "requests.ephemeral-storage"}}}]})");
  EXPECT_EQ(value(e, "CPU"), "1");
  EXPECT_EQ(value(e, "CPU_1"), "1");
  EXPECT_EQ(value(e, "CPU_M"), "250");
  EXPECT_EQ(value(e, "REQ_CPU"), "4");  // 100m / 30m = 3.33
  EXPECT_EQ(value(e, "MEM"), std::to_string(64 * 1024 * 1024));
  EXPECT_EQ(value(e, "MEM_MI"), "64");
  EXPECT_EQ(value(e, "REQ_MEM_MI"), "96");  // 100e6 / 2^20 = 95.4
  EXPECT_EQ(value(e, "DISK"), "0");
}

TEST_F(ContainerEnvTest, ResourceFieldRefUnsetLimitsDefaultToNodeAllocatable) {
  auto e = env(R"({"name": "app", "env": [
      {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
      {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}}},
      {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}}]})",
               {{"cpu", "4"}, {"memory", "8Gi"}});
  EXPECT_EQ(value(e, "CPU"), "4000");
  EXPECT_EQ(value(e, "MEM"), "8");
  EXPECT_EQ(value(e, "REQ"), "0");  // requests never default
}

TEST_F(ContainerEnvTest, ResourceFieldRefOfAnotherContainer) {
  auto e = env(R"({"name": "app", "env": [
      {"name": "SIDE", "valueFrom": {"resourceFieldRef": {"containerName": "side", "resource": "requests.cpu",
                                                          "divisor": "500m"}}}]})");
  EXPECT_EQ(value(e, "SIDE"), "4");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "X", "valueFrom": {"resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}}}]})"),
            "container nope not found");
  EXPECT_EQ(configError(R"({"name": "app", "env": [
                {"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]})"),
            "Unsupported container resource : limits.gpu");
}

TEST_F(ContainerEnvTest, ServiceVariablesExpandAndAreAppended) {
  std::map<std::string, std::string> services{{"DB_SERVICE_HOST", "10.96.0.9"},
                                              {"A", "from-service"}};
  auto e = containerEnv(pod, obj(R"J({"name": "app", "env": [
      {"name": "A", "value": "mine"}, {"name": "URL", "value": "$(DB_SERVICE_HOST)"}]})J"),
                        info, api.fetcher(), {}, services);
  EnvList want{{"A", "mine"}, {"URL", "10.96.0.9"}, {"DB_SERVICE_HOST", "10.96.0.9"}};
  EXPECT_EQ(e, want);
}

TEST(ContainerEnvExpansion, EdgeCases) {
  std::map<std::string, std::string> env{{"A", "x"}, {"B", "y"}, {"EMPTY", ""}};
  EXPECT_EQ(expandEnvReferences("$(A)$(B)", env), "xy");
  EXPECT_EQ(expandEnvReferences("$$", env), "$");
  EXPECT_EQ(expandEnvReferences("$$(A)", env), "$(A)");
  EXPECT_EQ(expandEnvReferences("$$$(A)", env), "$x");
  EXPECT_EQ(expandEnvReferences("$(A", env), "$(A");
  EXPECT_EQ(expandEnvReferences("$(A$(B)", env), "$(A$(B)");  // the name runs to the first ")"
  EXPECT_EQ(expandEnvReferences("$(UNKNOWN)-$(A)", env), "$(UNKNOWN)-x");
  EXPECT_EQ(expandEnvReferences("$(EMPTY)|", env), "|");
  EXPECT_EQ(expandEnvReferences("$()", env), "$()");
  EXPECT_EQ(expandEnvReferences("cost $5 $", env), "cost $5 $");
  EXPECT_EQ(expandEnvReferences("", env), "");
  EXPECT_EQ(expandEnvReferences("no refs", env), "no refs");
}

TEST(ContainerEnvExpansion, ExpandAllCommandAndArgs) {
  std::map<std::string, std::string> env{{"MSG", "hello"}};
  auto args = json::parse(R"J(["echo", "$(MSG)", "$$(MSG)", "$(NOPE)"])J").as_array();
  EXPECT_EQ(expandAll(&args, env),
            (std::vector<std::string>{"echo", "hello", "$(MSG)", "$(NOPE)"}));
  EXPECT_TRUE(expandAll(nullptr, env).empty());
}

TEST(ContainerEnvExpansion, SubPathExprNeedsEveryVariable) {
  std::map<std::string, std::string> env{{"POD", "web-0"}, {"EMPTY", ""}};
  EXPECT_EQ(expandSubPathExpr("logs/$(POD)", env), "logs/web-0");
  try {
    expandSubPathExpr("$(POD)/$(NOPE)/$(EMPTY)", env);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "missing value for EMPTY, NOPE");
  }
}

TEST(ContainerEnvDownward, FormatMapQuotesLikeGo) {
  auto m = obj(R"({"z": "plain", "a": "say \"hi\"\n\\ok\t", "m": "ünï"})");
  EXPECT_EQ(formatDownwardMap(&m), "a=\"say \\\"hi\\\"\\n\\\\ok\\t\"\nm=\"ünï\"\nz=\"plain\"");
  EXPECT_EQ(formatDownwardMap(nullptr), "");
}

TEST(ContainerEnvServices, ServiceLinkVariables) {
  std::vector<json::object> services{
      obj(R"({"metadata": {"name": "kubernetes", "namespace": "default"},
              "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}})"),
      obj(R"({"metadata": {"name": "my-db", "namespace": "ns"},
              "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 5432}, {"name": "metrics", "port": 9187,
                                                                             "protocol": "UDP"}]}})"),
      obj(R"({"metadata": {"name": "headless", "namespace": "ns"}, "spec": {"clusterIP": "None",
              "ports": [{"port": 80}]}})"),
      obj(R"({"metadata": {"name": "elsewhere", "namespace": "other"}, "spec": {"clusterIP": "10.96.0.3",
              "ports": [{"port": 80}]}})")};
  auto env = serviceEnvironment(services, "ns", true);
  EXPECT_EQ(env["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
  EXPECT_EQ(env["KUBERNETES_SERVICE_PORT"], "443");
  EXPECT_EQ(env["KUBERNETES_SERVICE_PORT_HTTPS"], "443");
  EXPECT_EQ(env["KUBERNETES_PORT"], "tcp://10.96.0.1:443");
  EXPECT_EQ(env["KUBERNETES_PORT_443_TCP_ADDR"], "10.96.0.1");
  EXPECT_EQ(env["MY_DB_SERVICE_HOST"], "10.96.0.9");
  EXPECT_EQ(env["MY_DB_SERVICE_PORT"], "5432");
  EXPECT_EQ(env["MY_DB_SERVICE_PORT_METRICS"], "9187");
  EXPECT_EQ(env["MY_DB_PORT"], "tcp://10.96.0.9:5432");
  EXPECT_EQ(env["MY_DB_PORT_9187_UDP"], "udp://10.96.0.9:9187");
  EXPECT_EQ(env["MY_DB_PORT_9187_UDP_PROTO"], "udp");
  EXPECT_EQ(env["MY_DB_PORT_9187_UDP_PORT"], "9187");
  EXPECT_FALSE(env.count("HEADLESS_SERVICE_HOST"));
  EXPECT_FALSE(env.count("ELSEWHERE_SERVICE_HOST"));

  auto linksOff = serviceEnvironment(services, "ns", false);
  EXPECT_TRUE(linksOff.count("KUBERNETES_SERVICE_HOST"));
  EXPECT_FALSE(linksOff.count("MY_DB_SERVICE_HOST"));
}

}  // namespace
}  // namespace skiff::kubelet
