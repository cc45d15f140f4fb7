// pods/eviction against PodDisruptionBudgets, driven directly on a ResourceStore (memory
// Store): budget statuses are written by hand, as the disruption controller would.
#include "apiserver/eviction.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class EvictionTest : public testing::ResourceStoreFixture {
 protected:
  // A pod labelled app=web in `phase`, Ready as given, bound to a node.
  void pod(const std::string& name, const std::string& phase, bool ready) {
    RequestContext ctx;
    resources.create(
        info("pods"), "default",
        json::parse(
            R"({"metadata":{"name":")" + name +
            R"(","labels":{"app":"web"}},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}})"),
        ctx);
    json::object p = resources.get(info("pods"), "default", name);
    p["status"] = json::object{
        {"phase", phase},
        {"conditions",
         json::array{json::object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
    resources.update(info("pods"), "default", name, "status", p, ctx);
  }
  // A budget over app=web with the given status (observedGeneration current unless told).
  void pdb(const std::string& name, int64_t allowed, int64_t current, int64_t desired,
           int64_t observed = 1, const std::string& policy = "") {
    RequestContext ctx;
    json::object spec{{"minAvailable", desired},
                      {"selector", json::object{{"matchLabels", json::object{{"app", "web"}}}}}};
    if (!policy.empty()) spec["unhealthyPodEvictionPolicy"] = policy;
    resources.create(pdbInfo(), "default",
                     json::object{{"apiVersion", "policy/v1"},
                                  {"kind", "PodDisruptionBudget"},
                                  {"metadata", json::object{{"name", name}}},
                                  {"spec", spec}},
                     ctx);
    json::object p = resources.get(pdbInfo(), "default", name);
    p["status"] = json::object{{"disruptionsAllowed", allowed},
                               {"currentHealthy", current},
                               {"desiredHealthy", desired},
                               {"expectedPods", current},
                               {"observedGeneration", observed}};
    resources.update(pdbInfo(), "default", name, "status", p, ctx);
  }
  const api::ResourceInfo& pdbInfo() { return info("poddisruptionbudgets", "policy"); }
  EvictionOutcome evict(const std::string& name, const std::string& extra = "") {
    RequestContext ctx;
    return evictPod(
        resources, "default", name,
        json::parse(R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":")" + name +
                    "\"}" + extra + "}"),
        ctx);
  }
  // The pod as stored: terminating (deletionTimestamp) counts as evicted here.
  bool evicted(const std::string& name) {
    try {
      return resources.get(info("pods"), "default", name)
          .at("metadata")
          .as_object()
          .contains("deletionTimestamp");
    } catch (const ApiError& e) {
      return e.code() == 404;
    }
  }
  json::object pdbStatus(const std::string& name) {
    return resources.get(pdbInfo(), "default", name).at("status").as_object();
  }
};

TEST_F(EvictionTest, WithoutBudgetThePodIsDeleted) {
  pod("a", "Running", true);
  EXPECT_EQ(evict("a").code, 201);
  EXPECT_TRUE(evicted("a"));
  auto p = resources.get(info("pods"), "default", "a");
  bool marked = false;
  for (const auto& c : p.at("status").at("conditions").as_array())
    if (c.at("type") == "DisruptionTarget")
      marked = c.at("status") == "True" && c.at("reason") == "EvictionByEvictionAPI";
  EXPECT_TRUE(marked) << json::serialize(p);
}

TEST_F(EvictionTest, ExhaustedBudgetRefusesWith429AndCause) {
  pod("a", "Running", true);
  pdb("budget", 0, 2, 2);
  try {
    evict("a");
    FAIL() << "expected 429";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 429);
    EXPECT_EQ(e.reason(), "TooManyRequests");
    EXPECT_STREQ(e.what(), "Cannot evict pod as it would violate the pod's disruption budget.");
    ASSERT_EQ(e.causes.size(), 1u);
    EXPECT_EQ(e.causes[0].type, "DisruptionBudget");
    EXPECT_EQ(e.causes[0].message,
              "The disruption budget budget needs 2 healthy pods and has 2 currently");
  }
  EXPECT_FALSE(evicted("a"));
}

TEST_F(EvictionTest, AllowedEvictionDecrementsAndRecords) {
  pod("a", "Running", true);
  pod("b", "Running", true);
  pdb("budget", 1, 2, 1);
  EXPECT_EQ(evict("a").code, 201);
  EXPECT_TRUE(evicted("a"));
  auto st = pdbStatus("budget");
  EXPECT_EQ(st.at("disruptionsAllowed").as_int64(), 0);
  EXPECT_TRUE(st.at("disruptedPods").as_object().contains("a"));
  EXPECT_EQ(st.at("conditions").as_array()[0].at("reason"), "InsufficientPods");
  // The budget is now spent.
  EXPECT_THROW(evict("b"), ApiError);
  EXPECT_FALSE(evicted("b"));
}

TEST_F(EvictionTest, DryRunChangesNothing) {
  pod("a", "Running", true);
  pdb("budget", 1, 2, 1);
  EXPECT_EQ(evict("a", R"(,"deleteOptions":{"dryRun":["All"]})").code, 201);
  EXPECT_FALSE(evicted("a"));
  EXPECT_EQ(pdbStatus("budget").at("disruptionsAllowed").as_int64(), 1);
  EXPECT_FALSE(pdbStatus("budget").contains("disruptedPods"));
}

TEST_F(EvictionTest, PendingAndTerminalPodsIgnoreTheBudget) {
  pod("pending", "Pending", false);
  pod("done", "Succeeded", false);
  pdb("budget", 0, 0, 2);
  EXPECT_EQ(evict("pending").code, 201);
  EXPECT_EQ(evict("done").code, 201);
  EXPECT_TRUE(evicted("pending"));
  EXPECT_TRUE(evicted("done"));
}

TEST_F(EvictionTest, UnhealthyPodsFollowThePolicy) {
  pod("sick", "Running", false);
  // IfHealthyBudget (default): the budget is met (2 >= 2), so the unready pod may go
  // without spending a disruption.
  pdb("budget", 0, 2, 2);
  EXPECT_EQ(evict("sick").code, 201);
  EXPECT_TRUE(evicted("sick"));
  EXPECT_EQ(pdbStatus("budget").at("disruptionsAllowed").as_int64(), 0);
}

TEST_F(EvictionTest, UnhealthyPodBlockedWhenBudgetNotMetUnlessAlwaysAllow) {
  pod("sick", "Running", false);
  pdb("budget", 0, 1, 2);
  EXPECT_THROW(evict("sick"), ApiError);
  EXPECT_FALSE(evicted("sick"));
  RequestContext ctx;
  bool created = false;
  resources.patch(pdbInfo(), "default", "budget", "", "application/merge-patch+json",
                  R"({"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}})", ctx, created);
  // AlwaysAllow: an unready pod goes regardless of the budget (even one not yet observed).
  EXPECT_EQ(evict("sick").code, 201);
  EXPECT_TRUE(evicted("sick"));
}

TEST_F(EvictionTest, StaleBudgetAndSeveralBudgets) {
  pod("a", "Running", true);
  pdb("stale", 5, 5, 1, /*observed=*/0);
  try {
    evict("a");
    FAIL() << "expected 429";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 429);
    ASSERT_EQ(e.causes.size(), 1u);
    EXPECT_EQ(e.causes[0].message,
              "The disruption budget stale is still being processed by the server.");
  }
  pdb("second", 5, 5, 1);
  auto out = evict("a");
  EXPECT_EQ(out.code, 500);
  EXPECT_EQ(out.status.at("message"),
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
            "not support.");
  EXPECT_FALSE(evicted("a"));
}

TEST_F(EvictionTest, NameMismatchAndMissingPod) {
  pod("a", "Running", true);
  RequestContext ctx;
  try {
    evictPod(resources, "default", "a", json::parse(R"({"metadata":{"name":"b"}})"), ctx);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
  }
  try {
    evict("ghost");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 404);
  }
}

}  // namespace
}  // namespace skiff::apiserver
