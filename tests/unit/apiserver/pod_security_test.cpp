// Pod Security admission: each baseline and restricted check with a passing and a failing pod,
// upstream's messages for one and several violations, label and version parsing, and the
// admission decisions (enforce refuses, warn warns, workloads only warn, namespace labels).
#include "apiserver/pod_security.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;
using namespace podsecurity;

const LevelVersion kBaseline{Level::Baseline, {}};
const LevelVersion kRestricted{Level::Restricted, {}};

// A pod (metadata + spec) from JSON; evaluates it at a level and returns upstream's detail.
std::string check(const LevelVersion& lv, const std::string& podJson) {
  json::object pod = json::parse(podJson).as_object();
  const json::object* meta = pod.contains("metadata") ? &pod.at("metadata").as_object() : nullptr;
  return forbiddenDetail(evaluate(lv, meta, &pod.at("spec").as_object()));
}

// A spec with one container "c" whose securityContext is `sc`, plus `extra` spec fields.
std::string withContainer(const std::string& sc, const std::string& extra = "") {
  return R"({"spec":{)" + extra + (extra.empty() ? "" : ",") +
         R"("containers":[{"name":"c","image":"x","securityContext":)" + sc + "}]}}";
}
const std::string kRestrictedSc =
    R"({"allowPrivilegeEscalation":false,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"capabilities":{"drop":["ALL"]}})";

TEST(PodSecurityChecks, PlainPodPassesBaseline) {
  EXPECT_EQ(check(kBaseline, withContainer("{}")), "");
  EXPECT_EQ(check(kRestricted, withContainer(kRestrictedSc)), "");
  EXPECT_EQ(check({Level::Privileged, {}}, withContainer(R"({"privileged":true})")), "");
}

TEST(PodSecurityChecks, Privileged) {
  EXPECT_EQ(check(kBaseline, withContainer(R"({"privileged":false})")), "");
  EXPECT_EQ(check(kBaseline, withContainer(R"({"privileged":true})")),
            R"(privileged (container "c" must not set securityContext.privileged=true))");
  EXPECT_EQ(check(kBaseline,
                  R"({"spec":{"initContainers":[{"name":"i","securityContext":{"privileged":true}}],
                 "containers":[{"name":"a","securityContext":{"privileged":true}}]}})"),
            R"(privileged (containers "i", "a" must not set securityContext.privileged=true))");
}

TEST(PodSecurityChecks, HostProcess) {
  EXPECT_EQ(check(kBaseline, withContainer(R"({"windowsOptions":{"hostProcess":false}})")), "");
  EXPECT_EQ(
      check(kBaseline,
            withContainer(R"({"windowsOptions":{"hostProcess":true}})",
                          R"("securityContext":{"windowsOptions":{"hostProcess":true}})")),
      R"(hostProcess (pod and container "c" must not set securityContext.windowsOptions.hostProcess=true))");
}

TEST(PodSecurityChecks, HostNamespaces) {
  EXPECT_EQ(check(kBaseline, withContainer("{}", R"("hostNetwork":false)")), "");
  EXPECT_EQ(check(kBaseline, withContainer("{}", R"("hostIPC":true,"hostNetwork":true)")),
            "host namespaces (hostNetwork=true, hostIPC=true)");
}

TEST(PodSecurityChecks, CapabilitiesBaseline) {
  EXPECT_EQ(check(kBaseline, withContainer(R"({"capabilities":{"add":["CHOWN","KILL"]}})")), "");
  EXPECT_EQ(
      check(kBaseline,
            withContainer(R"({"capabilities":{"add":["SYS_TIME","NET_ADMIN","CHOWN"]}})")),
      R"(non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_TIME" in securityContext.capabilities.add))");
}

TEST(PodSecurityChecks, HostPathVolumesAndHostPorts) {
  EXPECT_EQ(check(kBaseline, withContainer("{}", R"("volumes":[{"name":"e","emptyDir":{}}])")), "");
  EXPECT_EQ(
      check(
          kBaseline,
          withContainer(
              "{}",
              R"("volumes":[{"name":"a","hostPath":{"path":"/"}},{"name":"b","hostPath":{"path":"/x"}}])")),
      R"(hostPath volumes (volumes "a", "b"))");
  EXPECT_EQ(
      check(kBaseline, R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80}]}]}})"),
      "");
  EXPECT_EQ(
      check(kBaseline,
            R"({"spec":{"containers":[{"name":"a","ports":[{"hostPort":8080},{"hostPort":80}]},
                                           {"name":"b","ports":[{"hostPort":0}]}]}})"),
      R"(hostPort (container "a" uses hostPorts 80, 8080))");
}

TEST(PodSecurityChecks, AppArmor) {
  EXPECT_EQ(check(kBaseline, withContainer(R"({"appArmorProfile":{"type":"RuntimeDefault"}})")),
            "");
  EXPECT_EQ(
      check(kBaseline, withContainer(R"({"appArmorProfile":{"type":"Unconfined"}})")),
      R"(forbidden AppArmor profile (container "c" must not set AppArmor profile type to "Unconfined"))");
  EXPECT_EQ(
      check(
          kBaseline,
          R"({"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/c":"unconfined"}},"spec":{"containers":[{"name":"c"}]}})"),
      R"(forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/c="unconfined""))");
}

TEST(PodSecurityChecks, SeLinuxProcMountSeccompSysctls) {
  EXPECT_EQ(
      check(kBaseline, withContainer(R"({"seLinuxOptions":{"type":"container_t","level":"s0"}})")),
      "");
  EXPECT_EQ(
      check(kBaseline, withContainer(R"({"seLinuxOptions":{"type":"spc_t","user":"u"}})")),
      R"(seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set))");
  EXPECT_EQ(check(kBaseline, withContainer(R"({"procMount":"Default"})")), "");
  EXPECT_EQ(check(kBaseline, withContainer(R"({"procMount":"Unmasked"})")),
            R"(procMount (container "c" must not set securityContext.procMount to "Unmasked"))");
  EXPECT_EQ(check(kBaseline, withContainer(R"({"seccompProfile":{"type":"RuntimeDefault"}})")), "");
  EXPECT_EQ(
      check(kBaseline,
            withContainer(R"({"seccompProfile":{"type":"Unconfined"}})",
                          R"("securityContext":{"seccompProfile":{"type":"Unconfined"}})")),
      R"(seccompProfile (pod and container "c" must not set securityContext.seccompProfile.type to "Unconfined"))");
  EXPECT_EQ(
      check(
          kBaseline,
          withContainer(
              "{}",
              R"("securityContext":{"sysctls":[{"name":"net.ipv4.tcp_syncookies","value":"1"}]})")),
      "");
  EXPECT_EQ(
      check(
          kBaseline,
          withContainer(
              "{}",
              R"("securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"},{"name":"net.ipv4.tcp_keepalive_time","value":"1"}]})")),
      "forbidden sysctls (kernel.msgmax)");
  // tcp_keepalive_time joined the safe set in v1.29.
  EXPECT_EQ(
      check(
          {Level::Baseline, {false, 28}},
          withContainer(
              "{}",
              R"("securityContext":{"sysctls":[{"name":"net.ipv4.tcp_keepalive_time","value":"1"}]})")),
      "forbidden sysctls (net.ipv4.tcp_keepalive_time)");
}

TEST(PodSecurityChecks, RestrictedFieldsOfAPlainPod) {
  EXPECT_EQ(
      check(kRestricted, withContainer("{}")),
      R"(allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), )"
      R"(unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), )"
      R"(runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), )"
      R"(seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"))");
}

TEST(PodSecurityChecks, RestrictedChecksOneByOne) {
  auto sc = [](const std::string& override) {
    json::object o = json::parse(kRestrictedSc).as_object();
    json::value changes = json::parse(override);
    for (auto& kv : changes.as_object()) o[kv.key()] = kv.value();
    return json::serialize(o);
  };
  EXPECT_EQ(
      check(kRestricted, withContainer(sc(R"({"allowPrivilegeEscalation":true})"))),
      R"(allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false))");
  EXPECT_EQ(
      check(kRestricted, withContainer(sc(R"({"runAsNonRoot":false})"))),
      R"(runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false))");
  EXPECT_EQ(check(kRestricted, withContainer(sc(R"({"runAsUser":0})"))),
            R"(runAsUser=0 (container "c" must not set runAsUser=0))");
  EXPECT_EQ(check(kRestricted, withContainer(sc(R"({"runAsUser":1000})"))), "");
  EXPECT_EQ(
      check(kRestricted,
            withContainer(sc(R"({"seccompProfile":{"type":"Localhost","localhostProfile":"p"}})"))),
      "");
  EXPECT_EQ(
      check(kRestricted,
            withContainer(sc(R"({"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}})"))),
      "");
  // A restricted check replaces the baseline one: one capabilities message, not two.
  EXPECT_EQ(
      check(kRestricted,
            withContainer(sc(R"({"capabilities":{"drop":["NET_RAW"],"add":["SYS_ADMIN"]}})"))),
      R"(unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add))");
  EXPECT_EQ(
      check(kRestricted, withContainer(kRestrictedSc,
                                       R"("volumes":[{"name":"s","secret":{"secretName":"x"}}])")),
      "");
  EXPECT_EQ(
      check(
          kRestricted,
          withContainer(
              kRestrictedSc,
              R"("volumes":[{"name":"h","hostPath":{"path":"/"}},{"name":"n","nfs":{"server":"s","path":"/"}}])")),
      R"(restricted volume types (volumes "h", "n" use restricted volume types "hostPath", "nfs"))");
  // Pod-level runAsNonRoot and seccomp cover the containers.
  EXPECT_EQ(
      check(
          kRestricted,
          withContainer(
              R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})",
              R"("securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})")),
      "");
  // Windows pods skip the Linux-only restricted fields from v1.25.
  EXPECT_EQ(check(kRestricted,
                  withContainer(
                      "{}", R"("os":{"name":"windows"},"securityContext":{"runAsNonRoot":true})")),
            "");
}

TEST(PodSecurityChecks, VersionsSelectChecks) {
  const std::string pod = withContainer(
      R"({"allowPrivilegeEscalation":false,"runAsNonRoot":true,"runAsUser":0,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}})");
  EXPECT_EQ(check({Level::Restricted, {false, 22}}, pod), "");  // no runAsUser check yet
  EXPECT_EQ(check({Level::Restricted, {false, 23}}, pod),
            R"(runAsUser=0 (container "c" must not set runAsUser=0))");
  // Before v1.22 restricted kept baseline's capabilities check (nothing about drop).
  EXPECT_EQ(
      check(
          {Level::Restricted, {false, 21}},
          withContainer(
              R"({"allowPrivilegeEscalation":false,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})")),
      "");
  // Before v1.19 seccomp was the alpha annotations.
  EXPECT_EQ(
      check(
          {Level::Baseline, {false, 18}},
          R"({"metadata":{"annotations":{"seccomp.security.alpha.kubernetes.io/pod":"unconfined"}},"spec":{"containers":[{"name":"c"}]}})"),
      R"(seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined"))");
}

TEST(PodSecurityChecks, SeveralViolationsBaselineFirstByCheckId) {
  EXPECT_EQ(
      check(kRestricted, withContainer(R"({"privileged":true})", R"("hostPID":true)")),
      R"(host namespaces (hostPID=true), privileged (container "c" must not set securityContext.privileged=true), )"
      R"(allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), )"
      R"(unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), )"
      R"(runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), )"
      R"(seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"))");
}

TEST(PodSecurityLabels, LevelsAndVersions) {
  EXPECT_EQ(parseLevel("baseline"), Level::Baseline);
  EXPECT_FALSE(parseLevel("Baseline"));
  EXPECT_TRUE(parseVersion("latest")->latest);
  EXPECT_EQ(parseVersion("v1.25")->minor, 25);
  EXPECT_EQ(parseVersion("v1.0")->minor, 0);
  for (const char* bad : {"1.25", "v1.025", "v2.1", "v1.", "v1.x", "latest "})
    EXPECT_FALSE(parseVersion(bad)) << bad;
  EXPECT_EQ((LevelVersion{Level::Restricted, {false, 24}}.str()), "restricted:v1.24");
  EXPECT_EQ(kBaseline.str(), "baseline:latest");
}

TEST(PodSecurityLabels, PolicyFromLabels) {
  Policy defaults;
  auto labels = [](const std::string& j) { return json::parse(j).as_object(); };
  std::vector<LabelError> errs;
  auto l1 = labels(
      R"({"pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/enforce-version":"v1.24"})");
  Policy p = policyFromLabels(&l1, defaults, &errs);
  EXPECT_TRUE(errs.empty());
  EXPECT_EQ(p.enforce.str(), "baseline:v1.24");
  EXPECT_EQ(p.warn.str(), "baseline:v1.24");  // warn follows a stricter enforce
  EXPECT_EQ(p.audit.level, Level::Privileged);
  auto l2 = labels(
      R"({"pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/warn":"privileged"})");
  EXPECT_EQ(policyFromLabels(&l2, defaults).warn.level, Level::Privileged);
  auto l3 = labels(
      R"({"pod-security.kubernetes.io/enforce":"strict","pod-security.kubernetes.io/warn":"loud","pod-security.kubernetes.io/audit-version":"1"})");
  p = policyFromLabels(&l3, defaults, &errs);
  EXPECT_EQ(p.enforce.level, Level::Restricted);  // fails closed
  EXPECT_EQ(p.warn.level, Level::Privileged);     // fails open
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0], (LabelError{kEnforceLabel, "strict",
                                 "must be one of privileged, baseline, restricted"}));
  EXPECT_EQ(errs[1].detail, R"(must be "latest" or "v1.x")");
  Policy clusterDefault;
  clusterDefault.enforce.level = Level::Baseline;
  EXPECT_EQ(policyFromLabels(nullptr, clusterDefault).enforce.level, Level::Baseline);
}

TEST(PodSecurityLabels, ExistingPodWarnings) {
  auto pod = [](const std::string& name, const std::string& sc, const std::string& owner = "") {
    return json::parse(R"({"metadata":{"name":")" + name + "\"" +
                       (owner.empty() ? ""
                                      : R"(,"ownerReferences":[{"uid":")" + owner +
                                            R"(","controller":true}])") +
                       R"(},"spec":{"containers":[{"name":"c","securityContext":)" + sc + "}]}}")
        .as_object();
  };
  std::vector<json::object> pods{pod("b", R"({"privileged":true})"),
                                 pod("a", R"({"privileged":true})"),
                                 pod("c", R"({"privileged":true})", "rs"), pod("ok", "{}"),
                                 pod("h", R"({"procMount":"Unmasked"})")};
  std::vector<const json::object*> ptrs;
  for (auto& p : pods) ptrs.push_back(&p);
  auto w = checkExistingPods("ns", kBaseline, ptrs);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(
      w[0],
      R"(existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest")");
  EXPECT_EQ(w[1], "a (and 2 other pods): privileged");
  EXPECT_EQ(w[2], "h: procMount");
}

// ---- through the ResourceStore --------------------------------------------------------------

class PodSecurityAdmissionTest : public testing::ResourceStoreFixture {
 protected:
  PodSecurityAdmissionTest() : ResourceStoreFixture(options()) {}
  static AdmissionOptions options() {
    AdmissionOptions o;
    o.podSecurity.exemptNamespaces = {"free"};
    return o;
  }
  void SetUp() override {
    ResourceStoreFixture::SetUp();
    alice.user = "alice";
    namespace_("enf", R"({"pod-security.kubernetes.io/enforce":"baseline"})");
    namespace_("wrn", R"({"pod-security.kubernetes.io/warn":"restricted"})");
    namespace_("free", R"({"pod-security.kubernetes.io/enforce":"restricted"})");
  }
  void namespace_(const std::string& name, const std::string& labels) {
    RequestContext ctx;
    resources.create(
        info("namespaces"), "",
        json::parse(R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + "}}"), ctx);
  }
  // Creates as user alice; returns the warnings.
  std::vector<std::string> create(const std::string& ns, const std::string& plural,
                                  const std::string& body, const std::string& group = "",
                                  const std::string& version = "v1") {
    RequestContext ctx;
    ctx.user = &alice;
    resources.create(info(plural, group, version), ns, json::parse(body), ctx);
    return ctx.warnings;
  }
  static std::string privilegedPod(const std::string& name) {
    return R"({"metadata":{"name":")" + name +
           R"("},"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true}}]}})";
  }
  UserInfo alice;
};

TEST_F(PodSecurityAdmissionTest, EnforceRefusesWithUpstreamsStatus) {
  try {
    create("enf", "pods", privilegedPod("p"));
    FAIL() << "admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 403);
    EXPECT_EQ(e.reason(), "Forbidden");
    EXPECT_EQ(
        std::string(e.what()),
        R"(pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true))");
  }
  EXPECT_TRUE(
      create("enf", "pods",
             R"({"metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"x"}]}})")
          .empty());
}

TEST_F(PodSecurityAdmissionTest, WarnAdmitsWithAWarning) {
  auto w = create("wrn", "pods", privilegedPod("p"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(
      w[0].rfind(R"(would violate PodSecurity "restricted:latest": privileged (container "c")", 0),
      0u)
      << w[0];
}

TEST_F(PodSecurityAdmissionTest, WorkloadsOnlyWarnAndExemptionsHold) {
  auto w = create(
      "enf", "deployments",
      R"({"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"x"}]}}}})",
      "apps");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            R"(would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true))");
  EXPECT_TRUE(create("free", "pods", privilegedPod("p")).empty());
  // The server's own writes (no user) are exempt.
  RequestContext server;
  EXPECT_NO_THROW(resources.create(info("pods"), "enf", json::parse(privilegedPod("own")), server));
}

TEST_F(PodSecurityAdmissionTest, OnlySignificantPodUpdatesAreChecked) {
  RequestContext server;
  resources.create(info("pods"), "enf", json::parse(privilegedPod("own")), server);
  json::object updated = resources.get(info("pods"), "enf", "own");  // as a client reads it
  updated["metadata"].as_object()["labels"] = json::object{{"x", "y"}};
  RequestContext ctx;
  ctx.user = &alice;
  EXPECT_NO_THROW(resources.update(info("pods"), "enf", "own", "", updated, ctx));
}

TEST_F(PodSecurityAdmissionTest, NamespaceLabelsAreValidated) {
  RequestContext ctx;
  ctx.user = &alice;
  try {
    resources.create(
        info("namespaces"), "",
        json::parse(
            R"({"metadata":{"name":"bad","labels":{"pod-security.kubernetes.io/enforce":"strict"}}})"),
        ctx);
    FAIL() << "admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422);
    EXPECT_EQ(
        std::string(e.what()),
        R"(Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted)");
  }
}

}  // namespace
}  // namespace skiff::apiserver
