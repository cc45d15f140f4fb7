// ControllerTestEnv: one controller built from its registration over fakes, driven on the
// test's thread (upstream's controller unit tests: informers filled directly, a fake
// clientset recording actions, a fake clock). No server, no watch, no worker threads:
//
//   ControllerTestEnv env("replicaset");
//   env.add(client::resources::replicaSets, rs);   // into the informer and the fake API
//   env.sync();                                    // handles every queued key
//   EXPECT_EQ(env.api->writeSummaries(), (std::vector<std::string>{"create pods", ...}));
//   env.clock.step(std::chrono::seconds(30));      // delayed re-queues become due
//
// add/update/remove deliver the event to the informer's handlers (so the controller queues
// what it would queue) and keep the fake API's tracker in step. With reflectWrites(), the
// controller's own writes come back to its informers as a watch would bring them.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/informer.h"
#include "client/rest_client.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/discovery.h"
#include "unit/controller/fake_api.h"

namespace skiff::controller::testing {

inline client::ClientConfig fakeConfig(std::shared_ptr<FakeApi> api) {
  client::ClientConfig c;
  c.server = "http://fake.invalid";
  c.local = std::move(api);
  return c;
}

// The resources tests deal with, to find an informer by what the fake API saw.
inline const std::vector<client::Resource>& knownResources() {
  namespace r = client::resources;
  static const std::vector<client::Resource> all = {
      r::pods,
      r::nodes,
      r::namespaces,
      r::services,
      r::endpoints,
      r::configMaps,
      r::secrets,
      r::serviceAccounts,
      r::persistentVolumeClaims,
      r::persistentVolumes,
      client::Resource{"storage.k8s.io", "v1", "storageclasses"},
      r::deployments,
      r::replicaSets,
      r::daemonSets,
      r::statefulSets,
      r::jobs,
      r::cronJobs,
      r::leases,
      r::endpointSlices,
      client::Resource{"apps", "v1", "controllerrevisions"},
      client::Resource{"policy", "v1", "poddisruptionbudgets"},
      client::Resource{"", "v1", "replicationcontrollers"},
      client::Resource{"rbac.authorization.k8s.io", "v1", "clusterroles"}};
  return all;
}

struct ControllerTestEnv {
  FakeClock clock;
  std::shared_ptr<FakeApi> api = std::make_shared<FakeApi>(clock);
  client::RestClient client{fakeConfig(api)};
  client::SharedInformerFactory informers{client};
  ControllerOptions options;
  std::shared_ptr<StaticDiscovery> discovery = std::make_shared<StaticDiscovery>();
  std::unique_ptr<ControllerContext> context;
  std::unique_ptr<Controller> controller;
  QueueController* queueController = nullptr;

  explicit ControllerTestEnv(const std::string& name,
                             std::function<void(ControllerOptions&)> tweak = {}) {
    options.workers = 1;
    if (tweak) tweak(options);
    context = std::make_unique<ControllerContext>(
        ControllerContext{client, informers, options, clock, discovery});
    for (const auto& [n, factory] : registeredControllers())
      if (n == name) controller = factory(*context);
    if (!controller) throw std::runtime_error("no controller " + name);
    queueController = dynamic_cast<QueueController*>(controller.get());
  }
  ~ControllerTestEnv() {
    api->observer = nullptr;
    controller.reset();
  }

  client::SharedInformer& informer(const client::Resource& r) { return informers.informer(r); }

  // Into the fake API's tracker (filling uid/resourceVersion) and, as an event, into the informer.
  // `informerNs` names the informer for controllers that watch one namespace (node Leases).
  boost::json::object add(const client::Resource& r, boost::json::object obj,
                          const std::string& informerNs = "") {
    return put(r, std::move(obj), "ADDED", informerNs);
  }
  boost::json::object update(const client::Resource& r, boost::json::object obj,
                             const std::string& informerNs = "") {
    return put(r, std::move(obj), "MODIFIED", informerNs);
  }
  // Gone from the tracker and, as a DELETED event, from the informer.
  void remove(const client::Resource& r, const boost::json::object& obj) {
    api->erase(r.resource, api::stringAt(obj, {"metadata", "namespace"}),
               api::stringAt(obj, {"metadata", "name"}));
    deliver(r, "DELETED", obj);
  }

  boost::json::object put(const client::Resource& r, boost::json::object obj,
                          const std::string& type, const std::string& informerNs) {
    api->seed(r.resource, obj);
    auto stored = *api->object(r.resource, api::stringAt(obj, {"metadata", "namespace"}),
                               api::stringAt(obj, {"metadata", "name"}));
    deliver(r, type, stored, informerNs);
    return stored;
  }
  void deliver(const client::Resource& r, const std::string& type, const boost::json::object& obj,
               const std::string& informerNs = "") {
    client::WatchEvent e{type, std::make_shared<const boost::json::object>(obj)};
    informers.informer(r, informerNs).handleEvent(e);
  }

  // The controller's writes reach its informers at once, as events of a watch would.
  void reflectWrites() {
    api->observer = [this](const std::string& group, const std::string& resource,
                           const std::string& type, const boost::json::object& obj) {
      for (const auto& r : knownResources())
        if (r.group == group && r.resource == resource) deliver(r, type, obj);
    };
  }

  // Handles every queued key (see QueueController::drainQueue).
  int sync() { return queueController->drainQueue(); }
  void syncKey(const std::string& key) { queueController->syncKey(key); }
  void runPeriodic() { queueController->runPeriodicTasks(); }
  // Moves the fake clock; delayed re-queues that became due are queued on return.
  void step(std::chrono::milliseconds d) { clock.step(d); }

  std::vector<std::string> writes() const { return api->writeSummaries(); }
  // Events written so far as "Reason: message" (waits for the recorder's writer thread).
  std::vector<std::string> events() {
    queueController->recorder().flush(std::chrono::seconds(5));
    std::vector<std::string> out;
    for (auto& a : api->actions())
      if (a.verb == "create" && a.resource == "events" && a.body.is_object())
        out.push_back(api::stringAt(a.object(), {"reason"}) + ": " +
                      api::stringAt(a.object(), {"message"}));
    return out;
  }
  bool hasEvent(const std::string& reason, const std::string& messagePart = "") {
    for (auto& e : events())
      if (e.rfind(reason + ": ", 0) == 0 && e.find(messagePart) != std::string::npos) return true;
    return false;
  }
};

}  // namespace skiff::controller::testing
