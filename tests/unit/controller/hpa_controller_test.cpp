// The horizontalpodautoscaling controller over the fake API, a fake scale subresource and a
// fake metrics API: rescale, status and conditions, events, stabilization over fake time,
// the sync period, and bad input (no target, no selector, no metrics, unsupported metrics).
#include "controller/hpa_controller.h"

#include <gtest/gtest.h>

#include "common/api_error.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/hpa_test_util.h"

namespace skiff::controller::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using hpa::PodSpec;

const client::Resource kHpas{"autoscaling", "v2", "horizontalpodautoscalers"};

struct FakeScales : controller::hpa::ScaleClient {
  std::map<std::string, json::object> scales;  // "resource/ns/name"
  std::vector<std::string> updates;            // "deployments/default/web=4"
  bool failUpdates = false;
  json::object get(const client::Resource& r, const std::string& ns,
                   const std::string& name) override {
    auto it = scales.find(r.resource + "/" + ns + "/" + name);
    if (it == scales.end())
      throw ApiError(404, "NotFound", r.qualified() + " \"" + name + "\" not found");
    return it->second;
  }
  json::object update(const client::Resource& r, const std::string& ns,
                      const json::object& scale) override {
    if (failUpdates) throw ApiError(409, "Conflict", "the object has been modified");
    const std::string name = api::stringAt(scale, {"metadata", "name"});
    const int64_t replicas = api::intAt(scale, {"spec", "replicas"});
    updates.push_back(r.resource + "/" + ns + "/" + name + "=" + std::to_string(replicas));
    scales[r.resource + "/" + ns + "/" + name] = scale;
    return scale;
  }
  void set(const std::string& name, int64_t replicas, const std::string& selector = "app=web") {
    json::object status{{"replicas", replicas}};
    if (!selector.empty()) status["selector"] = selector;
    scales["deployments/default/" + name] =
        json::object{{"kind", "Scale"},
                     {"apiVersion", "autoscaling/v1"},
                     {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                     {"spec", json::object{{"replicas", replicas}}},
                     {"status", status}};
  }
};

struct FakeMetrics : controller::hpa::MetricsClient {
  json::object list;
  std::string error;  // thrown when set
  std::vector<std::string> asked;
  json::object podMetrics(const std::string& ns, const std::string& selector) override {
    asked.push_back(ns + "?" + selector);
    if (!error.empty()) throw ApiError(404, "NotFound", error);
    return list;
  }
};

json::object makeHpa(const std::string& metricsJson = "", int max = 10) {
  auto h = json::parse(R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
    "metadata":{"name":"web","namespace":"default","generation":1},
    "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},
      "minReplicas":1,"maxReplicas":10,
      "metrics":[{"type":"Resource","resource":{"name":"cpu",
        "target":{"type":"Utilization","averageUtilization":50}}}]}})")
               .as_object();
  if (!metricsJson.empty()) h["spec"].as_object()["metrics"] = json::parse(metricsJson);
  h["spec"].as_object()["maxReplicas"] = max;
  return h;
}

struct HpaEnv {
  std::shared_ptr<FakeScales> scales = std::make_shared<FakeScales>();
  std::shared_ptr<FakeMetrics> metrics = std::make_shared<FakeMetrics>();
  ControllerTestEnv env{"horizontalpodautoscaling", [this](ControllerOptions& o) {
                          o.hpaClients = std::make_shared<controller::hpa::Clients>(
                              controller::hpa::Clients{scales, metrics});
                        }};
  HpaEnv() {
    env.reflectWrites();
    // HPAs are not among the fake environment's known resources: bring their writes back too.
    auto known = env.api->observer;
    env.api->observer = [this, known](const std::string& group, const std::string& resource,
                                      const std::string& type, const json::object& obj) {
      if (resource == "horizontalpodautoscalers")
        env.deliver(kHpas, type, obj);
      else
        known(group, resource, type, obj);
    };
  }

  // Pods a..: 1 cpu requested, ready for 10 minutes, using `usage` each.
  void pods(const std::vector<std::string>& usage) {
    std::vector<std::pair<std::string, std::string>> m;
    for (size_t i = 0; i < usage.size(); ++i) {
      std::string name(1, static_cast<char>('a' + i));
      PodSpec p{.name = name};
      p.start = env.clock.now() - 10min;
      p.transition = env.clock.now() - 9min;
      env.add(client::resources::pods, hpa::pod(p));
      m.emplace_back(name, usage[i]);
    }
    metrics->list = hpa::podMetrics(m, env.clock.now());
  }
  void usage(const std::vector<std::string>& usage) {
    std::vector<std::pair<std::string, std::string>> m;
    for (size_t i = 0; i < usage.size(); ++i)
      m.emplace_back(std::string(1, static_cast<char>('a' + i)), usage[i]);
    metrics->list = hpa::podMetrics(m, env.clock.now());
  }
  json::object stored() { return *env.api->object("horizontalpodautoscalers", "default", "web"); }
  std::string condition(const std::string& type) {
    auto h = stored();
    const json::object* c = findCondition(h, type);
    if (!c) return "<none>";
    return api::stringAt(*c, {"status"}) + " " + api::stringAt(*c, {"reason"}) + ": " +
           api::stringAt(*c, {"message"});
  }
};

TEST(HpaController, ScalesUpAndReportsStatusAndEvent) {
  HpaEnv t;
  t.scales->set("web", 1);
  t.pods({"800m"});  // 80 % of the request against a 50 % target
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=2"}));
  EXPECT_EQ(t.metrics->asked, (std::vector<std::string>{"default?app=web"}));
  EXPECT_TRUE(t.env.hasEvent(
      "SuccessfulRescale",
      "New size: 2; reason: cpu resource utilization (percentage of request) above target"));
  auto h = t.stored();
  EXPECT_EQ(api::intAt(h, {"status", "currentReplicas"}), 1);
  EXPECT_EQ(api::intAt(h, {"status", "desiredReplicas"}), 2);
  EXPECT_EQ(api::intAt(h, {"status", "observedGeneration"}), 1);
  EXPECT_FALSE(api::stringAt(h, {"status", "lastScaleTime"}).empty());
  const json::array* cm = api::arrayAt(h, {"status", "currentMetrics"});
  ASSERT_TRUE(cm && cm->size() == 1);
  EXPECT_EQ(
      json::serialize((*cm)[0]),
      R"({"type":"Resource","resource":{"name":"cpu","current":{"averageValue":"800m","averageUtilization":80}}})");
  EXPECT_EQ(t.condition("AbleToScale"),
            "True SucceededRescale: the HPA controller was able to update the target scale to 2");
  EXPECT_EQ(t.condition("ScalingActive"),
            "True ValidMetricFound: the HPA was able to successfully calculate a replica count "
            "from cpu resource utilization (percentage of request)");
  EXPECT_EQ(t.condition("ScalingLimited"),
            "False DesiredWithinRange: the desired count is within the acceptable range");
}

TEST(HpaController, ResyncsEveryPeriodAndStabilizesScaleDown) {
  HpaEnv t;
  t.scales->set("web", 4);
  t.pods({"500m", "500m", "500m", "500m"});  // at target
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_TRUE(t.scales->updates.empty());
  EXPECT_EQ(t.condition("AbleToScale"),
            "True ReadyForNewScale: recommended size matches current size");
  // Load drops: the 5-minute downscale window keeps 4 until the old recommendation ages out.
  t.usage({"50m", "50m", "50m", "50m"});
  EXPECT_EQ(t.env.sync(), 0);  // nothing queued before the period
  t.env.step(15s);
  EXPECT_EQ(t.env.sync(), 1);
  EXPECT_TRUE(t.scales->updates.empty());
  EXPECT_EQ(t.condition("AbleToScale"),
            "True ScaleDownStabilized: recent recommendations were higher than current one, "
            "applying the highest recent recommendation");
  EXPECT_EQ(api::intAt(t.stored(), {"status", "desiredReplicas"}), 4);
  for (int i = 0; i < 20; ++i) {
    t.env.step(15s);
    t.env.sync();
  }
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=1"}));
  EXPECT_TRUE(t.env.hasEvent("SuccessfulRescale", "New size: 1; reason: All metrics below target"));
}

TEST(HpaController, MinAndMaxReplicasAndScalingDisabled) {
  HpaEnv t;
  t.scales->set("web", 12);
  t.pods({"500m"});
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=10"}));
  EXPECT_TRUE(t.env.hasEvent("SuccessfulRescale",
                             "New size: 10; reason: Current number of replicas above "
                             "Spec.MaxReplicas"));
  HpaEnv z;
  z.scales->set("web", 0);
  z.pods({"500m"});
  z.env.add(kHpas, makeHpa());
  z.env.sync();
  EXPECT_TRUE(z.scales->updates.empty());
  EXPECT_EQ(z.condition("ScalingActive"),
            "False ScalingDisabled: scaling is disabled since the replica count of the target "
            "is zero");
}

TEST(HpaController, MissingTargetIsFailedGetScale) {
  HpaEnv t;
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_TRUE(t.env.hasEvent("FailedGetScale", "deployments.apps \"web\" not found"));
  EXPECT_EQ(t.condition("AbleToScale"),
            "False FailedGetScale: the HPA controller was unable to get the target's current "
            "scale: deployments.apps \"web\" not found");
  // Still looked at every period: once the target exists it scales.
  t.scales->set("web", 1);
  t.pods({"1"});
  t.env.step(15s);
  t.env.sync();
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=2"}));
  // An unknown kind.
  HpaEnv u;
  auto h = makeHpa();
  h["spec"].as_object()["scaleTargetRef"].as_object()["kind"] = "Widget";
  u.env.add(kHpas, h);
  u.env.sync();
  EXPECT_TRUE(u.env.hasEvent("FailedGetScale", "no matches for kind \"Widget\" in group \"apps\""));
}

TEST(HpaController, MetricsUnavailable) {
  HpaEnv t;
  t.scales->set("web", 2);
  t.pods({"1", "1"});
  t.metrics->error = "the server could not find the requested resource";
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_TRUE(t.scales->updates.empty());
  const std::string err =
      "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch "
      "metrics from resource metrics API: the server could not find the requested resource";
  EXPECT_TRUE(t.env.hasEvent("FailedGetResourceMetric", err));
  EXPECT_TRUE(t.env.hasEvent("FailedComputeMetricsReplicas",
                             "invalid metrics (1 invalid out of 1), first error is: " + err));
  EXPECT_EQ(
      t.condition("ScalingActive"),
      "False FailedGetResourceMetric: the HPA was unable to compute the replica count: " + err);
  EXPECT_EQ(api::intAt(t.stored(), {"status", "currentReplicas"}), 2);
  // Pods without requests.
  HpaEnv r;
  r.scales->set("web", 1);
  PodSpec p{.name = "a", .cpuRequest = ""};
  p.start = r.env.clock.now() - 10min;
  r.env.add(client::resources::pods, hpa::pod(p));
  r.metrics->list = hpa::podMetrics({{"a", "10m"}}, r.env.clock.now());
  r.env.add(kHpas, makeHpa());
  r.env.sync();
  EXPECT_TRUE(r.env.hasEvent("FailedGetResourceMetric",
                             "failed to get cpu utilization: missing request for cpu in "
                             "container c of Pod a"));
}

TEST(HpaController, SelectorAndUnsupportedMetrics) {
  HpaEnv t;
  t.scales->set("web", 1, "");
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_TRUE(t.env.hasEvent("SelectorRequired", "selector is required"));
  EXPECT_EQ(t.condition("ScalingActive"),
            "False InvalidSelector: the HPA target's scale is missing a selector");

  HpaEnv p;
  p.scales->set("web", 1);
  p.pods({"1"});
  p.env.add(kHpas, makeHpa(R"([{"type":"Pods","pods":{"metric":{"name":"qps"},
      "target":{"type":"AverageValue","averageValue":"10"}}}])"));
  p.env.sync();
  EXPECT_TRUE(p.env.hasEvent("FailedGetPodsMetric",
                             "failed to get pods metric value: unable to get metric qps"));
  EXPECT_EQ(p.condition("ScalingActive").rfind("False FailedGetPodsMetric: ", 0), 0u);
  EXPECT_TRUE(p.scales->updates.empty());

  // With a working metric beside it, the HPA still scales up on the working one.
  HpaEnv both;
  both.scales->set("web", 1);
  both.pods({"1"});
  both.env.add(kHpas, makeHpa(R"([
      {"type":"External","external":{"metric":{"name":"queue"},
        "target":{"type":"Value","value":"10"}}},
      {"type":"Resource","resource":{"name":"cpu",
        "target":{"type":"AverageValue","averageValue":"250m"}}}])"));
  both.env.sync();
  EXPECT_EQ(both.scales->updates, (std::vector<std::string>{"deployments/default/web=4"}));
  EXPECT_TRUE(both.env.hasEvent("SuccessfulRescale", "reason: cpu resource above target"));
  EXPECT_EQ(both.condition("ScalingActive").rfind("True ValidMetricFound", 0), 0u);
}

TEST(HpaController, BehaviorPoliciesLimitTheRate) {
  HpaEnv t;
  t.scales->set("web", 2);
  t.pods({"1", "1"});  // 100 % of 50 %: 4 wanted
  auto h = makeHpa();
  h["spec"].as_object()["behavior"] =
      json::parse(R"({"scaleUp":{"policies":[{"type":"Pods","value":1,"periodSeconds":60}]}})");
  t.env.add(kHpas, h);
  t.env.sync();
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=3"}));
  EXPECT_EQ(t.condition("ScalingLimited"),
            "True ScaleUpLimit: the desired replica count is increasing faster than the maximum "
            "scale rate");
  t.scales->failUpdates = true;
  t.env.step(61s);
  t.env.sync();
  EXPECT_TRUE(t.env.hasEvent("FailedRescale", "New size: 4; reason: cpu resource utilization"));
  EXPECT_EQ(t.condition("AbleToScale")
                .rfind("False FailedUpdateScale: the HPA controller was "
                       "unable to update the target scale: ",
                       0),
            0u);
}

TEST(HpaController, SpecChangesAreSyncedAtOnceStatusWritesAreNot) {
  HpaEnv t;
  t.scales->set("web", 3);
  t.pods({"500m", "500m", "500m"});
  t.env.add(kHpas, makeHpa());
  t.env.sync();
  EXPECT_EQ(t.env.sync(), 0);  // our status write came back: nothing queued
  auto h = t.stored();
  h["spec"].as_object()["maxReplicas"] = 2;
  t.env.update(kHpas, h);
  EXPECT_EQ(t.env.sync(), 1);
  EXPECT_EQ(t.scales->updates, (std::vector<std::string>{"deployments/default/web=2"}));
}

TEST(HpaController, DeletedHpaIsForgotten) {
  HpaEnv t;
  t.scales->set("web", 1);
  t.pods({"500m"});
  auto h = t.env.add(kHpas, makeHpa());
  t.env.sync();
  t.env.remove(kHpas, h);
  t.env.step(15s);
  t.env.sync();
  EXPECT_EQ(t.metrics->asked.size(), 1u);  // not asked again
}

}  // namespace
}  // namespace skiff::controller::testing
