// Hollow agent against the real in-process API server (tests/unit/client/test_server.h).
// There is no scheduler or nodeipam here: tests bind pods with spec.nodeName and give nodes
// their podCIDR themselves. Nodes are cluster-scoped on a shared server, so each test uses
// its own node-name prefix and deletes its nodes afterwards.
#include "agent/hollow_agent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "agent/control_handler.h"
#include "common/api_error.h"
#include "unit/client/test_server.h"

namespace skiff::agent {
namespace {

namespace json = boost::json;
using client::testing::eventually;
using client::testing::freshNamespace;
using client::testing::newClient;
using namespace std::chrono_literals;

std::string uniquePrefix(const std::string& what) {
  static std::atomic<int> n{0};
  return "hollow-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

std::string s(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->as_object().contains(k)) return "";
    cur = &cur->as_object().at(k);
  }
  return cur->is_string() ? std::string(cur->as_string()) : "";
}

std::string conditionStatus(const json::object& obj, const std::string& type) {
  auto* st = obj.if_contains("status");
  if (!st || !st->is_object() || !st->as_object().contains("conditions")) return "";
  for (auto& c : st->as_object().at("conditions").as_array())
    if (s(c, {"type"}) == type) return s(c, {"status"});
  return "";
}

std::optional<json::object> tryGet(client::RestClient& c, const client::Resource& r,
                                   const std::string& ns, const std::string& name) {
  try {
    return c.get(r, ns, name);
  } catch (const ApiError&) {
    return std::nullopt;
  }
}

HollowOptions fastOptions(const std::string& prefix, int nodes) {
  HollowOptions o;
  o.namePrefix = prefix;
  o.nodes = nodes;
  o.leaseRenewInterval = 200ms;
  o.statusReportInterval = 1s;
  o.jobDuration = 300ms;
  return o;
}

// Deletes the test's nodes (and their leases) at the end.
struct NodeCleanup {
  client::RestClient& c;
  std::string prefix;
  int count;
  ~NodeCleanup() {
    for (int i = 0; i < count; ++i) {
      auto name = prefix + "-" + std::to_string(i);
      for (auto* r : {&client::resources::nodes, &client::resources::leases}) {
        try {
          c.remove(*r, r == &client::resources::leases ? "kube-node-lease" : "", name);
        } catch (const std::exception&) {
        }
      }
    }
  }
};

void setPodCidr(client::RestClient& c, const std::string& node, const std::string& cidr) {
  c.patch(client::resources::nodes, "", node, client::PatchType::Merge,
          json::object{{"spec", json::object{{"podCIDR", cidr},
                                             {"podCIDRs", json::array{json::value(cidr)}}}}});
}

json::object makePod(const std::string& name, const std::string& node,
                     const std::string& restartPolicy = "Always", bool withInit = false) {
  json::object spec{
      {"nodeName", node},
      {"restartPolicy", restartPolicy},
      {"containers", json::array{json::object{{"name", "app"}, {"image", "nginx:1.27"}}}}};
  if (withInit)
    spec["initContainers"] = json::array{json::object{{"name", "init"}, {"image", "busybox"}}};
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", std::move(spec)}};
}

std::string renewTime(client::RestClient& c, const std::string& node) {
  auto lease = tryGet(c, client::resources::leases, "kube-node-lease", node);
  return lease ? s(*lease, {"spec", "renewTime"}) : "";
}

}  // namespace

TEST(HollowParsing, LabelsAndTaints) {
  auto labels = parseNodeLabels("a=b,zone=z1,empty=");
  EXPECT_EQ(labels.size(), 3u);
  EXPECT_EQ(labels["zone"], "z1");
  EXPECT_EQ(labels["empty"], "");
  EXPECT_TRUE(parseNodeLabels("").empty());
  EXPECT_THROW(parseNodeLabels("novalue"), std::invalid_argument);

  auto taints = parseTaints("dedicated=gpu:NoSchedule,flaky:NoExecute");
  ASSERT_EQ(taints.size(), 2u);
  EXPECT_EQ(taints[0].key, "dedicated");
  EXPECT_EQ(taints[0].value, "gpu");
  EXPECT_EQ(taints[0].effect, "NoSchedule");
  EXPECT_EQ(taints[1].key, "flaky");
  EXPECT_EQ(taints[1].value, "");
  EXPECT_THROW(parseTaints("k=v:Sometimes"), std::invalid_argument);
  EXPECT_THROW(parseTaints("k=v"), std::invalid_argument);
}

TEST(HollowParsing, WorkersGrowWithNodes) {
  EXPECT_EQ(heartbeatWorkersFor(1), 2);
  EXPECT_EQ(heartbeatWorkersFor(200), 2);
  EXPECT_EQ(heartbeatWorkersFor(1000), 10);
  EXPECT_EQ(heartbeatWorkersFor(5000), 50);
  EXPECT_EQ(heartbeatWorkersFor(100000), 64);
  EXPECT_EQ(podWorkersFor(1), 4);
  EXPECT_EQ(podWorkersFor(5000), 50);
  EXPECT_EQ(podWorkersFor(100000), 64);
  HollowOptions o;
  o.nodes = 5000;
  EXPECT_EQ(o.heartbeatThreads(), 50);
  EXPECT_EQ(o.podThreads(), 50);
  o.heartbeatWorkers = 3;
  o.podWorkers = 7;
  EXPECT_EQ(o.heartbeatThreads(), 3);
  EXPECT_EQ(o.podThreads(), 7);
}

TEST(PodIpAllocator, SkipsNetworkGatewayAndBroadcast) {
  PodIpAllocator a;
  EXPECT_FALSE(a.allocate());
  EXPECT_FALSE(a.reset("garbage"));
  EXPECT_FALSE(a.reset("10.0.0.0/31"));
  ASSERT_TRUE(a.reset("10.9.8.0/29"));  // .0 network, .1 gateway, .7 broadcast: .2-.6 usable
  std::vector<std::string> got;
  while (auto ip = a.allocate()) got.push_back(*ip);
  EXPECT_EQ(got,
            (std::vector<std::string>{"10.9.8.2", "10.9.8.3", "10.9.8.4", "10.9.8.5", "10.9.8.6"}));
  a.release("10.9.8.4");
  EXPECT_EQ(a.allocate().value_or(""), "10.9.8.4");
  EXPECT_FALSE(a.occupy("10.9.8.1"));
  EXPECT_FALSE(a.occupy("10.9.9.2"));
  a.release("10.9.8.3");
  EXPECT_TRUE(a.occupy("10.9.8.3"));
  EXPECT_FALSE(a.occupy("10.9.8.3"));
  EXPECT_EQ(a.used(), 5u);
}

TEST(HollowControl, RejectsUnknownRoutesAndMethods) {
  auto c = newClient();
  HollowAgent agent(*c, fastOptions(uniquePrefix("ctl"), 1));  // not started: no API writes
  auto call = [&](const std::string& method, const std::string& path) {
    net::HttpRequest req;
    req.method = method;
    req.path = path;
    return handleControlRequest(agent, req);
  };
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/nodes").status, 200);
  EXPECT_EQ(call("DELETE", "/nodes").status, 405);
  EXPECT_EQ(call("GET", "/nodes/" + agent.nodeNames()[0]).status, 200);
  EXPECT_EQ(call("GET", "/nodes/" + agent.nodeNames()[0] + "/stop").status, 405);
  EXPECT_EQ(call("POST", "/nodes/" + agent.nodeNames()[0] + "/explode").status, 404);
  EXPECT_EQ(call("GET", "/nodes/missing").status, 404);
  EXPECT_EQ(call("GET", "/other").status, 404);
  EXPECT_EQ(call("POST", "/nodes/" + agent.nodeNames()[0] + "/stop").status, 200);
  EXPECT_EQ(agent.nodes()[0].state, "stopped");
}

TEST(HollowAgent, RegistersNodesAndRenewsLeases) {
  auto c = newClient();
  auto prefix = uniquePrefix("reg");
  NodeCleanup cleanup{*c, prefix, 3};
  auto o = fastOptions(prefix, 3);
  o.labels = {{"tier", "hollow-test"}};
  o.taints = {{"dedicated", "sim", "NoSchedule"}};
  HollowAgent agent(*c, o);
  agent.start();
  for (int i = 0; i < 3; ++i) {
    auto name = prefix + "-" + std::to_string(i);
    ASSERT_TRUE(eventually([&] {
      auto n = tryGet(*c, client::resources::nodes, "", name);
      return n && conditionStatus(*n, "Ready") == "True";
    })) << name;
    auto node = c->get(client::resources::nodes, "", name);
    EXPECT_EQ(s(node, {"metadata", "labels", "kubernetes.io/hostname"}), name);
    EXPECT_EQ(s(node, {"metadata", "labels", "kubernetes.io/os"}), "linux");
    EXPECT_EQ(s(node, {"metadata", "labels", "tier"}), "hollow-test");
    EXPECT_EQ(s(node, {"status", "capacity", "pods"}), "110");
    EXPECT_EQ(s(node, {"status", "allocatable", "memory"}), "16Gi");
    EXPECT_EQ(s(node, {"status", "nodeInfo", "kubeletVersion"}), "v1.32.0-skiff-hollow");
    EXPECT_EQ(conditionStatus(node, "MemoryPressure"), "False");
    EXPECT_EQ(conditionStatus(node, "DiskPressure"), "False");
    EXPECT_EQ(conditionStatus(node, "PIDPressure"), "False");
    auto& taints = node["spec"].as_object()["taints"].as_array();
    ASSERT_EQ(taints.size(), 1u);
    EXPECT_EQ(s(taints[0], {"effect"}), "NoSchedule");
    auto& addresses = node["status"].as_object()["addresses"].as_array();
    EXPECT_EQ(s(addresses[0], {"type"}), "InternalIP");
    EXPECT_EQ(s(addresses[1], {"address"}), name);

    ASSERT_TRUE(eventually([&] { return !renewTime(*c, name).empty(); })) << name;
    auto lease = c->get(client::resources::leases, "kube-node-lease", name);
    EXPECT_EQ(s(lease, {"spec", "holderIdentity"}), name);
    EXPECT_EQ(lease["spec"].as_object()["leaseDurationSeconds"].to_number<int64_t>(), 40);
    auto& owners = lease["metadata"].as_object()["ownerReferences"].as_array();
    ASSERT_EQ(owners.size(), 1u);
    EXPECT_EQ(s(owners[0], {"kind"}), "Node");
    EXPECT_EQ(s(owners[0], {"uid"}), s(node, {"metadata", "uid"}));
    auto first = renewTime(*c, name);
    EXPECT_TRUE(eventually([&] { return renewTime(*c, name) != first; }, 3s))
        << "lease not renewed";
  }
  // Addresses are unique per node.
  std::set<std::string> ips;
  for (int i = 0; i < 3; ++i) {
    auto node = c->get(client::resources::nodes, "", prefix + "-" + std::to_string(i));
    ips.insert(s(node["status"].as_object()["addresses"].as_array()[0], {"address"}));
  }
  EXPECT_EQ(ips.size(), 3u);
  // Heartbeats re-post status: lastHeartbeatTime moves (seconds resolution).
  auto name = prefix + "-0";
  auto hb = [&] {
    auto n = c->get(client::resources::nodes, "", name);
    for (auto& cond : n["status"].as_object()["conditions"].as_array())
      if (s(cond, {"type"}) == "Ready") return s(cond, {"lastHeartbeatTime"});
    return std::string();
  };
  auto before = hb();
  EXPECT_TRUE(eventually([&] { return hb() != before; }, 4s));
}

TEST(HollowAgent, PodLifecycleWithAddressesFromPodCidr) {
  auto c = newClient();
  auto prefix = uniquePrefix("pods");
  NodeCleanup cleanup{*c, prefix, 1};
  auto node = prefix + "-0";
  auto o = fastOptions(prefix, 1);
  o.readinessDelay = 400ms;
  o.terminationDelay = 200ms;
  HollowAgent agent(*c, o);
  agent.start();
  ASSERT_TRUE(
      eventually([&] { return tryGet(*c, client::resources::nodes, "", node).has_value(); }));
  auto ns = freshNamespace(*c, "hollow");

  // No podCIDR yet: the pod waits, like on a node whose network is not ready.
  c->create(client::resources::pods, ns, makePod("web", node, "Always", true));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(s(c->get(client::resources::pods, ns, "web"), {"status", "phase"}), "Pending");

  setPodCidr(*c, node, "10.77.3.0/24");
  ASSERT_TRUE(eventually([&] {
    return s(c->get(client::resources::pods, ns, "web"), {"status", "phase"}) == "Running";
  }));
  auto pod = c->get(client::resources::pods, ns, "web");
  auto ip = s(pod, {"status", "podIP"});
  EXPECT_TRUE(ip.starts_with("10.77.3.")) << ip;
  EXPECT_NE(ip, "10.77.3.0");
  EXPECT_NE(ip, "10.77.3.1");
  EXPECT_FALSE(s(pod, {"status", "hostIP"}).empty());
  EXPECT_FALSE(s(pod, {"status", "startTime"}).empty());
  auto& cs = pod["status"].as_object()["containerStatuses"].as_array();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(s(cs[0], {"containerID"}).starts_with("hollow://"));
  EXPECT_FALSE(s(cs[0], {"state", "running", "startedAt"}).empty());
  auto& init = pod["status"].as_object()["initContainerStatuses"].as_array();
  EXPECT_EQ(s(init[0], {"state", "terminated", "reason"}), "Completed");
  EXPECT_EQ(conditionStatus(pod, "Initialized"), "True");
  // Readiness comes after --readiness-delay.
  ASSERT_TRUE(eventually([&] {
    return conditionStatus(c->get(client::resources::pods, ns, "web"), "Ready") == "True";
  }));
  pod = c->get(client::resources::pods, ns, "web");
  EXPECT_EQ(conditionStatus(pod, "ContainersReady"), "True");
  EXPECT_EQ(conditionStatus(pod, "PodReadyToStartContainers"), "True");

  // A second pod gets another address.
  c->create(client::resources::pods, ns, makePod("web2", node));
  ASSERT_TRUE(eventually([&] {
    return !s(c->get(client::resources::pods, ns, "web2"), {"status", "podIP"}).empty();
  }));
  EXPECT_NE(s(c->get(client::resources::pods, ns, "web2"), {"status", "podIP"}), ip);

  // Run-to-completion pods succeed after --job-duration.
  c->create(client::resources::pods, ns, makePod("job", node, "Never"));
  ASSERT_TRUE(eventually([&] {
    return s(c->get(client::resources::pods, ns, "job"), {"status", "phase"}) == "Succeeded";
  }));
  auto job = c->get(client::resources::pods, ns, "job");
  EXPECT_EQ(s(job["status"].as_object()["containerStatuses"].as_array()[0],
              {"state", "terminated", "reason"}),
            "Completed");
  EXPECT_EQ(conditionStatus(job, "Ready"), "False");

  // Graceful deletion: containers stop after the termination delay, then the agent removes
  // the pod for good.
  c->remove(client::resources::pods, ns, "web");
  EXPECT_TRUE(tryGet(*c, client::resources::pods, ns, "web").has_value());  // terminating
  ASSERT_TRUE(eventually([&] { return !tryGet(*c, client::resources::pods, ns, "web"); }, 5s));
  agent.stop();
}

TEST(HollowAgent, StoppedNodeStopsHeartbeatingAndResumes) {
  auto c = newClient();
  auto prefix = uniquePrefix("stop");
  NodeCleanup cleanup{*c, prefix, 2};
  HollowAgent agent(*c, fastOptions(prefix, 2));
  agent.start();
  auto dead = prefix + "-0", alive = prefix + "-1";
  ASSERT_TRUE(
      eventually([&] { return !renewTime(*c, dead).empty() && !renewTime(*c, alive).empty(); }));

  net::HttpRequest req;
  req.method = "POST";
  req.path = "/nodes/" + dead + "/stop";
  auto resp = handleControlRequest(agent, req);
  EXPECT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find("\"stopped\""), std::string::npos);
  std::this_thread::sleep_for(300ms);  // a renewal already in flight may still land
  auto frozen = renewTime(*c, dead);
  auto other = renewTime(*c, alive);
  std::this_thread::sleep_for(1s);  // five renew intervals
  EXPECT_EQ(renewTime(*c, dead), frozen) << "a stopped node must not renew its lease";
  EXPECT_NE(renewTime(*c, alive), other) << "the other node keeps heartbeating";

  req.method = "GET";
  req.path = "/nodes";
  resp = handleControlRequest(agent, req);
  EXPECT_EQ(resp.status, 200);
  auto list = json::parse(resp.body).as_object()["nodes"].as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(s(list[0], {"state"}), "stopped");
  EXPECT_EQ(s(list[1], {"state"}), "running");

  req.method = "POST";
  req.path = "/nodes/" + dead + "/start";
  EXPECT_EQ(handleControlRequest(agent, req).status, 200);
  EXPECT_TRUE(eventually([&] { return renewTime(*c, dead) != frozen; }, 3s));

  req.path = "/nodes/nope/stop";
  EXPECT_EQ(handleControlRequest(agent, req).status, 404);
}

TEST(HollowAgent, RestartAdoptsNodesAndRunningPods) {
  auto c = newClient();
  auto prefix = uniquePrefix("adopt");
  NodeCleanup cleanup{*c, prefix, 1};
  auto node = prefix + "-0";
  auto ns = freshNamespace(*c, "hollow");
  std::string ip, started, uid;
  {
    HollowAgent agent(*c, fastOptions(prefix, 1));
    agent.start();
    ASSERT_TRUE(
        eventually([&] { return tryGet(*c, client::resources::nodes, "", node).has_value(); }));
    uid = s(c->get(client::resources::nodes, "", node), {"metadata", "uid"});
    setPodCidr(*c, node, "10.77.9.0/24");
    c->create(client::resources::pods, ns, makePod("kept", node));
    ASSERT_TRUE(eventually([&] {
      return conditionStatus(c->get(client::resources::pods, ns, "kept"), "Ready") == "True";
    }));
    auto pod = c->get(client::resources::pods, ns, "kept");
    ip = s(pod, {"status", "podIP"});
    started = s(pod, {"status", "startTime"});
  }
  auto rvBefore = s(c->get(client::resources::pods, ns, "kept"), {"metadata", "resourceVersion"});
  HollowAgent again(*c, fastOptions(prefix, 1));
  again.start();
  c->create(client::resources::pods, ns, makePod("fresh", node));
  ASSERT_TRUE(eventually([&] {
    return !s(c->get(client::resources::pods, ns, "fresh"), {"status", "podIP"}).empty();
  }));
  EXPECT_NE(s(c->get(client::resources::pods, ns, "fresh"), {"status", "podIP"}), ip)
      << "address reused";
  auto pod = c->get(client::resources::pods, ns, "kept");
  EXPECT_EQ(s(pod, {"status", "podIP"}), ip);
  EXPECT_EQ(s(pod, {"status", "startTime"}), started);
  EXPECT_EQ(s(pod, {"metadata", "resourceVersion"}), rvBefore) << "adopted pod was rewritten";
  EXPECT_EQ(s(c->get(client::resources::nodes, "", node), {"metadata", "uid"}), uid)
      << "node recreated";
}

TEST(HollowAgent, PodsOfDeletedNodeAreForgotten) {
  auto c = newClient();
  auto prefix = uniquePrefix("gone");
  NodeCleanup cleanup{*c, prefix, 1};
  auto node = prefix + "-0";
  HollowAgent agent(*c, fastOptions(prefix, 1));
  agent.start();
  ASSERT_TRUE(
      eventually([&] { return tryGet(*c, client::resources::nodes, "", node).has_value(); }));
  setPodCidr(*c, node, "10.77.10.0/24");
  auto ns = freshNamespace(*c, "hollow");
  c->create(client::resources::pods, ns, makePod("p", node));
  ASSERT_TRUE(eventually([&] { return agent.nodes()[0].pods == 1; }));
  c->remove(client::resources::nodes, "", node);
  ASSERT_TRUE(eventually([&] { return agent.nodes()[0].state == "deleted"; }));
  EXPECT_EQ(agent.nodes()[0].pods, 0u);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(tryGet(*c, client::resources::nodes, "", node).has_value())
      << "deleted node re-registered by itself";
}

}  // namespace skiff::agent

namespace skiff::agent {
namespace {

// Kubelet endpoints: each node at its own loopback InternalIP and published port, with the
// pods' synthetic usage from annotations (or the defaults) and counters that grow at it.
TEST(HollowAgent, KubeletEndpointsReportSyntheticUsage) {
  auto c = newClient();
  auto prefix = uniquePrefix("usage");
  NodeCleanup cleanup{*c, prefix, 2};
  auto node = prefix + "-1";
  auto o = fastOptions(prefix, 2);
  o.serveKubelet = true;
  o.defaultPodUsage = {20'000'000, 8u << 20};
  HollowAgent agent(*c, o);
  agent.start();
  ASSERT_TRUE(eventually([&] {
    auto n = tryGet(*c, client::resources::nodes, "", node);
    // The Node is created first and its status (addresses, endpoints) patched after.
    const auto* status = n ? n->if_contains("status") : nullptr;
    const auto* ep = status && status->is_object()
                         ? status->as_object().if_contains("daemonEndpoints")
                         : nullptr;
    return ep && ep->is_object() && ep->as_object().contains("kubeletEndpoint");
  }));
  auto n = c->get(client::resources::nodes, "", node);
  auto address = agent.kubeletAddress(node);
  ASSERT_FALSE(address.empty());
  auto ip = s(n["status"].as_object()["addresses"].as_array()[0], {"address"});
  EXPECT_TRUE(ip.starts_with("127.")) << ip;
  auto port = n["status"].as_object()["daemonEndpoints"].at("kubeletEndpoint").at("Port");
  EXPECT_EQ(address, ip + ":" + std::to_string(port.to_number<int64_t>()));
  EXPECT_NE(agent.kubeletAddress(prefix + "-0"), address);
  EXPECT_EQ(agent.kubeletAddress("not-ours"), "");

  setPodCidr(*c, node, "10.77.9.0/24");
  auto ns = freshNamespace(*c, "hollow");
  auto busy = makePod("busy", node);
  busy["metadata"].as_object()["annotations"] =
      json::object{{kSyntheticCpuAnnotation, "500m"}, {kSyntheticMemoryAnnotation, "64Mi"}};
  busy["spec"].as_object()["containers"].as_array().push_back(
      json::object{{"name", "side"}, {"image", "busybox"}});
  c->create(client::resources::pods, ns, busy);
  c->create(client::resources::pods, ns, makePod("idle", node));
  ASSERT_TRUE(eventually([&] {
    for (const char* p : {"busy", "idle"})
      if (s(c->get(client::resources::pods, ns, p), {"status", "phase"}) != "Running") return false;
    return agent.syntheticStats(node).pods.size() == 2;
  }));
  auto first = agent.syntheticStats(node);
  std::this_thread::sleep_for(500ms);
  auto second = agent.syntheticStats(node);
  const PodResourceStats* b1 = nullptr;
  const PodResourceStats* b2 = nullptr;
  const PodResourceStats* idle = nullptr;
  for (auto& p : first.pods)
    if (p.name == "busy") b1 = &p;
  for (auto& p : second.pods) {
    if (p.name == "busy") b2 = &p;
    if (p.name == "idle") idle = &p;
  }
  ASSERT_TRUE(b1 && b2 && idle);
  EXPECT_EQ(b2->usage.cpuNanoCores, 500'000'000u);
  EXPECT_EQ(b2->usage.workingSetBytes, 64u << 20);
  ASSERT_EQ(b2->containers.size(), 2u);
  EXPECT_EQ(*b2->containers[0].usage.cpuNanoCores + *b2->containers[1].usage.cpuNanoCores,
            500'000'000u);
  EXPECT_EQ(idle->usage.cpuNanoCores, 20'000'000u);  // the default
  EXPECT_EQ(idle->usage.workingSetBytes, 8u << 20);
  // The counter grew at the configured rate over the interval between the samples.
  double dt = static_cast<double>(second.usage.timeMs - first.usage.timeMs) / 1000.0;
  double rate = static_cast<double>(*b2->usage.cpuCoreNanos - *b1->usage.cpuCoreNanos) / dt;
  EXPECT_NEAR(rate, 500'000'000.0, 500'000'000.0 * 0.05);
  EXPECT_GE(*second.usage.cpuCoreNanos, *first.usage.cpuCoreNanos);
  EXPECT_EQ(*second.usage.cpuNanoCores, 100'000'000u + 500'000'000u + 20'000'000u);
  auto text = renderResourceMetrics(second);
  EXPECT_NE(text.find("pod_cpu_usage_seconds_total{namespace=\"" + ns + "\",pod=\"busy\"}"),
            std::string::npos);
  EXPECT_TRUE(agent.syntheticStats("not-ours").pods.empty());
  agent.stop();
}

}  // namespace
}  // namespace skiff::agent
