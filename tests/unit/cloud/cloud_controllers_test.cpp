// The cloud controllers over the controller tests' fake API server (unit/controller/fake_api.h)
// and the real local provider in a temporary folder with FakeRouteProgrammer: each
// controller's decisions, driven on the test's thread (sync / runPeriodic).
#include <gtest/gtest.h>

#include <filesystem>

#include "cloud/cloud_controller_manager.h"
#include "cloud/local/local_provider.h"
#include "common/ids.h"
#include "unit/controller/fake_env.h"

namespace skiff::cloud {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using client::resources::nodes;
using client::resources::services;
using controller::testing::FakeApi;
using controller::testing::knownResources;

struct CloudEnv {
  FakeClock clock;
  std::shared_ptr<FakeApi> api = std::make_shared<FakeApi>(clock);
  client::RestClient client{controller::testing::fakeConfig(api)};
  client::SharedInformerFactory informers{client};
  controller::ControllerOptions controllerOptions;
  CloudOptions options;
  fs::path dir;
  std::shared_ptr<local::FakeRouteProgrammer> routes =
      std::make_shared<local::FakeRouteProgrammer>();
  std::unique_ptr<local::LocalProvider> provider;
  std::unique_ptr<controller::ControllerContext> base;
  std::unique_ptr<CloudContext> ctx;
  std::unique_ptr<controller::Controller> controller;
  controller::QueueController* qc = nullptr;

  explicit CloudEnv(const std::string& name, const std::string& range = "10.44.0.1-10.44.0.2") {
    char tmpl[] = "/tmp/skiff-ccm-test.XXXXXX";
    dir = ::mkdtemp(tmpl);
    ProviderConfig config;
    config.dataDir = dir.string();
    config.clusterName = "c1";
    config.loadBalancerIpRange = range;
    config.routeNetns = {"host"};
    provider = std::make_unique<local::LocalProvider>(config, routes);
    options.clusterName = "c1";
    base = std::make_unique<controller::ControllerContext>(
        controller::ControllerContext{client, informers, controllerOptions, clock});
    ctx = std::make_unique<CloudContext>(CloudContext{*base, *provider, options});
    for (const auto& [n, factory] : cloudControllers())
      if (n == name) controller = factory(*ctx);
    if (!controller) throw std::runtime_error("no cloud controller " + name);
    qc = dynamic_cast<controller::QueueController*>(controller.get());
    // The controller's writes come back to its informers, as a watch would bring them.
    api->observer = [this](const std::string& group, const std::string& resource,
                           const std::string& type, const json::object& obj) {
      for (const auto& r : knownResources())
        if (r.group == group && r.resource == resource) deliver(r, type, obj);
    };
  }
  ~CloudEnv() {
    api->observer = nullptr;
    controller.reset();
    fs::remove_all(dir);
  }
  void deliver(const client::Resource& r, const std::string& type, const json::object& obj) {
    client::WatchEvent e{type, std::make_shared<const json::object>(obj)};
    informers.informer(r).handleEvent(e);
  }
  json::object add(const client::Resource& r, json::object obj) {
    api->seed(r.resource, obj);
    auto stored = *api->object(r.resource, api::stringAt(obj, {"metadata", "namespace"}),
                               api::stringAt(obj, {"metadata", "name"}));
    deliver(r, "ADDED", stored);
    return stored;
  }
  json::object node(const std::string& name) { return *api->object("nodes", "", name); }
  json::object svc(const std::string& name) { return *api->object("services", "default", name); }
  int sync() { return qc->drainQueue(); }
  std::vector<std::string> events() {
    qc->recorder().flush(std::chrono::seconds(5));
    std::vector<std::string> out;
    for (auto& a : api->actions())
      if (a.verb == "create" && a.resource == "events" && a.body.is_object())
        out.push_back(api::stringAt(a.object(), {"type"}) + " " +
                      api::stringAt(a.object(), {"reason"}) + ": " +
                      api::stringAt(a.object(), {"message"}));
    return out;
  }
  bool hasEvent(const std::string& text) {
    for (auto& e : events())
      if (e.find(text) != std::string::npos) return true;
    return false;
  }
  void instance(const std::string& name, const std::string& ip,
                const std::string& state = "running") {
    local::Instance in;
    in.name = name;
    in.addresses = {{"InternalIP", ip}};
    in.zone = "zone-" + name;
    in.state = state;
    provider->inventory().write(in);
  }
};

json::object newNode(const std::string& name, bool uninitialized, const std::string& ready = "True",
                     const std::string& podCidr = "") {
  json::object n{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}}},
      {"spec", json::object{}},
      {"status",
       {{"conditions", json::array{json::object{{"type", "Ready"}, {"status", ready}}}},
        {"addresses", json::array{json::object{{"type", "Hostname"}, {"address", name}}}}}}};
  if (uninitialized)
    n["spec"].as_object()["taints"] = json::array{
        json::object{{"key", kTaintUninitialized}, {"value", "true"}, {"effect", "NoSchedule"}}};
  if (!podCidr.empty()) n["spec"].as_object()["podCIDR"] = podCidr;
  return n;
}

json::object newService(const std::string& name, const std::string& type = "LoadBalancer") {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec", {{"type", type}, {"ports", json::array{json::object{{"port", 80}}}}}}};
}

std::string ingressIp(const json::object& svc) {
  const auto* in = api::arrayAt(svc, {"status", "loadBalancer", "ingress"});
  if (!in || in->empty()) return "";
  return api::stringAt(in->at(0).as_object(), {"ip"});
}

std::string taintKeys(const json::object& n) {
  std::string out;
  if (const auto* t = api::arrayAt(n, {"spec", "taints"}))
    for (const auto& v : *t) out += api::stringAt(v.as_object(), {"key"}) + " ";
  return out;
}

// --- cloud-node

TEST(CloudNodeController, InitializesATaintedNodeFromTheProvider) {
  CloudEnv env("cloud-node");
  env.instance("n1", "10.99.0.11");
  env.add(nodes, newNode("n1", true));
  env.sync();
  auto n = env.node("n1");
  EXPECT_EQ(api::stringAt(n, {"spec", "providerID"}), "skiff://c1/n1");
  EXPECT_EQ(api::stringAt(n, {"metadata", "labels", "topology.kubernetes.io/zone"}), "zone-n1");
  EXPECT_EQ(api::stringAt(n, {"metadata", "labels", "failure-domain.beta.kubernetes.io/zone"}),
            "zone-n1");
  EXPECT_EQ(api::stringAt(n, {"metadata", "labels", "topology.kubernetes.io/region"}), "local");
  EXPECT_EQ(api::stringAt(n, {"metadata", "labels", "node.kubernetes.io/instance-type"}),
            "skiff.local");
  EXPECT_EQ(taintKeys(n), "");
  // Addresses: the provider's, plus the kubelet's Hostname it did not name.
  const auto* addrs = api::arrayAt(n, {"status", "addresses"});
  ASSERT_TRUE(addrs);
  ASSERT_EQ(addrs->size(), 2u);
  EXPECT_EQ(api::stringAt(addrs->at(0).as_object(), {"address"}), "10.99.0.11");
  EXPECT_EQ(api::stringAt(addrs->at(1).as_object(), {"type"}), "Hostname");
  EXPECT_TRUE(env.hasEvent("Normal Synced: Node synced successfully"));
}

TEST(CloudNodeController, UnknownInstanceKeepsTheTaintAndRetries) {
  CloudEnv env("cloud-node");
  env.add(nodes, newNode("n2", true));
  env.sync();
  auto n = env.node("n2");
  EXPECT_EQ(taintKeys(n), kTaintUninitialized + " ");
  EXPECT_EQ(api::stringAt(n, {"spec", "providerID"}), "");
  EXPECT_EQ(env.qc->queue().numRequeues("n2"), 1);  // backoff retry pending
  env.instance("n2", "10.99.0.12");
  env.clock.step(std::chrono::seconds(5));
  env.sync();
  EXPECT_EQ(api::stringAt(env.node("n2"), {"spec", "providerID"}), "skiff://c1/n2");
}

TEST(CloudNodeController, LeavesInitializedNodesAlone) {
  CloudEnv env("cloud-node");
  env.instance("n3", "10.99.0.13");
  env.add(nodes, newNode("n3", false));
  env.sync();
  EXPECT_TRUE(env.api->writeSummaries().empty());
}

// --- cloud-node-lifecycle

TEST(CloudNodeLifecycle, DeletesNotReadyNodeWhoseInstanceIsGone) {
  CloudEnv env("cloud-node-lifecycle");
  env.add(nodes, newNode("gone", false, "Unknown"));
  env.add(nodes, newNode("healthy-but-unknown-to-cloud", false, "True"));
  env.qc->runPeriodicTasks();
  env.sync();
  EXPECT_FALSE(env.api->object("nodes", "", "gone").has_value());
  EXPECT_TRUE(env.api->object("nodes", "", "healthy-but-unknown-to-cloud").has_value());
  EXPECT_TRUE(env.hasEvent(
      "Normal DeletingNode: Deleting node gone because it does not exist in the cloud provider"));
}

TEST(CloudNodeLifecycle, ShutdownTaintWhileStoppedRemovedWhenReady) {
  CloudEnv env("cloud-node-lifecycle");
  env.instance("n1", "10.99.0.11", "stopped");
  env.add(nodes, newNode("n1", false, "Unknown"));
  env.qc->runPeriodicTasks();
  env.sync();
  auto n = env.node("n1");
  EXPECT_EQ(taintKeys(n), kTaintShutdown + " ");
  EXPECT_EQ(api::stringAt(api::arrayAt(n, {"spec", "taints"})->at(0).as_object(), {"effect"}),
            "NoSchedule");
  // Stopped but still Unknown: nothing more to do, no second taint.
  env.api->clearActions();
  env.qc->runPeriodicTasks();
  env.sync();
  EXPECT_TRUE(env.api->writeSummaries().empty());
  // Back and Ready: the taint comes off.
  env.instance("n1", "10.99.0.11", "running");
  n["status"].as_object()["conditions"] =
      json::array{json::object{{"type", "Ready"}, {"status", "True"}}};
  env.api->seed("nodes", n);
  env.deliver(nodes, "MODIFIED", env.node("n1"));
  env.qc->runPeriodicTasks();
  env.sync();
  EXPECT_EQ(taintKeys(env.node("n1")), "");
}

// --- service

TEST(ServiceController, ProvisionsWithFinalizerStatusAndEvents) {
  CloudEnv env("service");
  env.add(services, newService("web"));
  env.sync();
  auto s = env.svc("web");
  EXPECT_EQ(ingressIp(s).substr(0, 8), "10.44.0.");
  const auto* fin = api::arrayAt(s, {"metadata", "finalizers"});
  ASSERT_TRUE(fin && fin->size() == 1);
  EXPECT_EQ(fin->at(0).as_string(), kLbFinalizer);
  auto writes = env.api->writeSummaries();
  ASSERT_GE(writes.size(), 2u);
  EXPECT_EQ(writes[0], "patch services");         // the finalizer first
  EXPECT_EQ(writes[1], "patch services/status");  // then the address
  EXPECT_TRUE(env.hasEvent("Normal EnsuringLoadBalancer: Ensuring load balancer"));
  EXPECT_TRUE(env.hasEvent("Normal EnsuredLoadBalancer: Ensured load balancer"));
  // No eligible nodes (none has a providerID): the warning upstream gives.
  EXPECT_TRUE(env.hasEvent(
      "Warning UnAvailableLoadBalancer: There are no available nodes for LoadBalancer"));
}

TEST(ServiceController, ExhaustedPoolFailsThenGetsTheReleasedAddress) {
  CloudEnv env("service", "10.44.0.1/32");
  env.add(services, newService("a"));
  env.add(services, newService("b"));
  env.sync();
  EXPECT_EQ(ingressIp(env.svc("a")), "10.44.0.1");
  EXPECT_EQ(ingressIp(env.svc("b")), "");
  EXPECT_TRUE(
      env.hasEvent("Warning SyncLoadBalancerFailed: Error syncing load balancer: failed to ensure "
                   "load balancer: "
                   "no load balancer IP left in 10.44.0.1/32"));
  // `a` is deleted (the server only marks it, as it has our finalizer).
  env.client.remove(services, "default", "a");
  env.sync();
  // The finalizer is removed (the fake keeps the object; the real server then deletes it).
  EXPECT_EQ(api::arrayAt(env.svc("a"), {"metadata", "finalizers"})->size(), 0u);
  EXPECT_EQ(ingressIp(env.svc("a")), "");
  EXPECT_TRUE(env.hasEvent("Normal DeletingLoadBalancer: Deleting load balancer"));
  EXPECT_TRUE(env.hasEvent("Normal DeletedLoadBalancer: Deleted load balancer"));
  env.sync();
  EXPECT_EQ(ingressIp(env.svc("b")), "10.44.0.1");
}

TEST(ServiceController, OtherLoadBalancerClassesAndClusterIpAreIgnored) {
  CloudEnv env("service");
  auto other = newService("other");
  other["spec"].as_object()["loadBalancerClass"] = "example.com/lb";
  env.add(services, other);
  env.add(services, newService("plain", "ClusterIP"));
  env.sync();
  EXPECT_TRUE(env.api->writeSummaries().empty());
}

TEST(ServiceController, NodeSetChangesUpdateTheHosts) {
  CloudEnv env("service");
  env.instance("n1", "10.99.0.11");
  auto n1 = newNode("n1", false);
  n1["spec"].as_object()["providerID"] = "skiff://c1/n1";
  env.add(nodes, n1);
  env.add(services, newService("web"));
  env.sync();
  EXPECT_EQ(env.provider->chosenNode("default/web"), "n1");
  env.instance("n2", "10.99.0.12");
  auto n2 = newNode("n2", false);
  n2["spec"].as_object()["providerID"] = "skiff://c1/n2";
  env.add(nodes, n2);
  env.sync();
  EXPECT_TRUE(env.hasEvent("Normal UpdatedLoadBalancer: Updated load balancer with new hosts"));
  // Excluded by label: no longer a host; its address moves when it was the chosen one.
  n1 = env.node("n1");
  api::ensureObject(n1, {"metadata", "labels"})[kLabelExcludeFromLb] = "";
  env.api->seed("nodes", n1);
  env.deliver(nodes, "MODIFIED", env.node("n1"));
  env.sync();
  EXPECT_EQ(env.provider->chosenNode("default/web"), "n2");
}

// --- route

TEST(RouteController, RoutesPodRangesAndSetsNetworkCondition) {
  CloudEnv env("route");
  env.instance("n1", "10.99.0.11");
  env.add(nodes, newNode("n1", false, "True", "10.42.1.0/24"));
  env.add(nodes, newNode("n2", false, "True", "10.42.2.0/24"));  // no instance: fails
  env.routes->tables["host"]["10.42.9.0/24"] = "10.99.0.99";     // stale, inside the cluster CIDR
  env.routes->tables["host"]["192.168.5.0/24"] = "10.99.0.99";   // not ours
  env.sync();
  auto& host = env.routes->tables["host"];
  EXPECT_EQ(host["10.42.1.0/24"], "10.99.0.11");
  EXPECT_FALSE(host.count("10.42.9.0/24"));
  EXPECT_TRUE(host.count("192.168.5.0/24"));
  auto cond = [&](const std::string& node, const char* field) {
    auto n = env.node(node);
    const auto* conds = api::arrayAt(n, {"status", "conditions"});
    if (!conds) return std::string("<none>");
    for (const auto& c : *conds)
      if (api::stringAt(c.as_object(), {"type"}) == "NetworkUnavailable")
        return api::stringAt(c.as_object(), {field});
    return std::string("<none>");
  };
  EXPECT_EQ(cond("n1", "status"), "False");
  EXPECT_EQ(cond("n1", "reason"), "RouteCreated");
  EXPECT_EQ(cond("n1", "message"), "RouteController created a route");
  EXPECT_EQ(cond("n2", "status"), "True");
  EXPECT_EQ(cond("n2", "reason"), "NoRouteCreated");
  EXPECT_TRUE(env.hasEvent("Warning FailedToCreateRoute: Could not create route"));
}

}  // namespace
}  // namespace skiff::cloud

namespace skiff::cloud {
namespace {

TEST(EndpointNodes, ReadyEndpointsOfTheServiceOnly) {
  CloudEnv env("service");
  auto slice = [](const std::string& name, const std::string& svc, json::array endpoints) {
    return json::object{{"apiVersion", "discovery.k8s.io/v1"},
                        {"kind", "EndpointSlice"},
                        {"metadata",
                         {{"name", name},
                          {"namespace", "default"},
                          {"labels", {{"kubernetes.io/service-name", svc}}}}},
                        {"addressType", "IPv4"},
                        {"endpoints", std::move(endpoints)}};
  };
  auto ep = [](const std::string& node, json::value ready) {
    json::object e{{"addresses", json::array{"10.42.0.5"}}, {"nodeName", node}};
    if (!ready.is_null()) e["conditions"] = json::object{{"ready", ready}};
    return e;
  };
  env.add(client::resources::endpointSlices,
          slice("web-1", "web", json::array{ep("n1", true), ep("n2", false), ep("n3", nullptr)}));
  env.add(client::resources::endpointSlices,
          slice("other-1", "other", json::array{ep("n4", true)}));
  auto nodes =
      endpointNodesOf(env.informers.informer(client::resources::endpointSlices), "default", "web");
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<std::string>{"n1", "n3"}));  // absent "ready" means ready
}

}  // namespace
}  // namespace skiff::cloud
