// Audit policy parsing and matching, the Event's JSON, and the log file's rotation.
#include "apiserver/audit.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apiserver/kubelet_proxy.h"
#include "common/api_error.h"

using namespace skiff::apiserver;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

AuthorizationAttributes resourceAttrs(const UserInfo& user, std::string verb, std::string group,
                                      std::string resource, std::string ns, std::string name,
                                      std::string sub = "") {
  AuthorizationAttributes a;
  a.user = &user;
  a.verb = std::move(verb);
  a.resourceRequest = true;
  a.apiGroup = std::move(group);
  a.apiVersion = "v1";
  a.resource = std::move(resource);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

AuthorizationAttributes pathAttrs(const UserInfo& user, std::string verb, std::string path) {
  AuthorizationAttributes a;
  a.user = &user;
  a.verb = std::move(verb);
  a.path = std::move(path);
  return a;
}

const char* kPolicy = R"(apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - "RequestReceived"
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    userGroups: ["system:nodes"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["secrets", "configmaps"]
  - level: Request
    resources:
    - group: ""
      resources: ["pods/log", "*/scale"]
  - level: RequestResponse
    omitStages: ["ResponseStarted"]
    resources:
    - group: "apps"
      resources: ["deployments"]
      resourceNames: ["web"]
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: Metadata
    namespaces: ["kube-system"]
  - level: Request
    omitManagedFields: true
)";

}  // namespace

TEST(AuditPolicy, ParsesRules) {
  AuditPolicy p = parseAuditPolicy(kPolicy);
  ASSERT_EQ(p.rules.size(), 8u);
  EXPECT_EQ(p.omitStages, std::vector<std::string>{"RequestReceived"});
  EXPECT_EQ(p.rules[0].level, AuditLevel::None);
  EXPECT_EQ(p.rules[0].users, std::vector<std::string>{"system:kube-proxy"});
  EXPECT_EQ(p.rules[4].resources[0].group, "apps");
  EXPECT_EQ(p.rules[4].resources[0].resourceNames, std::vector<std::string>{"web"});
  EXPECT_EQ(p.rules[5].nonResourceURLs.size(), 2u);
  EXPECT_EQ(p.rules[7].omitManagedFields, std::optional<bool>(true));
}

TEST(AuditPolicy, RefusesBadPolicies) {
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Pod\nrules: [{level: None}]"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\n"
                                "rules: [{level: None}]"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                                "rules: [{level: Verbose}]"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                                "rules: [{level: None, omitStages: [Later]}]"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                                "- level: None\n  nonResourceURLs: [/x]\n  namespaces: [a]\n"),
               std::runtime_error);
  EXPECT_THROW(parseAuditPolicy("{{{"), std::runtime_error);
}

TEST(AuditPolicy, FirstMatchingRuleWins) {
  AuditPolicy p = parseAuditPolicy(kPolicy);
  UserInfo admin{"admin", {"system:masters", "system:authenticated"}, "", {}};
  UserInfo proxy{"system:kube-proxy", {"system:authenticated"}, "", {}};
  UserInfo node{"system:node:n1", {"system:nodes", "system:authenticated"}, "", {}};

  auto level = [&](const AuthorizationAttributes& a) { return evaluateAuditPolicy(p, a).level; };
  // users + verbs: both must match.
  EXPECT_EQ(level(resourceAttrs(proxy, "watch", "", "endpoints", "", "")), AuditLevel::None);
  EXPECT_EQ(level(resourceAttrs(proxy, "list", "", "endpoints", "", "")), AuditLevel::Request);
  // userGroups: any group.
  EXPECT_EQ(level(resourceAttrs(node, "get", "", "secrets", "default", "s")), AuditLevel::None);
  // The secrets rule before the catch-all Request rule.
  EXPECT_EQ(level(resourceAttrs(admin, "get", "", "secrets", "default", "s")),
            AuditLevel::Metadata);
  // A subresource does not match its resource's plain name.
  EXPECT_EQ(level(resourceAttrs(admin, "get", "", "pods", "default", "p")), AuditLevel::Request);
  EXPECT_EQ(level(resourceAttrs(admin, "get", "", "pods", "default", "p", "log")),
            AuditLevel::Request);
  EXPECT_EQ(level(resourceAttrs(admin, "update", "apps", "deployments", "default", "x", "scale")),
            AuditLevel::Request);
  // resourceNames.
  EXPECT_EQ(level(resourceAttrs(admin, "get", "apps", "deployments", "default", "web")),
            AuditLevel::RequestResponse);
  EXPECT_EQ(level(resourceAttrs(admin, "get", "apps", "deployments", "kube-system", "db")),
            AuditLevel::Metadata);  // falls to the namespaces rule
  // The group must match: secrets of another group are not the core ones.
  EXPECT_EQ(level(resourceAttrs(admin, "get", "example.com", "secrets", "default", "s")),
            AuditLevel::Request);
  // Non-resource URLs: prefix with "*", exact otherwise; never matched by resource rules.
  EXPECT_EQ(level(pathAttrs(admin, "get", "/healthz/etcd")), AuditLevel::None);
  EXPECT_EQ(level(pathAttrs(admin, "get", "/version")), AuditLevel::None);
  EXPECT_EQ(level(pathAttrs(admin, "get", "/versionx")), AuditLevel::Request);
  // omitStages: the policy's and the rule's.
  auto d = evaluateAuditPolicy(p, resourceAttrs(admin, "get", "apps", "deployments", "d", "web"));
  EXPECT_EQ(d.omitStages, (std::vector<std::string>{"RequestReceived", "ResponseStarted"}));
  EXPECT_FALSE(d.omitManagedFields);
  d = evaluateAuditPolicy(p, resourceAttrs(admin, "get", "", "pods", "default", "p"));
  EXPECT_TRUE(d.omitManagedFields);
}

TEST(AuditPolicy, NoRuleMeansNone) {
  AuditPolicy p = parseAuditPolicy(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  users: [bob]\n");
  UserInfo admin{"admin", {}, "", {}};
  EXPECT_EQ(evaluateAuditPolicy(p, resourceAttrs(admin, "get", "", "pods", "", "")).level,
            AuditLevel::None);
}

TEST(AuditEvent, FieldsInUpstreamOrder) {
  AuditEvent ev;
  ev.decision.level = AuditLevel::RequestResponse;
  ev.auditId = "5d0b4d7e-0bd8-4b36-9e36-4f1d3d2f3a01";
  ev.requestUri = "/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create";
  ev.verb = "create";
  ev.user = UserInfo{"admin", {"system:masters", "system:authenticated"}, "", {}};
  ev.sourceIps = {"127.0.0.1"};
  ev.userAgent = "kubectl/v1.32.0";
  ev.resourceRequest = true;
  ev.resource = "configmaps";
  ev.namespace_ = "default";
  ev.name = "cm";
  ev.apiVersion = "v1";
  ev.responseStatus = json::object{{"metadata", json::object{}}, {"code", 201}};
  ev.requestObject = json::parse(R"({"kind":"ConfigMap"})");
  ev.responseObject = json::parse(R"({"kind":"ConfigMap","metadata":{"name":"cm"}})");
  ev.received =
      std::chrono::system_clock::time_point(std::chrono::microseconds(1'800'000'000'000'123));
  ev.annotations = {{"authorization.k8s.io/reason", ""},
                    {"authorization.k8s.io/decision", "allow"}};
  auto at = ev.received + std::chrono::microseconds(2500);
  EXPECT_EQ(json::serialize(ev.toJson("ResponseComplete", at)),
            R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse",)"
            R"("auditID":"5d0b4d7e-0bd8-4b36-9e36-4f1d3d2f3a01","stage":"ResponseComplete",)"
            R"("requestURI":"/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create",)"
            R"("verb":"create","user":{"username":"admin","groups":["system:masters",)"
            R"("system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"kubectl/v1.32.0",)"
            R"("objectRef":{"resource":"configmaps","namespace":"default","name":"cm",)"
            R"("apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},)"
            R"("requestObject":{"kind":"ConfigMap"},"responseObject":{"kind":"ConfigMap",)"
            R"("metadata":{"name":"cm"}},"requestReceivedTimestamp":"2027-01-15T08:00:00.000123Z",)"
            R"("stageTimestamp":"2027-01-15T08:00:00.002623Z","annotations":{)"
            R"("authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}})");
  // RequestReceived carries no responseStatus and no bodies beyond the request's; Metadata
  // carries no bodies at all.
  auto received = ev.toJson("RequestReceived", ev.received);
  EXPECT_FALSE(received.contains("responseStatus"));
  EXPECT_FALSE(received.contains("responseObject"));
  EXPECT_TRUE(received.contains("requestObject"));
  ev.decision.level = AuditLevel::Metadata;
  auto meta = ev.toJson("ResponseComplete", at);
  EXPECT_FALSE(meta.contains("requestObject"));
  EXPECT_FALSE(meta.contains("responseObject"));
  EXPECT_EQ(meta.at("level"), "Metadata");
}

TEST(AuditEvent, BodiesWithoutManagedFields) {
  auto v = auditBody(R"({"metadata":{"name":"a","managedFields":[{}]},"items":[)"
                     R"({"metadata":{"managedFields":[]}}]})",
                     true);
  ASSERT_TRUE(v);
  EXPECT_EQ(json::serialize(*v), R"({"metadata":{"name":"a"},"items":[{"metadata":{}}]})");
  EXPECT_FALSE(auditBody("apiVersion: v1", false));
  EXPECT_FALSE(auditBody("", false));
  EXPECT_FALSE(auditBody("{bad", false));
}

TEST(AuditLog, RotatesAtTheSizeLimitWithLumberjackNames) {
  fs::path dir = fs::temp_directory_path() / ("skiff-audit-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string path = (dir / "audit.log").string();
  {
    AuditLog log(AuditLogOptions{path, 1, 2, 0});
    std::string line(300 * 1024, 'x');
    for (int i = 0; i < 5; ++i) log.write(line);  // 1.5 MB: one rotation, then a second file
    log.flush();
    for (int i = 0; i < 10; ++i) log.write(line);  // more rotations, only 2 backups kept
    log.flush();
  }
  int backups = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name == "audit.log") continue;
    ++backups;
    // audit-2006-01-02T15-04-05.000.log
    EXPECT_EQ(name.size(), std::string("audit-2006-01-02T15-04-05.000.log").size()) << name;
    EXPECT_TRUE(name.starts_with("audit-20")) << name;
    EXPECT_LE(fs::file_size(e.path()), 1024u * 1024u);
  }
  EXPECT_EQ(backups, 2);
  EXPECT_LE(fs::file_size(path), 1024u * 1024u);
  fs::remove_all(dir);
}

TEST(AuditLog, BackupName) {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'042));
  EXPECT_EQ(AuditLog::backupName("/var/log/audit.log", t),
            "/var/log/audit-2027-01-15T08-00-00.042.log");
  EXPECT_EQ(AuditLog::backupName("audit", t), "audit-2027-01-15T08-00-00.042");
}

TEST(AuditTime, MicroTime) {
  EXPECT_EQ(auditTimestamp(std::chrono::system_clock::time_point(std::chrono::microseconds(5))),
            "1970-01-01T00:00:00.000005Z");
}

// The kubelet proxy's destination guard (apiserver/kubelet_proxy.h).
TEST(KubeletDestinationGuard, RefusesLocalAddresses) {
  for (const char* ip : {"169.254.169.254", "169.254.0.1", "0.0.0.0", "224.0.0.1", "239.1.2.3",
                         "::", "fe80::1", "febf::1", "ff02::1", "::ffff:169.254.169.254"})
    EXPECT_FALSE(proxyableIp(ip, true)) << ip;
  for (const char* ip : {"127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_FALSE(proxyableIp(ip, false)) << ip;
    EXPECT_TRUE(proxyableIp(ip, true)) << ip;
  }
  for (const char* ip : {"10.0.0.1", "192.168.1.5", "172.16.0.1", "8.8.8.8", "100.64.0.3",
                         "169.253.255.255", "169.255.0.1", "fd00::1", "2001:db8::1", "fec0::1"})
    EXPECT_TRUE(proxyableIp(ip, false)) << ip;
  EXPECT_FALSE(proxyableIp("not-an-ip", true));
}

TEST(KubeletDestinationGuard, LoopbackOnlyForTheLocalNodeOrALoopbackServer) {
  KubeletClientOptions o;
  o.localNodeName = "me";
  EXPECT_NO_THROW(checkKubeletDestination("me", "127.0.0.1", o));
  EXPECT_NO_THROW(checkKubeletDestination("other", "10.1.2.3", o));
  try {
    checkKubeletDestination("other", "127.0.0.1", o);
    FAIL() << "loopback of another node allowed";
  } catch (const skiff::ApiError& e) {
    EXPECT_EQ(e.code(), 500);
    EXPECT_STREQ(e.what(), "address not allowed");
  }
  EXPECT_THROW(checkKubeletDestination("me", "169.254.169.254", o), skiff::ApiError);
  EXPECT_THROW(checkKubeletDestination("other", "localhost", o), skiff::ApiError);
  o.allowLoopback = true;
  EXPECT_NO_THROW(checkKubeletDestination("other", "127.0.0.1", o));
  EXPECT_NO_THROW(checkKubeletDestination("other", "localhost", o));
  EXPECT_THROW(checkKubeletDestination("other", "fe80::1", o), skiff::ApiError);
  // A name that does not resolve is left to the dial, which fails on its own.
  EXPECT_NO_THROW(checkKubeletDestination("other", "no-such-host.invalid", o));
}
