// Pod spec → CRI configs (makeSandboxConfig, makeContainerConfig), the container hash and the
// grace period: pure functions, checked field by field.
#include "kubelet/pod_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kubelet/runtime_state.h"

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

json::object parseObject(const std::string& text) { return json::parse(text).as_object(); }

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

using Strings = std::vector<std::string>;

std::string mapAt(const google::protobuf::Map<std::string, std::string>& m,
                  const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "<missing>" : it->second;
}

json::object basicPod(const std::string& specExtra = "", const std::string& metaExtra = "") {
  return parseObject(
      R"({"metadata": {"name": "web", "namespace": "shop", "uid": "uid-42")" + metaExtra +
      R"(}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}])" + specExtra + "}}");
}

// A host resolv.conf of the test's own, so results do not depend on the machine.
class PodConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() /
           ("skiff-podconfig-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "resolv.conf") << "# host resolvers\n"
                                           "nameserver 192.0.2.53\n"
                                           "nameserver 192.0.2.54\n"
                                           "search corp.example lab.example\n"
                                           "options edns0 timeout:2\n";
    settings_.podLogsDir = "/var/log/pods";
    settings_.hostResolvConf = (dir_ / "resolv.conf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  SandboxSettings settings_;
};

// ---------------------------------------------------------------- sandbox

TEST_F(PodConfigTest, SandboxMetadataLogDirectoryAndHostname) {
  auto c = makeSandboxConfig(basicPod(), 3, settings_);
  EXPECT_EQ(c.metadata().name(), "web");
  EXPECT_EQ(c.metadata().namespace_(), "shop");
  EXPECT_EQ(c.metadata().uid(), "uid-42");
  EXPECT_EQ(c.metadata().attempt(), 3u);
  EXPECT_EQ(c.hostname(), "web");
  EXPECT_EQ(c.log_directory(), "/var/log/pods/shop_web_uid-42");
  EXPECT_EQ(podLogDirectory("/logs", basicPod()), "/logs/shop_web_uid-42");
  EXPECT_EQ(makeSandboxConfig(basicPod(R"(, "hostname": "custom")"), 0, settings_).hostname(),
            "custom");
}

TEST_F(PodConfigTest, CgroupParentOnlyWhenTheNodeHasOne) {
  EXPECT_EQ(makeSandboxConfig(basicPod(), 0, settings_).linux().cgroup_parent(), "");
  SandboxSettings own = settings_;
  own.cgroupParent = "/skiff-c1-node-2";  // skiff cluster: one parent per node
  EXPECT_EQ(makeSandboxConfig(basicPod(), 0, own).linux().cgroup_parent(), "/skiff-c1-node-2");
}

TEST_F(PodConfigTest, HostnameIsTruncatedTo63CharactersWithoutATrailingDash) {
  // 62 characters, then '-' at position 62 (the 63rd), then more.
  std::string name = std::string(62, 'a') + "-bcdef";
  auto pod = basicPod();
  pod["metadata"].as_object()["name"] = name;
  auto c = makeSandboxConfig(pod, 0, settings_);
  EXPECT_EQ(c.hostname(), std::string(62, 'a'));
  std::string longer(70, 'x');
  pod["metadata"].as_object()["name"] = longer;
  EXPECT_EQ(makeSandboxConfig(pod, 0, settings_).hostname(), std::string(63, 'x'));
}

TEST_F(PodConfigTest, SandboxLabelsAndAnnotations) {
  auto pod =
      basicPod("", R"(, "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "hi"})");
  auto c = makeSandboxConfig(pod, 0, settings_);
  EXPECT_EQ(mapAt(c.labels(), "app"), "web");
  EXPECT_EQ(mapAt(c.labels(), "tier"), "front");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodName), "web");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodNamespace), "shop");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodUid), "uid-42");
  EXPECT_EQ(mapAt(c.annotations(), "note"), "hi");
  EXPECT_EQ(c.labels().size(), 5u);
}

TEST_F(PodConfigTest, ClusterFirstDnsUsesTheClusterResolver) {
  settings_.clusterDns = {"10.43.0.10"};
  settings_.clusterDomain = "cluster.local";
  auto dns = makeSandboxConfig(basicPod(), 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.servers()), Strings{"10.43.0.10"});
  EXPECT_EQ(strings(dns.searches()), (Strings{"shop.svc.cluster.local", "svc.cluster.local",
                                              "cluster.local", "corp.example", "lab.example"}));
  EXPECT_EQ(strings(dns.options()), Strings{"ndots:5"});
}

TEST_F(PodConfigTest, ClusterFirstWithoutClusterDnsFallsBackToTheHostResolvers) {
  settings_.clusterDns.clear();
  auto dns =
      makeSandboxConfig(basicPod(R"(, "dnsPolicy": "ClusterFirst")"), 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.servers()), (Strings{"192.0.2.53", "192.0.2.54"}));
  EXPECT_EQ(strings(dns.searches()), (Strings{"corp.example", "lab.example"}));
  EXPECT_EQ(strings(dns.options()), (Strings{"edns0", "timeout:2"}));
}

TEST_F(PodConfigTest, DefaultDnsReadsTheHostResolvConf) {
  settings_.clusterDns = {"10.43.0.10"};
  auto dns = makeSandboxConfig(basicPod(R"(, "dnsPolicy": "Default")"), 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.servers()), (Strings{"192.0.2.53", "192.0.2.54"}));
  EXPECT_EQ(strings(dns.searches()), (Strings{"corp.example", "lab.example"}));
  EXPECT_EQ(strings(dns.options()), (Strings{"edns0", "timeout:2"}));
}

TEST_F(PodConfigTest, HostNetworkPodsUseHostDnsUnlessClusterFirstWithHostNet) {
  settings_.clusterDns = {"10.43.0.10"};
  auto hostDns = makeSandboxConfig(basicPod(R"(, "hostNetwork": true)"), 0, settings_).dns_config();
  EXPECT_EQ(strings(hostDns.servers()), (Strings{"192.0.2.53", "192.0.2.54"}));
  auto clusterDns =
      makeSandboxConfig(
          basicPod(R"(, "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet")"), 0,
          settings_)
          .dns_config();
  EXPECT_EQ(strings(clusterDns.servers()), Strings{"10.43.0.10"});
  EXPECT_EQ(strings(clusterDns.options()), Strings{"ndots:5"});
}

TEST_F(PodConfigTest, NoneDnsTakesOnlyThePodsDnsConfig) {
  settings_.clusterDns = {"10.43.0.10"};
  auto pod = basicPod(R"(, "dnsPolicy": "None", "dnsConfig": {
      "nameservers": ["1.1.1.1", "8.8.8.8"], "searches": ["my.example"],
      "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}]})");
  auto dns = makeSandboxConfig(pod, 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.servers()), (Strings{"1.1.1.1", "8.8.8.8"}));
  EXPECT_EQ(strings(dns.searches()), Strings{"my.example"});
  EXPECT_EQ(strings(dns.options()), (Strings{"ndots:2", "rotate"}));
}

TEST_F(PodConfigTest, DnsConfigIsMergedIntoClusterFirstWithoutDuplicates) {
  settings_.clusterDns = {"10.43.0.10"};
  auto pod = basicPod(
      R"(, "dnsConfig": {"nameservers": ["10.43.0.10", "1.1.1.1"], "searches": ["cluster.local", "x.example"]})");
  auto dns = makeSandboxConfig(pod, 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.servers()), (Strings{"10.43.0.10", "1.1.1.1"}));
  EXPECT_EQ(strings(dns.searches()),
            (Strings{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example",
                     "lab.example", "x.example"}));
}

TEST_F(PodConfigTest, DnsConfigOptionsReplaceOptionsOfTheSameName) {
  settings_.clusterDns = {"10.43.0.10"};
  auto pod = basicPod(
      R"(, "dnsConfig": {"options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})");
  auto dns = makeSandboxConfig(pod, 0, settings_).dns_config();
  EXPECT_EQ(strings(dns.options()), (Strings{"ndots:2", "edns0"}));
}

TEST_F(PodConfigTest, HostPortsBecomePortMappings) {
  auto pod = parseObject(R"({"metadata": {"name": "web", "namespace": "shop", "uid": "u"},
    "spec": {"containers": [
      {"name": "a", "image": "x", "ports": [
        {"containerPort": 80, "hostPort": 8080},
        {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
        {"containerPort": 9090}]},
      {"name": "b", "image": "x", "ports": [{"containerPort": 7000, "hostPort": 7001, "protocol": "SCTP"}]}]}})");
  auto c = makeSandboxConfig(pod, 0, settings_);
  ASSERT_EQ(c.port_mappings_size(), 3);
  EXPECT_EQ(c.port_mappings(0).protocol(), cri::v1::TCP);
  EXPECT_EQ(c.port_mappings(0).container_port(), 80);
  EXPECT_EQ(c.port_mappings(0).host_port(), 8080);
  EXPECT_EQ(c.port_mappings(0).host_ip(), "");
  EXPECT_EQ(c.port_mappings(1).protocol(), cri::v1::UDP);
  EXPECT_EQ(c.port_mappings(1).container_port(), 53);
  EXPECT_EQ(c.port_mappings(1).host_port(), 5353);
  EXPECT_EQ(c.port_mappings(1).host_ip(), "127.0.0.1");
  EXPECT_EQ(c.port_mappings(2).protocol(), cri::v1::SCTP);
  EXPECT_EQ(c.port_mappings(2).host_port(), 7001);
}

TEST_F(PodConfigTest, NamespacesOfTheSandbox) {
  auto pod = makeSandboxConfig(basicPod(), 0, settings_);
  auto& ns = pod.linux().security_context().namespace_options();
  EXPECT_EQ(ns.network(), cri::v1::POD);
  EXPECT_EQ(ns.ipc(), cri::v1::POD);
  EXPECT_EQ(ns.pid(), cri::v1::CONTAINER);
  EXPECT_FALSE(pod.linux().security_context().privileged());

  auto host = makeSandboxConfig(
      basicPod(R"(, "hostNetwork": true, "hostIPC": true, "hostPID": true)"), 0, settings_);
  auto& hns = host.linux().security_context().namespace_options();
  EXPECT_EQ(hns.network(), cri::v1::NODE);
  EXPECT_EQ(hns.ipc(), cri::v1::NODE);
  EXPECT_EQ(hns.pid(), cri::v1::NODE);
  EXPECT_EQ(host.hostname(), "");  // the node's hostname applies

  auto shared = makeSandboxConfig(basicPod(R"(, "shareProcessNamespace": true)"), 0, settings_);
  EXPECT_EQ(shared.linux().security_context().namespace_options().pid(), cri::v1::POD);
}

TEST_F(PodConfigTest, SandboxSecurityContext) {
  auto pod = parseObject(R"({"metadata": {"name": "web", "namespace": "shop", "uid": "u"},
    "spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000, 5000],
                                 "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
             "initContainers": [{"name": "i", "image": "x", "securityContext": {"privileged": true}}],
             "containers": [{"name": "a", "image": "x"}]}})");
  auto c = makeSandboxConfig(pod, 0, settings_);
  auto& sc = c.linux().security_context();
  EXPECT_EQ(sc.run_as_user().value(), 1000);
  EXPECT_EQ(sc.run_as_group().value(), 3000);
  ASSERT_EQ(sc.supplemental_groups_size(), 2);
  EXPECT_EQ(sc.supplemental_groups(0), 4000);
  EXPECT_EQ(sc.supplemental_groups(1), 5000);
  EXPECT_TRUE(sc.privileged());  // any privileged container makes a privileged sandbox
  EXPECT_EQ(mapAt(c.linux().sysctls(), "net.ipv4.ip_unprivileged_port_start"), "0");
}

// ---------------------------------------------------------------- container

json::object podWith(const std::string& container, const std::string& specExtra = "") {
  return parseObject(R"({"metadata": {"name": "web", "namespace": "shop", "uid": "uid-42"},
                         "spec": {"containers": [)" +
                     container + "]" + specExtra + "}}");
}

TEST_F(PodConfigTest, CommandAndArgsAreExpandedFromTheEnvironment) {
  auto pod = podWith(R"J({"name": "app", "image": "busybox:1.36",
      "command": ["/bin/sh", "-c", "echo $(GREETING) $(MISSING) $$(GREETING)"],
      "args": ["--name=$(NAME)", "$(NAME)$(GREETING)"]})J");
  ContainerInputs in;
  in.env = {{"GREETING", "hello"}, {"NAME", "world"}};
  auto c = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false, in);
  EXPECT_EQ(strings(c.command()), (Strings{"/bin/sh", "-c", "echo hello $(MISSING) $(GREETING)"}));
  EXPECT_EQ(strings(c.args()), (Strings{"--name=world", "worldhello"}));
  ASSERT_EQ(c.envs_size(), 2);
  EXPECT_EQ(c.envs(0).key(), "GREETING");
  EXPECT_EQ(c.envs(0).value(), "hello");
  EXPECT_EQ(c.envs(1).key(), "NAME");
  EXPECT_EQ(c.envs(1).value(), "world");
}

TEST_F(PodConfigTest, ContainerIdentityImageAndBookkeeping) {
  auto pod = podWith(
      R"({"name": "app", "image": "busybox:1.36", "workingDir": "/srv", "tty": true, "stdin": true})",
      R"(, "terminationGracePeriodSeconds": 12)");
  auto& spec = pod["spec"].at("containers").at(0).as_object();
  ContainerInputs in;
  in.restartCount = 2;
  in.imageRef = "sha256:abc";
  auto c = makeContainerConfig(pod, spec, false, in);
  EXPECT_EQ(c.metadata().name(), "app");
  EXPECT_EQ(c.metadata().attempt(), 2u);
  EXPECT_EQ(c.image().image(), "sha256:abc");
  EXPECT_EQ(c.image().user_specified_image(), "busybox:1.36");
  EXPECT_EQ(c.working_dir(), "/srv");
  EXPECT_TRUE(c.tty());
  EXPECT_TRUE(c.stdin());
  EXPECT_FALSE(c.stdin_once());
  EXPECT_EQ(c.log_path(), "app/2.log");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodName), "web");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodNamespace), "shop");
  EXPECT_EQ(mapAt(c.labels(), labels::kPodUid), "uid-42");
  EXPECT_EQ(mapAt(c.labels(), labels::kContainerName), "app");
  EXPECT_EQ(mapAt(c.annotations(), labels::kRestartCount), "2");
  EXPECT_EQ(mapAt(c.annotations(), labels::kContainerHash), containerHash(spec));
  EXPECT_EQ(mapAt(c.annotations(), labels::kTerminationMessagePath), "/dev/termination-log");
  EXPECT_EQ(mapAt(c.annotations(), labels::kGracePeriod), "12");
  EXPECT_EQ(mapAt(c.annotations(), labels::kInitContainer), "<missing>");

  auto init = makeContainerConfig(pod, spec, true, ContainerInputs{});
  EXPECT_EQ(mapAt(init.annotations(), labels::kInitContainer), "true");
  EXPECT_EQ(init.image().image(), "busybox:1.36");  // no resolved ref: the spec's image
  EXPECT_EQ(init.log_path(), "app/0.log");
}

TEST_F(PodConfigTest, MountsIncludeTheTerminationLog) {
  auto pod = podWith(R"({"name": "app", "image": "x", "terminationMessagePath": "/tmp/why"})");
  ContainerInputs in;
  auto mount = [](std::string container, std::string host, bool readOnly, std::string propagation) {
    HostMount m;
    m.containerPath = std::move(container);
    m.hostPath = std::move(host);
    m.readOnly = readOnly;
    m.propagation = std::move(propagation);
    return m;
  };
  in.mounts = {mount("/data", "/var/lib/kubelet/pods/u/volumes/data", true, ""),
               mount("/shared", "/mnt/shared", false, "HostToContainer"),
               mount("/both", "/mnt/both", false, "Bidirectional")};
  in.terminationLogHostPath = "/var/lib/kubelet/pods/u/containers/app/0.termination-log";
  auto c = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false, in);
  ASSERT_EQ(c.mounts_size(), 4);
  EXPECT_EQ(c.mounts(0).container_path(), "/data");
  EXPECT_EQ(c.mounts(0).host_path(), "/var/lib/kubelet/pods/u/volumes/data");
  EXPECT_TRUE(c.mounts(0).readonly());
  EXPECT_EQ(c.mounts(0).propagation(), cri::v1::PROPAGATION_PRIVATE);
  EXPECT_EQ(c.mounts(1).propagation(), cri::v1::PROPAGATION_HOST_TO_CONTAINER);
  EXPECT_EQ(c.mounts(2).propagation(), cri::v1::PROPAGATION_BIDIRECTIONAL);
  EXPECT_EQ(c.mounts(3).container_path(), "/tmp/why");
  EXPECT_EQ(c.mounts(3).host_path(), "/var/lib/kubelet/pods/u/containers/app/0.termination-log");
  EXPECT_FALSE(c.mounts(3).readonly());
  EXPECT_EQ(mapAt(c.annotations(), labels::kTerminationMessagePath), "/tmp/why");

  auto bare = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false,
                                  ContainerInputs{});
  EXPECT_EQ(bare.mounts_size(), 0);  // no host file, no mount
}

TEST_F(PodConfigTest, CpuAndMemoryResources) {
  auto pod = podWith(R"({"name": "app", "image": "x", "resources": {
      "requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}})");
  auto c = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false,
                               ContainerInputs{});
  auto& r = c.linux().resources();
  EXPECT_EQ(r.cpu_shares(), 256);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.cpu_quota(), 50000);
  EXPECT_EQ(r.memory_limit_in_bytes(), 128 * 1024 * 1024);
  // Burstable: between Guaranteed (-997) and BestEffort (1000).
  EXPECT_GE(r.oom_score_adj(), 2);
  EXPECT_LE(r.oom_score_adj(), 999);
}

TEST_F(PodConfigTest, CpuSharesFromTheLimitWhenThereIsNoRequestAndMinimumTwo) {
  auto limitsOnly = podWith(
      R"({"name": "app", "image": "x", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}})");
  auto c = makeContainerConfig(limitsOnly, limitsOnly["spec"].at("containers").at(0).as_object(),
                               false, {});
  EXPECT_EQ(c.linux().resources().cpu_shares(), 2048);
  EXPECT_EQ(c.linux().resources().cpu_quota(), 200000);
  EXPECT_EQ(c.linux().resources().oom_score_adj(), -997);  // Guaranteed

  auto none = podWith(R"({"name": "app", "image": "x"})");
  auto b = makeContainerConfig(none, none["spec"].at("containers").at(0).as_object(), false, {});
  EXPECT_EQ(b.linux().resources().cpu_shares(), 2);
  EXPECT_EQ(b.linux().resources().cpu_quota(), 0);  // unlimited
  EXPECT_EQ(b.linux().resources().memory_limit_in_bytes(), 0);
  EXPECT_EQ(b.linux().resources().oom_score_adj(), 1000);  // BestEffort

  auto tiny = podWith(R"({"name": "app", "image": "x", "resources": {"limits": {"cpu": "1m"}}})");
  auto t = makeContainerConfig(tiny, tiny["spec"].at("containers").at(0).as_object(), false, {});
  EXPECT_EQ(t.linux().resources().cpu_shares(), 2);
  EXPECT_EQ(t.linux().resources().cpu_quota(), 1000);  // the kernel's minimum quota
}

TEST_F(PodConfigTest, FsGroupComesFirstAmongSupplementalGroups) {
  auto pod = podWith(R"({"name": "app", "image": "x"})",
                     R"(, "securityContext": {"runAsUser": 1000, "fsGroup": 2000,
                                              "supplementalGroups": [42, 43]})");
  auto c = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false, {});
  auto& sc = c.linux().security_context();
  ASSERT_EQ(sc.supplemental_groups_size(), 3);
  EXPECT_EQ(sc.supplemental_groups(0), 2000);
  EXPECT_EQ(sc.supplemental_groups(1), 42);
  EXPECT_EQ(sc.supplemental_groups(2), 43);
  auto sandbox = makeSandboxConfig(pod, 0, settings_);
  ASSERT_EQ(sandbox.linux().security_context().supplemental_groups_size(), 3);
  EXPECT_EQ(sandbox.linux().security_context().supplemental_groups(0), 2000);
}

TEST_F(PodConfigTest, ContainerSecurityContextOverridesThePods) {
  auto pod = podWith(
      R"({"name": "app", "image": "x", "securityContext": {
      "runAsUser": 2000, "privileged": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
      "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"], "drop": ["ALL"]}}})",
      R"(, "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [42]})");
  auto c = makeContainerConfig(pod, pod["spec"].at("containers").at(0).as_object(), false, {});
  auto& sc = c.linux().security_context();
  EXPECT_EQ(sc.run_as_user().value(), 2000);
  EXPECT_EQ(sc.run_as_group().value(), 3000);
  ASSERT_EQ(sc.supplemental_groups_size(), 1);
  EXPECT_EQ(sc.supplemental_groups(0), 42);
  EXPECT_TRUE(sc.privileged());
  EXPECT_TRUE(sc.readonly_rootfs());
  EXPECT_TRUE(sc.no_new_privs());
  EXPECT_EQ(strings(sc.capabilities().add_capabilities()), (Strings{"NET_ADMIN", "SYS_TIME"}));
  EXPECT_EQ(strings(sc.capabilities().drop_capabilities()), Strings{"ALL"});
  EXPECT_EQ(sc.namespace_options().network(), cri::v1::POD);

  auto plain =
      podWith(R"({"name": "app", "image": "x"})", R"(, "securityContext": {"runAsUser": 1000})");
  auto p = makeContainerConfig(plain, plain["spec"].at("containers").at(0).as_object(), false, {});
  EXPECT_EQ(p.linux().security_context().run_as_user().value(), 1000);
  EXPECT_FALSE(p.linux().security_context().has_run_as_group());
  EXPECT_FALSE(p.linux().security_context().privileged());
  EXPECT_FALSE(p.linux().security_context().no_new_privs());
}

TEST_F(PodConfigTest, ContainerHashFollowsTheSpec) {
  auto a = parseObject(R"({"name": "app", "image": "busybox:1.36"})");
  auto same = parseObject(R"({"name": "app", "image": "busybox:1.36"})");
  auto otherImage = parseObject(R"({"name": "app", "image": "busybox:1.37"})");
  EXPECT_EQ(containerHash(a), containerHash(same));
  EXPECT_NE(containerHash(a), containerHash(otherImage));
  EXPECT_EQ(containerHash(a).size(), 16u);
}

TEST_F(PodConfigTest, GracePeriodSeconds) {
  EXPECT_EQ(gracePeriodSeconds(basicPod()), 30);
  EXPECT_EQ(gracePeriodSeconds(basicPod(R"(, "terminationGracePeriodSeconds": 5)")), 5);
  // The deletion's grace period wins (kubectl delete --grace-period).
  EXPECT_EQ(gracePeriodSeconds(basicPod(R"(, "terminationGracePeriodSeconds": 5)",
                                        R"(, "deletionGracePeriodSeconds": 1)")),
            1);
  EXPECT_EQ(gracePeriodSeconds(basicPod(R"(, "terminationGracePeriodSeconds": 5)",
                                        R"(, "deletionGracePeriodSeconds": 0)")),
            0);
}

}  // namespace
}  // namespace skiff::kubelet
