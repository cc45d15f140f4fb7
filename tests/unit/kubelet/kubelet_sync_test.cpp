// The real Kubelet against the in-process API server (tests/unit/client/test_server.h) and the
// in-memory CRI runtime (fake_runtime.h): pod lifecycle, restart policy, back-off, deletion,
// orphan cleanup, adoption after a restart, image policy and sandbox failures.
//
// There is no scheduler or node IPAM here: tests bind pods with spec.nodeName and give the
// Node its spec.podCIDR themselves. Nodes are cluster-scoped on a shared server, so each test
// has its own node name and deletes its Node and Lease afterwards. Waits poll the API object
// with a deadline.

// First: the CRI protobuf header declares SIGABRT & co. as enum values, so it must come
// before any system header that defines them as macros.
// clang-format off
#include "kubelet/kubelet.h"
// clang-format on

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/api_error.h"
#include "kubelet/pod_config.h"
#include "kubelet/runtime_state.h"
#include "unit/client/test_server.h"
#include "unit/kubelet/fake_runtime.h"

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeImageService;
using testing::FakeRuntimeService;

constexpr auto kWait = 10s;
constexpr const char* kImage = "busybox:1.36";
constexpr const char* kPodCidr = "10.244.1.0/24";

// The value at `path` as text ("" when absent; numbers and booleans serialized).
std::string at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    if (cur->is_object()) {
      auto* next = cur->as_object().if_contains(k);
      if (!next) return "";
      cur = next;
    } else if (cur->is_array()) {
      size_t i = std::stoul(std::string(k));
      if (i >= cur->as_array().size()) return "";
      cur = &cur->as_array()[i];
    } else {
      return "";
    }
  }
  if (cur->is_string()) return std::string(cur->as_string());
  if (cur->is_null()) return "";
  return json::serialize(*cur);
}

std::string conditionOf(const json::object& obj, const std::string& type,
                        const char* field = "status") {
  auto* st = obj.if_contains("status");
  auto* conds = st && st->is_object() ? st->as_object().if_contains("conditions") : nullptr;
  if (!conds || !conds->is_array()) return "";
  for (auto& c : conds->as_array())
    if (at(c, {"type"}) == type) return at(c, {field});
  return "";
}

SandboxSettings tmpLogs() {
  SandboxSettings s;
  s.podLogsDir = "/tmp";
  return s;
}

bool waitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = kWait) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

class KubeletSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = client::testing::newClient();
    ns_ = client::testing::freshNamespace(*client_, "kubelet-sync");
    static std::atomic<int> n{0};
    node_ = "kubelet-sync-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    dir_ = fs::temp_directory_path() / node_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "client-ca.crt") << client::testing::sharedServer().config().caPem;
    images_.addImage(kImage);
    runtime_.setImages(&images_);
  }

  void TearDown() override {
    kubelet_.reset();
    for (auto* r : {&client::resources::leases, &client::resources::nodes}) {
      try {
        client_->remove(*r, r == &client::resources::leases ? "kube-node-lease" : "", node_);
      } catch (const std::exception&) {
      }
    }
    fs::remove_all(dir_);
  }

  KubeletOptions options() const {
    KubeletOptions o;
    o.nodeName = node_;
    o.rootDir = (dir_ / "root").string();
    o.cniConfDir = (dir_ / "cni").string();
    o.nodeIp = "127.0.0.1";
    o.serverAddress = "127.0.0.1";
    o.port = 0;
    o.clientCaFile = (dir_ / "client-ca.crt").string();
    o.maxPods = 50;
    o.nodeLabels = {{"skiff.test/pool", "unit"}};
    o.relistPeriod = 100ms;
    o.workers = 2;
    return o;
  }

  void startKubelet() {
    kubelet_ = std::make_unique<Kubelet>(*client_, runtime_, images_, options());
    kubelet_->start();
  }

  std::optional<json::object> node() {
    try {
      return client_->get(client::resources::nodes, "", node_);
    } catch (const ApiError&) {
      return std::nullopt;
    }
  }

  // What node IPAM would do: the Node gets its podCIDR, the kubelet writes the CNI config
  // and reports the node Ready.
  void giveNodePodCidr() {
    ASSERT_TRUE(waitUntil([&] { return node().has_value(); }))
        << "node " << node_ << " never registered";
    client_->patch(
        client::resources::nodes, "", node_, client::PatchType::Merge,
        json::object{{"spec", json::object{{"podCIDR", kPodCidr},
                                           {"podCIDRs", json::array{json::value(kPodCidr)}}}}});
    ASSERT_TRUE(waitUntil([&] {
      auto n = node();
      return n && conditionOf(*n, "Ready") == "True";
    })) << "node never became Ready: "
        << json::serialize(*node());
  }

  void startReadyKubelet() {
    startKubelet();
    giveNodePodCidr();
  }

  // A pod bound to this node: `containers` is the JSON array text, `spec` extra spec fields.
  json::object createPod(const std::string& name, const std::string& containers,
                         const std::string& spec = "") {
    auto pod = json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
                           R"("}, "spec": {"nodeName": ")" + node_ + R"(", "containers": )" +
                           containers + spec + "}}")
                   .as_object();
    return client_->create(client::resources::pods, ns_, pod);
  }

  json::object createSimplePod(const std::string& name, const std::string& restartPolicy = "Always",
                               const std::string& spec = "") {
    return createPod(name, std::string(R"([{"name": "app", "image": ")") + kImage + R"("}])",
                     R"(, "restartPolicy": ")" + restartPolicy + "\"" + spec);
  }

  std::optional<json::object> pod(const std::string& name) {
    try {
      return client_->get(client::resources::pods, ns_, name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return std::nullopt;
      throw;
    }
  }

  // Waits until the pod satisfies `pred`; fails the test (with the last pod seen) otherwise.
  json::object waitForPod(const std::string& name,
                          const std::function<bool(const json::object&)>& pred,
                          const std::string& what) {
    std::optional<json::object> last;
    bool ok = waitUntil([&] {
      last = pod(name);
      return last && pred(*last);
    });
    EXPECT_TRUE(ok) << "pod " << name << " never got " << what
                    << "; last: " << (last ? json::serialize(*last) : std::string("<none>"));
    return last.value_or(json::object{});
  }

  json::object waitForRunningReady(const std::string& name) {
    return waitForPod(
        name,
        [](const json::object& p) {
          return at(p, {"status", "phase"}) == "Running" && conditionOf(p, "Ready") == "True";
        },
        "Running and Ready");
  }

  json::array events() {
    return client_->list(client::resources::events, ns_).at("items").as_array();
  }

  std::optional<json::object> waitForEvent(const std::string& reason, const std::string& object) {
    std::optional<json::object> found;
    waitUntil([&] {
      for (auto& e : events())
        if (at(e, {"reason"}) == reason && at(e, {"involvedObject", "name"}) == object) {
          found = e.as_object();
          return true;
        }
      return false;
    });
    return found;
  }

  // Lets the kubelet finish what it is doing: several relists (each lists containers) pass.
  void settle() {
    int lists = runtime_.calls("ListContainers");
    ASSERT_TRUE(waitUntil([&] { return runtime_.calls("ListContainers") >= lists + 4; }));
  }

  std::shared_ptr<client::RestClient> client_;
  std::string ns_, node_;
  fs::path dir_;
  FakeRuntimeService runtime_;
  FakeImageService images_;
  std::unique_ptr<Kubelet> kubelet_;
};

TEST_F(KubeletSyncTest, BoundPodGetsASandboxAndRunningReadyContainers) {
  startReadyKubelet();
  auto created = createPod("web", R"([{"name": "app", "image": "busybox:1.36"},
                                      {"name": "sidecar", "image": "busybox:1.36"}])");
  auto uid = at(created, {"metadata", "uid"});
  auto p = waitForRunningReady("web");

  auto sandbox = runtime_.sandboxOfPod(uid);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->state, cri::v1::SANDBOX_READY);
  EXPECT_EQ(sandbox->config.metadata().name(), "web");
  EXPECT_EQ(sandbox->config.metadata().namespace_(), ns_);
  EXPECT_EQ(sandbox->config.metadata().attempt(), 0u);
  EXPECT_EQ(sandbox->config.log_directory(), kubelet_->podLogsDir() + "/" + ns_ + "_web_" + uid);
  EXPECT_TRUE(fs::is_directory(sandbox->config.log_directory()));
  EXPECT_EQ(at(p, {"status", "podIP"}), sandbox->ip);
  EXPECT_EQ(at(p, {"status", "podIPs", "0", "ip"}), sandbox->ip);
  EXPECT_EQ(sandbox->ip.rfind("10.88.", 0), 0u);
  EXPECT_EQ(at(p, {"status", "hostIP"}), "127.0.0.1");
  EXPECT_EQ(conditionOf(p, "ContainersReady"), "True");
  EXPECT_EQ(conditionOf(p, "Initialized"), "True");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "True");
  EXPECT_EQ(at(p, {"status", "qosClass"}), "BestEffort");
  EXPECT_FALSE(at(p, {"status", "startTime"}).empty());

  for (auto* name : {"app", "sidecar"}) {
    EXPECT_EQ(runtime_.starts(name), 1) << name;
    auto c = runtime_.latestContainer(name);
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(c->sandboxId, sandbox->id);
    EXPECT_EQ(c->state, cri::v1::CONTAINER_RUNNING);
    EXPECT_EQ(c->label(labels::kPodUid), uid);
    EXPECT_EQ(c->annotation(labels::kRestartCount), "0");
    EXPECT_EQ(c->config.log_path(), std::string(name) + "/0.log");
  }
  auto statuses = p.at("status").at("containerStatuses");
  ASSERT_EQ(statuses.as_array().size(), 2u);
  EXPECT_EQ(at(statuses, {"0", "name"}), "app");
  EXPECT_EQ(at(statuses, {"0", "containerID"}),
            "containerd://" + runtime_.latestContainer("app")->id);
  EXPECT_EQ(at(statuses, {"0", "ready"}), "true");
  EXPECT_EQ(at(statuses, {"0", "restartCount"}), "0");
  EXPECT_FALSE(at(statuses, {"0", "state", "running", "startedAt"}).empty());
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_EQ(images_.pulls(kImage), 0);  // IfNotPresent and present
  EXPECT_TRUE(waitForEvent("Started", "web")) << "no Started event";
}

TEST_F(KubeletSyncTest, NodeRegistersWithCapacityAddressesNodeInfoAndALease) {
  startKubelet();
  std::optional<json::object> n;
  ASSERT_TRUE(waitUntil([&] {
    n = node();
    return n && !at(*n, {"status", "nodeInfo", "kubeletVersion"}).empty();
  })) << "node never posted its status";
  EXPECT_EQ(at(*n, {"metadata", "labels", "kubernetes.io/hostname"}), node_);
  EXPECT_EQ(at(*n, {"metadata", "labels", "kubernetes.io/os"}), "linux");
  EXPECT_EQ(at(*n, {"metadata", "labels", "skiff.test/pool"}), "unit");
  for (auto* res : {"cpu", "memory", "pods", "ephemeral-storage"}) {
    EXPECT_FALSE(at(*n, {"status", "capacity", res}).empty()) << res;
    EXPECT_FALSE(at(*n, {"status", "allocatable", res}).empty()) << res;
  }
  EXPECT_EQ(at(*n, {"status", "capacity", "pods"}), "50");
  EXPECT_NE(at(*n, {"status", "capacity", "memory"}), at(*n, {"status", "allocatable", "memory"}))
      << "eviction reserve is not subtracted";
  EXPECT_EQ(at(*n, {"status", "addresses", "0", "type"}), "InternalIP");
  EXPECT_EQ(at(*n, {"status", "addresses", "0", "address"}), "127.0.0.1");
  EXPECT_EQ(at(*n, {"status", "addresses", "1", "type"}), "Hostname");
  EXPECT_EQ(at(*n, {"status", "addresses", "1", "address"}), node_);
  EXPECT_EQ(at(*n, {"status", "nodeInfo", "containerRuntimeVersion"}), "fake://1.2.3");
  EXPECT_EQ(at(*n, {"status", "nodeInfo", "operatingSystem"}), "linux");
  EXPECT_NE(kubelet_->serverPort(), 0);
  EXPECT_EQ(at(*n, {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}),
            std::to_string(kubelet_->serverPort()));
  EXPECT_EQ(at(*n, {"status", "images", "0", "names", "1"}), kImage);
  // Without a podCIDR the pod network is not ready, and neither is the node.
  EXPECT_EQ(conditionOf(*n, "Ready"), "False");
  EXPECT_NE(conditionOf(*n, "Ready", "message").find("cni plugin not initialized"),
            std::string::npos);
  EXPECT_EQ(conditionOf(*n, "MemoryPressure"), "False");

  std::optional<json::object> lease;
  ASSERT_TRUE(waitUntil([&] {
    try {
      lease = client_->get(client::resources::leases, "kube-node-lease", node_);
      return true;
    } catch (const ApiError&) {
      return false;
    }
  })) << "no Lease";
  EXPECT_EQ(at(*lease, {"spec", "holderIdentity"}), node_);
  EXPECT_EQ(at(*lease, {"spec", "leaseDurationSeconds"}), "40");
  EXPECT_FALSE(at(*lease, {"spec", "renewTime"}).empty());
  EXPECT_EQ(at(*lease, {"metadata", "ownerReferences", "0", "kind"}), "Node");
  EXPECT_EQ(at(*lease, {"metadata", "ownerReferences", "0", "uid"}), at(*n, {"metadata", "uid"}));

  giveNodePodCidr();
  auto conflist = fs::path(options().cniConfDir) / "10-skiff.conflist";
  ASSERT_TRUE(fs::exists(conflist));
  std::ifstream in(conflist);
  auto conf = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  EXPECT_EQ(at(conf, {"plugins", "0", "ipam", "ranges", "0", "0", "subnet"}), kPodCidr);
  EXPECT_EQ(conditionOf(*node(), "Ready", "reason"), "KubeletReady");
}

TEST_F(KubeletSyncTest, InitContainersRunInOrderBeforeTheMainContainer) {
  startReadyKubelet();
  createPod("init", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "busybox:1.36"},
                                    {"name": "init2", "image": "busybox:1.36"}])");
  // init1 runs; the pod reports it, and nothing else has started.
  waitForPod(
      "init",
      [](const json::object& p) {
        return !at(p, {"status", "initContainerStatuses", "0", "state", "running"}).empty();
      },
      "init1 running");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("init2"), 0);
  EXPECT_EQ(runtime_.starts("app"), 0);
  auto p = *pod("init");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "Initialized"), "False");
  EXPECT_EQ(conditionOf(p, "Initialized", "message"),
            "containers with incomplete status: [init1 init2]");

  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("init1")->id, 0));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("init2") == 1; })) << "init2 never started";
  EXPECT_EQ(runtime_.starts("app"), 0);
  waitForPod(
      "init",
      [](const json::object& p) {
        return !at(p, {"status", "initContainerStatuses", "1", "state", "running"}).empty();
      },
      "init2 running");
  EXPECT_EQ(runtime_.starts("app"), 0);

  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("init2")->id, 0));
  p = waitForRunningReady("init");
  EXPECT_EQ(conditionOf(p, "Initialized"), "True");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "0", "state", "terminated", "reason"}),
            "Completed");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "1", "state", "terminated", "exitCode"}),
            "0");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("init2"), 1);
  EXPECT_EQ(runtime_.starts("app"), 1);
  auto i1 = runtime_.latestContainer("init1"), i2 = runtime_.latestContainer("init2"),
       app = runtime_.latestContainer("app");
  EXPECT_LT(i1->createdAt, i2->createdAt);
  EXPECT_LT(i2->finishedAt, app->startedAt);
  EXPECT_EQ(i1->annotation(labels::kInitContainer), "true");
  EXPECT_EQ(app->annotation(labels::kInitContainer), "");
}

TEST_F(KubeletSyncTest, FailedInitContainerOfANeverPodFailsThePodWithoutRunningTheApp) {
  startReadyKubelet();
  runtime_.exitOnStart("init1", 4);
  createPod(
      "initfail", R"([{"name": "app", "image": "busybox:1.36"}])",
      R"(, "restartPolicy": "Never", "initContainers": [{"name": "init1", "image": "busybox:1.36"}])");
  auto p = waitForPod(
      "initfail",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Failed";
      },
      "phase Failed");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "0", "state", "terminated", "exitCode"}),
            "4");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("app"), 0);
}

TEST_F(KubeletSyncTest, NeverPodWhoseContainerExitsOneFailsAndIsNotRestarted) {
  startReadyKubelet();
  runtime_.exitOnStart("app", 1);
  auto uid = at(createSimplePod("never", "Never"), {"metadata", "uid"});
  auto p = waitForPod(
      "never",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Failed";
      },
      "phase Failed");
  auto cs = p.at("status").at("containerStatuses");
  EXPECT_EQ(at(cs, {"0", "state", "terminated", "exitCode"}), "1");
  EXPECT_EQ(at(cs, {"0", "state", "terminated", "reason"}), "Error");
  EXPECT_EQ(at(cs, {"0", "restartCount"}), "0");
  EXPECT_EQ(conditionOf(p, "Ready", "reason"), "PodCompleted");
  // The finished pod releases its sandbox (and IP) but keeps its container for logs; no
  // sync after that starts anything.
  ASSERT_TRUE(waitUntil([&] {
    auto s = runtime_.sandboxOfPod(uid);
    return s && s->state == cri::v1::SANDBOX_NOTREADY;
  })) << "sandbox of the failed pod is still ready";
  settle();
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_EQ(runtime_.containersNamed("app").size(), 1u);
  EXPECT_EQ(at(*pod("never"), {"status", "phase"}), "Failed");
}

TEST_F(KubeletSyncTest, OnFailurePodWhoseContainerExitsZeroSucceeds) {
  startReadyKubelet();
  runtime_.exitOnStart("app", 0);
  auto uid = at(createSimplePod("onfailure", "OnFailure"), {"metadata", "uid"});
  auto p = waitForPod(
      "onfailure",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Succeeded";
      },
      "phase Succeeded");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "terminated", "reason"}),
            "Completed");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(conditionOf(p, "Ready", "reason"), "PodCompleted");
  ASSERT_TRUE(waitUntil([&] {
    auto s = runtime_.sandboxOfPod(uid);
    return s && s->state == cri::v1::SANDBOX_NOTREADY;
  }));
  EXPECT_EQ(runtime_.starts("app"), 1);
}

TEST_F(KubeletSyncTest, OnFailurePodRestartsAFailedContainer) {
  startReadyKubelet();
  createSimplePod("retry", "OnFailure");
  waitForRunningReady("retry");
  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("app")->id, 1));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "failed container not restarted";
  auto p = waitForPod(
      "retry",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               !at(p, {"status", "containerStatuses", "0", "state", "running"}).empty();
      },
      "restartCount 1 and running");
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "1");
}

TEST_F(KubeletSyncTest, AlwaysPodCrashRestartsAtOnceThenBacksOffWithCrashLoopBackOff) {
  startReadyKubelet();
  createSimplePod("crashy", "Always");
  waitForRunningReady("crashy");
  auto first = runtime_.latestContainer("app")->id;

  auto crashed = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime_.exitContainer(first, 2));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "no restart after the first crash";
  // Immediate: well before the 10 s back-off.
  EXPECT_LT(std::chrono::steady_clock::now() - crashed, 5s);
  auto p = waitForPod(
      "crashy",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               conditionOf(p, "Ready") == "True";
      },
      "running again with restartCount 1");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "2");
  auto second = runtime_.latestContainer("app");
  EXPECT_NE(second->id, first);
  EXPECT_EQ(second->annotation(labels::kRestartCount), "1");
  EXPECT_EQ(second->config.log_path(), "app/1.log");

  ASSERT_TRUE(runtime_.exitContainer(second->id, 3));
  p = waitForPod(
      "crashy",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "CrashLoopBackOff";
      },
      "CrashLoopBackOff");
  auto cs = p.at("status").at("containerStatuses");
  EXPECT_NE(at(cs, {"0", "state", "waiting", "message"})
                .find("back-off 10s restarting failed container=app"),
            std::string::npos)
      << at(cs, {"0", "state", "waiting", "message"});
  EXPECT_EQ(at(cs, {"0", "lastState", "terminated", "exitCode"}), "3");
  EXPECT_EQ(at(cs, {"0", "lastState", "terminated", "containerID"}), "containerd://" + second->id);
  EXPECT_EQ(at(cs, {"0", "restartCount"}), "1");
  EXPECT_EQ(at(cs, {"0", "ready"}), "false");
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(runtime_.starts("app"), 2);
  EXPECT_TRUE(waitForEvent("BackOff", "crashy")) << "no BackOff event";
  EXPECT_EQ(runtime_.starts("app"), 2);  // still waiting out the back-off
}

TEST_F(KubeletSyncTest, DeletingThePodStopsItsContainersAndRemovesTheSandbox) {
  runtime_.scriptExec({"/bin/sh", "-c", "sleep 1; echo bye"}, {"bye\n", "", 0});
  startReadyKubelet();
  auto created = createPod("doomed", R"([{"name": "app", "image": "busybox:1.36", "lifecycle":
                                {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 1; echo bye"]}}}}])",
                           R"(, "terminationGracePeriodSeconds": 7)");
  auto uid = at(created, {"metadata", "uid"});
  waitForRunningReady("doomed");
  auto id = runtime_.latestContainer("app")->id;

  client_->remove(client::resources::pods, ns_, "doomed");
  auto deleting = pod("doomed");
  ASSERT_TRUE(deleting) << "graceful deletion removed the pod at once";
  EXPECT_EQ(at(*deleting, {"metadata", "deletionGracePeriodSeconds"}), "7");
  ASSERT_TRUE(waitUntil([&] { return !pod("doomed").has_value(); })) << "pod never left the API";

  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, id);
  EXPECT_GE(stops[0].timeoutSeconds,
            6);  // the grace period (see StopContainerGetsTheWholeGracePeriod)
  EXPECT_LE(stops[0].timeoutSeconds, 7);
  auto execs = runtime_.execCalls();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0], (std::vector<std::string>{"/bin/sh", "-c", "sleep 1; echo bye"}));
  EXPECT_GE(runtime_.calls("StopPodSandbox"), 1);
  EXPECT_FALSE(runtime_.sandboxOfPod(uid)) << "sandbox not removed";
  EXPECT_TRUE(runtime_.containersNamed("app").empty()) << "container not removed";
  EXPECT_TRUE(waitForEvent("Killing", "doomed")) << "no Killing event for the preStop hook";
}

TEST_F(KubeletSyncTest, StopContainerGetsTheWholeGracePeriod) {
  startReadyKubelet();
  createSimplePod("graceful", "Always", R"(, "terminationGracePeriodSeconds": 7)");
  waitForRunningReady("graceful");
  client_->remove(client::resources::pods, ns_, "graceful");
  ASSERT_TRUE(waitUntil([&] { return !pod("graceful").has_value(); })) << "pod never left the API";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].timeoutSeconds, 7);
}

TEST_F(KubeletSyncTest, ForceDeletedPodIsKilledAndRemovedFromTheRuntime) {
  startReadyKubelet();
  auto uid = at(createSimplePod("forced"), {"metadata", "uid"});
  waitForRunningReady("forced");
  auto id = runtime_.latestContainer("app")->id;
  client_->remove(client::resources::pods, ns_, "forced", json::object{{"gracePeriodSeconds", 0}});
  EXPECT_FALSE(pod("forced")) << "a zero grace period deletes at once";
  ASSERT_TRUE(waitUntil([&] { return !runtime_.sandboxOfPod(uid); }))
      << "sandbox of the deleted pod survived";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, id);
  EXPECT_TRUE(runtime_.containers().empty());
}

TEST_F(KubeletSyncTest, RuntimePodUnknownToTheApiIsCleanedUp) {
  // Left behind by an earlier kubelet: the pod was deleted from the API while it was away.
  auto ghost =
      json::parse(
          R"({"metadata": {"name": "ghost", "namespace": ")" + ns_ +
          R"(", "uid": "ghost-uid"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}})")
          .as_object();
  auto sandboxConfig = makeSandboxConfig(ghost, 0, tmpLogs());
  auto sandbox = runtime_.addSandbox(sandboxConfig);
  auto container = runtime_.addContainer(
      sandbox,
      makeContainerConfig(ghost, ghost["spec"].at("containers").at(0).as_object(), false, {}));
  ASSERT_TRUE(runtime_.sandboxOfPod("ghost-uid"));

  startKubelet();  // no podCIDR needed: cleanup does not wait for the network
  ASSERT_TRUE(waitUntil([&] { return !runtime_.sandboxOfPod("ghost-uid"); }))
      << "orphan sandbox not removed";
  EXPECT_TRUE(runtime_.containers().empty());
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, container);
  EXPECT_GE(runtime_.calls("StopPodSandbox"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 0);
}

TEST_F(KubeletSyncTest, NewPodWithTheNameOfAnOldRuntimePodReplacesIt) {
  auto old =
      json::parse(
          R"({"metadata": {"name": "reused", "namespace": ")" + ns_ +
          R"(", "uid": "old-uid"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}})")
          .as_object();
  auto oldSandbox = runtime_.addSandbox(makeSandboxConfig(old, 0, tmpLogs()));
  auto oldContainer = runtime_.addContainer(
      oldSandbox,
      makeContainerConfig(old, old["spec"].at("containers").at(0).as_object(), false, {}));
  startReadyKubelet();
  auto uid = at(createSimplePod("reused"), {"metadata", "uid"});
  auto p = waitForRunningReady("reused");
  EXPECT_FALSE(runtime_.sandboxOfPod("old-uid")) << "the old pod's sandbox survived";
  auto app = runtime_.latestContainer("app");
  ASSERT_TRUE(app);
  EXPECT_NE(app->id, oldContainer);
  EXPECT_EQ(app->label(labels::kPodUid), uid);
  EXPECT_EQ(runtime_.containersNamed("app").size(), 1u);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "0");
}

TEST_F(KubeletSyncTest, RestartedKubeletAdoptsRunningContainersWithoutStartingThemAgain) {
  startReadyKubelet();
  createSimplePod("survivor");
  waitForRunningReady("survivor");
  auto id = runtime_.latestContainer("app")->id;
  kubelet_.reset();  // containers keep running

  // Forget what the first kubelet reported, so the second must report it afresh.
  client_->patch(client::resources::pods, ns_, "survivor", client::PatchType::Merge,
                 json::object{{"status", json::object{{"containerStatuses", json::array{}}}}},
                 "status");
  ASSERT_EQ(at(*pod("survivor"), {"status", "containerStatuses", "0", "containerID"}), "");

  startKubelet();
  auto p = waitForPod(
      "survivor",
      [](const json::object& p) {
        return !at(p, {"status", "containerStatuses", "0", "containerID"}).empty();
      },
      "container statuses from the new kubelet");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "containerID"}), "containerd://" + id);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "0");
  EXPECT_FALSE(at(p, {"status", "containerStatuses", "0", "state", "running"}).empty());
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_EQ(runtime_.calls("CreateContainer"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_TRUE(runtime_.stopCalls().empty());
  EXPECT_EQ(runtime_.latestContainer("app")->state, cri::v1::CONTAINER_RUNNING);
}

TEST_F(KubeletSyncTest, SandboxThatDiedIsRecreatedAndItsContainersStartedAgain) {
  startReadyKubelet();
  auto uid = at(createSimplePod("phoenix"), {"metadata", "uid"});
  auto p = waitForRunningReady("phoenix");
  auto first = *runtime_.sandboxOfPod(uid);
  EXPECT_EQ(at(p, {"status", "podIP"}), first.ip);

  runtime_.stopPodSandbox(first.id);  // e.g. the pause process died
  p = waitForPod(
      "phoenix",
      [&](const json::object& p) {
        return !at(p, {"status", "podIP"}).empty() && at(p, {"status", "podIP"}) != first.ip &&
               conditionOf(p, "Ready") == "True";
      },
      "a new pod IP and Ready");
  auto second = *runtime_.sandboxOfPod(uid);
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.config.metadata().attempt(), 1u);
  EXPECT_EQ(at(p, {"status", "podIP"}), second.ip);
  EXPECT_EQ(runtime_.starts("app"), 2);
  EXPECT_EQ(runtime_.latestContainer("app")->sandboxId, second.id);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "1");
  EXPECT_TRUE(waitForEvent("SandboxChanged", "phoenix")) << "no SandboxChanged event";
}

TEST_F(KubeletSyncTest, ImageChangeRestartsTheContainerWithTheNewImage) {
  images_.addImage("busybox:1.37");
  startReadyKubelet();
  createSimplePod("upgrade", "Always", R"(, "terminationGracePeriodSeconds": 4)");
  waitForRunningReady("upgrade");
  auto old = *runtime_.latestContainer("app");
  client_->patch(
      client::resources::pods, ns_, "upgrade", client::PatchType::Json,
      json::parse(
          R"([{"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:1.37"}])"));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "not restarted for the new image";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, old.id);
  EXPECT_EQ(stops[0].timeoutSeconds, 4);
  auto fresh = *runtime_.latestContainer("app");
  EXPECT_EQ(fresh.config.image().user_specified_image(), "busybox:1.37");
  EXPECT_NE(fresh.annotation(labels::kContainerHash), old.annotation(labels::kContainerHash));
  auto p = waitForPod(
      "upgrade",
      [&](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "containerID"}) ==
                   "containerd://" + fresh.id &&
               conditionOf(p, "Ready") == "True";
      },
      "the new container running and ready");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "image"}), "busybox:1.37");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "1");
}

TEST_F(KubeletSyncTest, HostNetworkPodRunsBeforeThePodNetworkIsReady) {
  startKubelet();  // no podCIDR: the node is NotReady, but host-network pods need no CNI
  ASSERT_TRUE(waitUntil([&] { return node().has_value(); }));
  auto uid =
      at(createSimplePod("hostnet", "Always", R"(, "hostNetwork": true)"), {"metadata", "uid"});
  waitForRunningReady("hostnet");
  auto sandbox = runtime_.sandboxOfPod(uid);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->config.linux().security_context().namespace_options().network(),
            cri::v1::NODE);
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_FALSE(fs::exists(fs::path(options().cniConfDir) / "10-skiff.conflist"));
  EXPECT_EQ(conditionOf(*node(), "Ready"), "False");
}

TEST_F(KubeletSyncTest, PodNetworkPodWaitsForThePodCidr) {
  startKubelet();
  ASSERT_TRUE(waitUntil([&] { return node().has_value(); }));
  createSimplePod("patient");
  auto p = waitForPod(
      "patient",
      [](const json::object& p) { return !conditionOf(p, "PodReadyToStartContainers").empty(); },
      "a status from the kubelet");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "False");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 0);
  giveNodePodCidr();
  waitForRunningReady("patient");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
}

TEST_F(KubeletSyncTest, ReadinessProbeGatesTheReadyCondition) {
  const std::vector<std::string> probe{"cat", "/tmp/ready"};
  runtime_.scriptExec(probe, {"", "cat: /tmp/ready: No such file", 1});
  startReadyKubelet();
  createPod("probed", R"([{"name": "app", "image": "busybox:1.36", "readinessProbe":
                           {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}}])");
  auto p = waitForPod(
      "probed",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Running" && conditionOf(p, "Ready") == "False";
      },
      "Running but not Ready");
  ASSERT_TRUE(waitUntil([&] { return !runtime_.execCalls().empty(); })) << "the probe never ran";
  EXPECT_EQ(runtime_.execCalls()[0], probe);
  p = *pod("probed");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(conditionOf(p, "Ready", "message"), "containers with unready status: [app]");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "ready"}), "false");

  runtime_.scriptExec(probe, {"ok", "", 0});
  p = waitForRunningReady("probed");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "ready"}), "true");
  EXPECT_EQ(runtime_.starts("app"), 1);
}

TEST_F(KubeletSyncTest, FailingLivenessProbeRestartsTheContainer) {
  const std::vector<std::string> probe{"/bin/healthy"};
  runtime_.scriptExec(probe, {"", "sick", 1});
  startReadyKubelet();
  createPod("live", R"([{"name": "app", "image": "busybox:1.36", "livenessProbe":
                         {"exec": {"command": ["/bin/healthy"]}, "initialDelaySeconds": 1,
                          "periodSeconds": 1, "failureThreshold": 1}}])",
            R"(, "terminationGracePeriodSeconds": 9)");
  waitForRunningReady("live");
  auto first = runtime_.latestContainer("app")->id;
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; })) << "container not restarted";
  runtime_.scriptExec(probe, {"", "", 0});  // the new instance is healthy
  auto stops = runtime_.stopCalls();
  ASSERT_GE(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, first);
  EXPECT_EQ(stops[0].timeoutSeconds, 9);
  auto p = waitForPod(
      "live",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               !at(p, {"status", "containerStatuses", "0", "state", "running"}).empty();
      },
      "restarted and running");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "143");
  auto unhealthy = waitForEvent("Unhealthy", "live");
  ASSERT_TRUE(unhealthy) << "no Unhealthy event";
  EXPECT_EQ(at(*unhealthy, {"involvedObject", "fieldPath"}), "spec.containers{app}");
  EXPECT_TRUE(waitForEvent("Killing", "live")) << "no Killing event";
}

TEST_F(KubeletSyncTest, CreateContainerFailureIsRetried) {
  runtime_.failNext("CreateContainer", 1000, cri::CriError::Unknown, "no space left on device");
  startReadyKubelet();
  createSimplePod("retried");
  auto p = waitForPod(
      "retried",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "CreateContainerError";
      },
      "CreateContainerError");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "no space left on device");
  auto e = waitForEvent("Failed", "retried");
  ASSERT_TRUE(e) << "no Failed event";
  EXPECT_EQ(at(*e, {"message"}), "Error: no space left on device");
  settle();
  int failedCalls = runtime_.calls("CreateContainer");
  runtime_.clearFailures("CreateContainer");
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 1; }, 4s))
      << "not retried after the failure";
  EXPECT_EQ(runtime_.calls("CreateContainer"), failedCalls + 1);
  waitForRunningReady("retried");
}

TEST_F(KubeletSyncTest, CreateContainerFailureOfAnInitContainerIsRetried) {
  runtime_.failNext("CreateContainer", 1000, cri::CriError::Unknown, "no space left on device");
  startReadyKubelet();
  createPod("initretry", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "busybox:1.36"}])");
  waitForPod(
      "initretry",
      [](const json::object& p) {
        return at(p, {"status", "initContainerStatuses", "0", "state", "waiting", "reason"}) ==
               "CreateContainerError";
      },
      "CreateContainerError");
  settle();
  runtime_.clearFailures("CreateContainer");
  // Regular containers are retried 2 s after such a failure; give the init container a second more.
  EXPECT_TRUE(waitUntil([&] { return runtime_.starts("init1") == 1; }, 3s))
      << "the init container was not retried within 3 s of a CreateContainer failure";
  EXPECT_EQ(runtime_.starts("init1"), 1);
}

TEST_F(KubeletSyncTest, ImageEventsOfAnInitContainerNameItsInitContainerField) {
  startReadyKubelet();
  createPod("initpull", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "alpine:3.19"}])");
  auto pulled = waitForEvent("Pulled", "initpull");
  ASSERT_TRUE(pulled) << "no Pulled event";
  auto started = waitForEvent("Started", "initpull");
  ASSERT_TRUE(started);
  EXPECT_EQ(images_.pulls("alpine:3.19"), 1);
  auto fieldPath = at(*pulled, {"involvedObject", "fieldPath"});
  EXPECT_EQ(fieldPath, "spec.initContainers{init1}");
}

TEST_F(KubeletSyncTest, PullPolicyNeverWithAMissingImageWaitsWithErrImageNeverPull) {
  startReadyKubelet();
  createPod("nopull", R"([{"name": "app", "image": "missing:1.0", "imagePullPolicy": "Never"}])");
  auto p = waitForPod(
      "nopull",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "ErrImageNeverPull";
      },
      "ErrImageNeverPull");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "Container image \"missing:1.0\" is not present with pull policy of Never");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "True");  // the sandbox is there
  EXPECT_EQ(images_.calls("PullImage"), 0);
  EXPECT_EQ(runtime_.calls("CreateContainer"), 0);
  EXPECT_TRUE(waitForEvent("ErrImageNeverPull", "nopull")) << "no ErrImageNeverPull event";
}

TEST_F(KubeletSyncTest, MissingImageIsPulledOnceThenUsed) {
  startReadyKubelet();
  createPod("puller", R"([{"name": "app", "image": "nginx:1.25"}])");
  waitForRunningReady("puller");
  EXPECT_EQ(images_.pulls("nginx:1.25"), 1);
  EXPECT_TRUE(images_.has("nginx:1.25"));
  EXPECT_TRUE(waitForEvent("Pulled", "puller")) << "no Pulled event";
}

TEST_F(KubeletSyncTest, FailedPullBacksOffWithImagePullBackOff) {
  images_.failPull("private:1.0", "pull access denied");
  startReadyKubelet();
  createPod("badpull", R"([{"name": "app", "image": "private:1.0"}])");
  auto p = waitForPod(
      "badpull",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "ImagePullBackOff";
      },
      "ImagePullBackOff");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "Back-off pulling image \"private:1.0\"");
  auto failed = waitForEvent("Failed", "badpull");
  ASSERT_TRUE(failed) << "no Failed event";
  EXPECT_NE(at(*failed, {"message"}).find("pull access denied"), std::string::npos)
      << at(*failed, {"message"});
  EXPECT_EQ(images_.pulls("private:1.0"), 1);  // the back-off holds the next pull
  EXPECT_EQ(runtime_.calls("CreateContainer"), 0);
}

TEST_F(KubeletSyncTest, RunPodSandboxFailureIsRetriedAndReported) {
  runtime_.failNext("RunPodSandbox", 1, cri::CriError::Unknown,
                    "failed to setup network for sandbox: boom");
  startReadyKubelet();
  auto uid = at(createSimplePod("flaky"), {"metadata", "uid"});
  auto p = waitForRunningReady("flaky");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 2);
  EXPECT_EQ(at(p, {"status", "podIP"}), runtime_.sandboxOfPod(uid)->ip);
  auto e = waitForEvent("FailedCreatePodSandBox", "flaky");
  ASSERT_TRUE(e) << "no FailedCreatePodSandBox event";
  EXPECT_EQ(at(*e, {"type"}), "Warning");
  EXPECT_EQ(at(*e, {"message"}),
            "Failed to create pod sandbox: failed to setup network for sandbox: boom");
  EXPECT_EQ(at(*e, {"involvedObject", "uid"}), uid);
}

}  // namespace
}  // namespace skiff::kubelet
