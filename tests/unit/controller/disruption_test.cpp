#include "unit/controller/endpoints_test_util.h"

namespace skiff::controller::testing {
namespace {

const client::Resource kPdbs{"policy", "v1", "poddisruptionbudgets"};

json::object makePdb(client::RestClient& c, const std::string& ns, const std::string& name,
                     const char* field, json::value value, json::object matchLabels) {
  json::object spec{{"selector", json::object{{"matchLabels", std::move(matchLabels)}}}};
  spec[field] = std::move(value);
  return c.create(kPdbs, ns,
                  json::object{{"apiVersion", "policy/v1"},
                               {"kind", "PodDisruptionBudget"},
                               {"metadata", json::object{{"name", name}}},
                               {"spec", spec}});
}

// A ReplicaSet with `replicas` that owns nothing yet (no ReplicaSet controller runs here).
json::object makeReplicaSet(client::RestClient& c, const std::string& ns, const std::string& name,
                            int replicas) {
  json::object labels{{"app", name}};
  json::object container{{"name", "c"}, {"image", "x"}};
  json::object podTemplate{{"metadata", json::object{{"labels", labels}}},
                           {"spec", json::object{{"containers", json::array{container}}}}};
  json::object spec{{"replicas", replicas},
                    {"selector", json::object{{"matchLabels", labels}}},
                    {"template", podTemplate}};
  return c.create(client::resources::replicaSets, ns,
                  json::object{{"apiVersion", "apps/v1"},
                               {"kind", "ReplicaSet"},
                               {"metadata", json::object{{"name", name}}},
                               {"spec", spec}});
}

struct Status {
  int64_t expected = -1, current = -1, desired = -1, allowed = -1, observed = -1;
  std::string condStatus, reason;
  bool operator==(const Status&) const = default;
};

Status statusOf(const json::object& pdb) {
  Status s;
  s.expected = intAt(pdb, {"status", "expectedPods"}, -1);
  s.current = intAt(pdb, {"status", "currentHealthy"}, -1);
  s.desired = intAt(pdb, {"status", "desiredHealthy"}, -1);
  s.allowed = intAt(pdb, {"status", "disruptionsAllowed"}, -1);
  s.observed = intAt(pdb, {"status", "observedGeneration"}, -1);
  if (auto* c = findCondition(pdb, "DisruptionAllowed")) {
    s.condStatus = stringAt(*c, {"status"});
    s.reason = stringAt(*c, {"reason"});
  }
  return s;
}

std::ostream& operator<<(std::ostream& os, const Status& s) {
  return os << "expected=" << s.expected << " current=" << s.current << " desired=" << s.desired
            << " allowed=" << s.allowed << " observed=" << s.observed << " " << s.condStatus << "/"
            << s.reason;
}

// Waits until the budget's status equals `want`.
::testing::AssertionResult statusBecomes(client::RestClient& c, const std::string& ns,
                                         const std::string& name, const Status& want) {
  Status got;
  bool ok = waitFor(
      [&] {
        got = statusOf(c.get(kPdbs, ns, name));
        return got == want;
      },
      std::chrono::seconds(25));
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want;
}

json::array ownedBy(const json::object& rs) {
  return json::array{makeControllerRef(rs, "apps/v1", "ReplicaSet")};
}

TEST(DisruptionController, IntegerMinAvailableCountsPods) {
  ControllerEnv env({"disruption"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "pdb");
  for (int i = 0; i < 3; ++i) {
    makePod(c, ns, "p" + std::to_string(i), {{"app", "a"}});
    setPodStatus(c, ns, "p" + std::to_string(i), "10.5.0." + std::to_string(i + 1), i < 2);
  }
  makePdb(c, ns, "two", "minAvailable", 2, {{"app", "a"}});
  EXPECT_TRUE(statusBecomes(c, ns, "two", {3, 2, 2, 0, 1, "False", "InsufficientPods"}));
  setPodStatus(c, ns, "p2", "10.5.0.3", true);
  EXPECT_TRUE(statusBecomes(c, ns, "two", {3, 3, 2, 1, 1, "True", "SufficientPods"}));

  // A spec change is observed (observedGeneration follows metadata.generation).
  c.patch(kPdbs, ns, "two", client::PatchType::Merge,
          json::object{{"spec", json::object{{"minAvailable", 1}}}});
  EXPECT_TRUE(statusBecomes(c, ns, "two", {3, 3, 1, 2, 2, "True", "SufficientPods"}));
}

TEST(DisruptionController, PercentagesUseControllerScale) {
  ControllerEnv env({"disruption"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "pdb");
  auto rs = makeReplicaSet(c, ns, "web", 4);
  for (int i = 0; i < 3; ++i) {
    makePod(c, ns, "web-" + std::to_string(i), {{"app", "web"}}, {}, "", ownedBy(rs));
    setPodStatus(c, ns, "web-" + std::to_string(i), "10.6.0." + std::to_string(i + 1), true);
  }
  // maxUnavailable 30% of 4 rounds up to 2: desired 2, three healthy → one disruption.
  makePdb(c, ns, "max", "maxUnavailable", "30%", {{"app", "web"}});
  EXPECT_TRUE(statusBecomes(c, ns, "max", {4, 3, 2, 1, 1, "True", "SufficientPods"}));
  // minAvailable 75% of 4 = 3: no disruption left.
  makePdb(c, ns, "min", "minAvailable", "75%", {{"app", "web"}});
  EXPECT_TRUE(statusBecomes(c, ns, "min", {4, 3, 3, 0, 1, "False", "InsufficientPods"}));
  // Scaling the ReplicaSet changes expectedPods.
  c.patch(client::resources::replicaSets, ns, "web", client::PatchType::Merge,
          json::object{{"spec", json::object{{"replicas", 2}}}});
  EXPECT_TRUE(statusBecomes(c, ns, "min", {2, 3, 2, 1, 1, "True", "SufficientPods"}));
  // maxUnavailable as an integer also works from the scale: 2 - 0 = 2 desired.
  makePdb(c, ns, "zero", "maxUnavailable", 0, {{"app", "web"}});
  EXPECT_TRUE(statusBecomes(c, ns, "zero", {2, 3, 2, 1, 1, "True", "SufficientPods"}));
}

TEST(DisruptionController, FailsSafeWithoutController) {
  ControllerEnv env({"disruption"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "pdb");
  json::array foreign{json::object{{"apiVersion", "example.com/v1"},
                                   {"kind", "Widget"},
                                   {"name", "w"},
                                   {"uid", "00000000-0000-0000-0000-000000000001"},
                                   {"controller", true}}};
  makePod(c, ns, "w-0", {{"app", "w"}}, {}, "", foreign);
  setPodStatus(c, ns, "w-0", "10.7.0.1", true);
  makePdb(c, ns, "w", "maxUnavailable", "50%", {{"app", "w"}});
  json::object pdb;
  ASSERT_TRUE(waitFor([&] {
    pdb = c.get(kPdbs, ns, "w");
    auto* cond = findCondition(pdb, "DisruptionAllowed");
    return cond && stringAt(*cond, {"reason"}) == "SyncFailed";
  })) << json::serialize(pdb);
  EXPECT_EQ(intAt(pdb, {"status", "disruptionsAllowed"}, -1), 0);
  EXPECT_NE(stringAt(*findCondition(pdb, "DisruptionAllowed"), {"message"})
                .find("found no controllers for pod \"w-0\""),
            std::string::npos);
}

// The eviction subresource and the controller together: an eviction spends the budget and
// records the pod in disruptedPods; the next one is refused with 429.
TEST(DisruptionController, EvictionSpendsTheBudget) {
  ControllerEnv env({"disruption"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "pdb");
  makeNode(c, "pdb-node");
  for (int i = 0; i < 3; ++i) {
    makePod(c, ns, "e" + std::to_string(i), {{"app", "e"}}, {}, "pdb-node");
    setPodStatus(c, ns, "e" + std::to_string(i), "10.8.0." + std::to_string(i + 1), true);
  }
  makePdb(c, ns, "e", "minAvailable", 2, {{"app", "e"}});
  ASSERT_TRUE(statusBecomes(c, ns, "e", {3, 3, 2, 1, 1, "True", "SufficientPods"}))
      << json::serialize(listItems(c, client::resources::pods, ns));
  auto evict = [&](const std::string& pod) {
    json::object eviction{{"apiVersion", "policy/v1"},
                          {"kind", "Eviction"},
                          {"metadata", json::object{{"name", pod}, {"namespace", ns}}}};
    return c.request("POST", client::resources::pods.path(ns, pod, "eviction"),
                     json::serialize(eviction));
  };
  evict("e0");
  // (The disruptedPods entry the eviction writes is covered by the apiserver tests: here the
  // controller may already have dropped it, since e0 is terminating.)
  auto pod = c.get(client::resources::pods, ns, "e0");
  EXPECT_TRUE(isBeingDeleted(pod));
  EXPECT_TRUE(conditionTrue(pod, "DisruptionTarget"));
  // The controller agrees: e0 is terminating, two healthy left, nothing more allowed; the
  // terminating pod no longer needs its disruptedPods entry.
  EXPECT_TRUE(statusBecomes(c, ns, "e", {3, 2, 2, 0, 1, "False", "InsufficientPods"}));
  EXPECT_TRUE(waitFor(
      [&] {
        return !objectAt(c.get(kPdbs, ns, "e"), {"status", "disruptedPods"});
      },
      std::chrono::seconds(25)))
      << json::serialize(c.get(kPdbs, ns, "e"))
      << json::serialize(c.get(client::resources::pods, ns, "e0"));
  try {
    evict("e1");
    FAIL() << "the second eviction must be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 429);
    EXPECT_STREQ(e.what(), "Cannot evict pod as it would violate the pod's disruption budget.");
  }
  EXPECT_FALSE(isBeingDeleted(c.get(client::resources::pods, ns, "e1")));
}

}  // namespace
}  // namespace skiff::controller::testing
