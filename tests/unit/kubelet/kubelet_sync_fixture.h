// Shared fixture of the KubeletSync tests (kubelet_sync_test.cpp, kubelet_sync_recovery_test.cpp):
// The real Kubelet against the in-process API server (tests/unit/client/test_server.h) and the
// in-memory CRI runtime (fake_runtime.h): pod lifecycle, restart policy, back-off, deletion,
// orphan cleanup, adoption after a restart, image policy and sandbox failures.
//
// There is no scheduler or node IPAM here: tests bind pods with spec.nodeName and give the
// Node its spec.podCIDR themselves. Nodes are cluster-scoped on a shared server, so each test
// has its own node name and deletes its Node and Lease afterwards. Waits poll the API object
// with a deadline.

#pragma once
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

namespace skiff::kubelet::sync_test {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeImageService;
using testing::FakeRuntimeService;

constexpr auto kWait = 10s;
constexpr const char* kImage = "busybox:1.36";
constexpr const char* kPodCidr = "10.244.1.0/24";

// The value at `path` as text ("" when absent; numbers and booleans serialized).
inline std::string at(const json::value& v, std::initializer_list<std::string_view> path) {
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

inline std::string conditionOf(const json::object& obj, const std::string& type,
                               const char* field = "status") {
  auto* st = obj.if_contains("status");
  auto* conds = st && st->is_object() ? st->as_object().if_contains("conditions") : nullptr;
  if (!conds || !conds->is_array()) return "";
  for (auto& c : conds->as_array())
    if (at(c, {"type"}) == type) return at(c, {field});
  return "";
}

inline SandboxSettings tmpLogs() {
  SandboxSettings s;
  s.podLogsDir = "/tmp";
  return s;
}

inline bool waitUntil(const std::function<bool()>& cond,
                      std::chrono::milliseconds timeout = kWait) {
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
    o.podMasquerade = false;  // the host's nftables are no unit test's to change
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

}  // namespace skiff::kubelet::sync_test
