// Controller tests run real controllers against the real in-process API server the client
// tests use (memory storage, HTTPS); each test works in its own namespace. There is no
// kubelet here: tests play its part with markPodRunning/markPodReady through pods/status.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/api_error.h"
#include "controller/controller_manager.h"
#include "controller/controller_utils.h"
#include "unit/client/test_server.h"

namespace skiff::controller::testing {

using client::testing::eventually;
using client::testing::freshNamespace;
using client::testing::newClient;

// A controller manager running only `controllers` (names as registered).
struct ControllerEnv {
  std::shared_ptr<client::RestClient> client = newClient();
  ControllerOptions options;
  std::unique_ptr<ControllerManager> manager;

  explicit ControllerEnv(std::vector<std::string> controllers,
                         std::function<void(ControllerOptions&)> tweak = {}) {
    options.controllers = std::move(controllers);
    options.workers = 2;
    if (tweak) tweak(options);
    manager = std::make_unique<ControllerManager>(*client, options);
    manager->start();
  }
  ~ControllerEnv() { manager->stop(); }

  client::RestClient& c() { return *client; }
};

// Pod status as a kubelet would report it: Running (and Ready when `ready`), with the Ready
// condition's transition time now.
inline void markPodRunning(client::RestClient& c, const std::string& ns, const std::string& name,
                           bool ready = true) {
  std::string status = ready ? "True" : "False";
  auto now = nowTime();
  boost::json::object patch{
      {"status",
       boost::json::object{
           {"phase", "Running"},
           {"podIP", "10.42.0.10"},
           {"conditions",
            boost::json::array{
                boost::json::object{
                    {"type", "Ready"}, {"status", status}, {"lastTransitionTime", now}},
                boost::json::object{
                    {"type", "ContainersReady"}, {"status", status}, {"lastTransitionTime", now}},
            }}}}};
  c.patch(client::resources::pods, ns, name, client::PatchType::Merge, patch, "status");
}

inline void markPodPhase(client::RestClient& c, const std::string& ns, const std::string& name,
                         const std::string& phase) {
  boost::json::object patch{{"status", boost::json::object{{"phase", phase}}}};
  c.patch(client::resources::pods, ns, name, client::PatchType::Merge, patch, "status");
}

// Items of a list call.
inline boost::json::array listItems(client::RestClient& c, const client::Resource& r,
                                    const std::string& ns, const std::string& labelSelector = "") {
  client::ListOptions o;
  o.labelSelector = labelSelector;
  return c.list(r, ns, o)["items"].as_array();
}

}  // namespace skiff::controller::testing
