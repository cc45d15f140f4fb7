// The resource quota controller: status.hard from spec.hard, status.used recomputed from the
// informers (scopes, terminal pods, other namespaces left out), count/ kinds listed through
// the API, deletions and the periodic resync giving quota back.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "unit/controller/fake_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;
const client::Resource kQuotas{"", "v1", "resourcequotas"};

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

json::object pod(const std::string& ns, const std::string& name, const std::string& cpu,
                 const std::string& phase = "Running") {
  return parse(R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
               R"("},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":")" + cpu +
               R"("}}}]},"status":{"phase":")" + phase + R"("}})");
}

std::string used(ControllerTestEnv& env, const std::string& name, const std::string& resource) {
  auto q = env.api->object("resourcequotas", "d", name);
  if (!q) return "<no quota>";
  const json::value* v = api::valueAt(*q, {"status", "used", resource});
  return v && v->is_string() ? std::string(v->as_string()) : "<unset>";
}

TEST(ResourceQuotaController, RecomputesUsedFromTheCaches) {
  ControllerTestEnv env("resourcequota");
  env.add(client::resources::pods, pod("d", "a", "100m"));
  env.add(client::resources::pods, pod("d", "b", "250m"));
  env.add(client::resources::pods, pod("d", "done", "1", "Succeeded"));
  env.add(client::resources::pods, pod("other", "x", "1"));
  env.add(client::resources::services,
          parse(R"({"metadata":{"name":"s","namespace":"d"},"spec":{"type":"NodePort",
                    "ports":[{"port":80},{"port":81}]}})"));
  env.add(client::resources::deployments,
          parse(R"({"metadata":{"name":"dep","namespace":"d"},"spec":{}})"));
  env.add(kQuotas, parse(R"({"metadata":{"name":"q","namespace":"d"},"spec":{"hard":{
    "pods":"10","requests.cpu":"2","count/pods":"10","services.nodeports":"5",
    "count/deployments.apps":"3","configmaps":"4"}}})"));
  env.sync();
  auto q = env.api->object("resourcequotas", "d", "q");
  ASSERT_TRUE(q);
  EXPECT_EQ(json::serialize(q->at("status").at("hard")), json::serialize(q->at("spec").at("hard")));
  EXPECT_EQ(used(env, "q", "pods"), "2");        // the Succeeded pod is not counted
  EXPECT_EQ(used(env, "q", "count/pods"), "3");  // but every stored pod is an object
  EXPECT_EQ(used(env, "q", "requests.cpu"), "350m");
  EXPECT_EQ(used(env, "q", "services.nodeports"), "2");
  EXPECT_EQ(used(env, "q", "count/deployments.apps"), "1");  // listed through the API
  EXPECT_EQ(used(env, "q", "configmaps"), "0");
  EXPECT_EQ(env.api->writeSummaries(), (std::vector<std::string>{"update resourcequotas/status"}));

  // The informer gets the written quota (a status change: nothing to recompute).
  env.update(kQuotas, *q);
  env.api->clearActions();
  EXPECT_EQ(env.sync(), 0);
  // A deletion gives quota back; a create is left to admission.
  env.remove(client::resources::pods, pod("d", "a", "100m"));
  env.sync();
  EXPECT_EQ(used(env, "q", "pods"), "1");
  EXPECT_EQ(used(env, "q", "requests.cpu"), "250m");
  env.update(kQuotas, *env.api->object("resourcequotas", "d", "q"));
  env.add(client::resources::pods, pod("d", "c", "1"));
  EXPECT_EQ(env.sync(), 0);
  // A pod that terminates gives back its compute usage.
  env.update(client::resources::pods, pod("d", "b", "250m", "Failed"));
  env.sync();
  EXPECT_EQ(used(env, "q", "requests.cpu"), "1");  // only c now
  // The resync recomputes everything (the deleted deployment's count included).
  env.update(kQuotas, *env.api->object("resourcequotas", "d", "q"));
  env.api->erase("deployments", "d", "dep");
  env.runPeriodic();
  env.sync();
  EXPECT_EQ(used(env, "q", "count/deployments.apps"), "0");
}

TEST(ResourceQuotaController, ScopedQuotasCountOnlyMatchingPods) {
  ControllerTestEnv env("resourcequota");
  env.add(client::resources::pods, pod("d", "burst", "100m"));
  env.add(
      client::resources::pods,
      parse(R"({"metadata":{"name":"be","namespace":"d"},"spec":{"containers":[{"name":"c"}]}})"));
  env.add(kQuotas, parse(R"({"metadata":{"name":"be","namespace":"d"},
    "spec":{"hard":{"pods":"3"},"scopes":["BestEffort"]}})"));
  env.add(kQuotas, parse(R"({"metadata":{"name":"nbe","namespace":"d"},
    "spec":{"hard":{"pods":"3","requests.cpu":"1"},"scopes":["NotBestEffort"]}})"));
  env.sync();
  EXPECT_EQ(used(env, "be", "pods"), "1");
  EXPECT_EQ(used(env, "nbe", "pods"), "1");
  EXPECT_EQ(used(env, "nbe", "requests.cpu"), "100m");
}

}  // namespace
}  // namespace skiff::controller::testing
