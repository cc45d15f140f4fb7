// Helpers of the ReplicaSet/Deployment controller tests: object builders and a tiny
// "kubelet" thread that marks pods Running/Ready (there is no real kubelet in unit tests).
#pragma once
#include <atomic>
#include <functional>
#include <thread>

#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

inline boost::json::object podTemplate(const std::string& app, const std::string& image) {
  return boost::json::object{
      {"metadata", boost::json::object{{"labels", boost::json::object{{"app", app}}}}},
      {"spec", boost::json::object{{"containers", boost::json::array{boost::json::object{
                                                      {"name", "c"}, {"image", image}}}}}}};
}

inline boost::json::object replicaSetObject(const std::string& name, int64_t replicas,
                                            const std::string& image = "nginx") {
  return boost::json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata", boost::json::object{{"name", name}}},
      {"spec",
       boost::json::object{
           {"replicas", replicas},
           {"selector", boost::json::object{{"matchLabels", boost::json::object{{"app", name}}}}},
           {"template", podTemplate(name, image)}}}};
}

inline boost::json::object deploymentObject(const std::string& name, int64_t replicas,
                                            const std::string& image,
                                            boost::json::object strategy = {}) {
  boost::json::object spec{
      {"replicas", replicas},
      {"selector", boost::json::object{{"matchLabels", boost::json::object{{"app", name}}}}},
      {"template", podTemplate(name, image)}};
  if (!strategy.empty()) spec["strategy"] = std::move(strategy);
  return boost::json::object{{"apiVersion", "apps/v1"},
                             {"kind", "Deployment"},
                             {"metadata", boost::json::object{{"name", name}}},
                             {"spec", std::move(spec)}};
}

inline boost::json::object rollingUpdate(boost::json::value surge, boost::json::value unavailable) {
  return boost::json::object{
      {"type", "RollingUpdate"},
      {"rollingUpdate", boost::json::object{{"maxSurge", surge}, {"maxUnavailable", unavailable}}}};
}

inline std::string imageOf(const boost::json::object& pod) {
  auto* c = arrayAt(pod, {"spec", "containers"});
  if (!c || c->empty() || !c->at(0).is_object()) return "";
  return stringAt(c->at(0).get_object(), {"image"});
}

// Plays the kubelet for one namespace: pods accepted by `filter` are marked Running and
// Ready, one every `interval` (0: all at once).
class FakeKubelet {
 public:
  FakeKubelet(client::RestClient& c, std::string ns,
              std::function<bool(const boost::json::object&)> filter = {},
              std::chrono::milliseconds interval = std::chrono::milliseconds(0))
      : c_(c), ns_(std::move(ns)), filter_(std::move(filter)), interval_(interval) {
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeKubelet() {
    stop_ = true;
    thread_.join();
  }

 private:
  void loop() {
    while (!stop_) {
      try {
        for (auto& p : listItems(c_, client::resources::pods, ns_)) {
          if (stop_) break;
          auto& pod = p.as_object();
          if (!isPodActive(pod) || isPodReady(pod) || (filter_ && !filter_(pod))) continue;
          markPodRunning(c_, ns_, nameOf(pod));
          if (interval_.count()) std::this_thread::sleep_for(interval_);
        }
      } catch (const std::exception&) {
        // A pod deleted under us: try again next round.
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  client::RestClient& c_;
  std::string ns_;
  std::function<bool(const boost::json::object&)> filter_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Active pods (not terminating, not finished) of a namespace, optionally by label selector.
inline std::vector<boost::json::object> activePods(client::RestClient& c, const std::string& ns,
                                                   const std::string& selector = "") {
  std::vector<boost::json::object> out;
  for (auto& p : listItems(c, client::resources::pods, ns, selector))
    if (isPodActive(p.as_object())) out.push_back(p.as_object());
  return out;
}

inline bool hasEvent(client::RestClient& c, const std::string& ns, const std::string& reason,
                     const std::string& messagePrefix = "") {
  for (auto& e : listItems(c, client::resources::events, ns)) {
    auto& ev = e.as_object();
    if (stringAt(ev, {"reason"}) == reason &&
        stringAt(ev, {"message"}).rfind(messagePrefix, 0) == 0)
      return true;
  }
  return false;
}

}  // namespace skiff::controller::testing
