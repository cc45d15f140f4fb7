// ResourceQuota admission: the pure charge (messages, scopes, constraints, updates) and the
// charge through a ResourceStore, where status.used moves with each admitted create and
// concurrent creates never exceed hard.
#include "apiserver/resource_quota_admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;
using api::quota::GroupResource;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

json::object quota(std::string_view name, std::string_view hard, std::string_view used,
                   std::string_view spec = "{}") {
  return parse(std::string(R"({"metadata":{"name":")") + std::string(name) +
               R"(","namespace":"d"},"spec":)" + std::string(spec) + R"(,"status":{"hard":)" +
               std::string(hard) + R"(,"used":)" + std::string(used) + "}}");
}

const GroupResource kPods{"", "pods"};

std::string refusal(std::vector<json::object>& quotas, const GroupResource& gr,
                    const json::object& obj, const json::object* old = nullptr) {
  try {
    quotaadmission::charge(quotas, gr, gr.resource, "x", obj, old);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 403);
    return e.what();
  }
  return "";
}

const char* kBestEffortPod = R"({"metadata":{"name":"x"},"spec":{"containers":[{"name":"c"}]}})";

TEST(QuotaAdmissionTest, ChargesEveryAccountingQuotaOrNone) {
  std::vector<json::object> quotas{
      quota("a", R"({"pods":"2","secrets":"1"})", R"({"pods":"1","secrets":"0"})"),
      quota("b", R"({"count/pods":"10"})", R"({"count/pods":"3"})"),
      quota("c", R"({"secrets":"1"})", R"({"secrets":"1"})")};
  auto changed = quotaadmission::charge(quotas, kPods, "pods", "x", parse(kBestEffortPod), nullptr);
  EXPECT_EQ(changed, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(quotas[0].at("status").at("used").at("pods").as_string(), "2");
  EXPECT_EQ(quotas[0].at("status").at("used").at("secrets").as_string(), "0");
  EXPECT_EQ(quotas[1].at("status").at("used").at("count/pods").as_string(), "4");
  // Now a is full: the next pod is refused and b is not charged either.
  EXPECT_EQ(refusal(quotas, kPods, parse(kBestEffortPod)),
            "pods \"x\" is forbidden: exceeded quota: a, requested: pods=1, used: pods=2, "
            "limited: pods=2");
  EXPECT_EQ(quotas[1].at("status").at("used").at("count/pods").as_string(), "4");
}

TEST(QuotaAdmissionTest, UnknownStatusAndMissingRequestsAreRefused) {
  std::vector<json::object> unknown{
      quota("q", R"({"pods":"2","requests.cpu":"1"})", R"({"pods":"0"})")};
  auto pod = parse(
      R"({"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]}})");
  EXPECT_EQ(refusal(unknown, kPods, pod),
            "pods \"x\" is forbidden: status unknown for quota: q, resources: pods,requests.cpu");
  std::vector<json::object> cpu{quota("q", R"({"requests.cpu":"1","limits.cpu":"2"})",
                                      R"({"requests.cpu":"0","limits.cpu":"0"})")};
  EXPECT_EQ(refusal(cpu, kPods, pod),
            "pods \"x\" is forbidden: failed quota: q: must specify limits.cpu for: c");
  // A quota its controller has not seen (no status.hard) accounts nothing yet.
  std::vector<json::object> fresh{
      parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"pods":"0"}}})")};
  EXPECT_TRUE(quotaadmission::charge(fresh, kPods, "pods", "x", pod, nullptr).empty());
}

TEST(QuotaAdmissionTest, ScopedQuotasOnlyChargeMatchingPods) {
  std::vector<json::object> quotas{
      quota("be", R"({"pods":"1"})", R"({"pods":"1"})", R"({"scopes":["BestEffort"]})")};
  auto burstable = parse(
      R"({"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]}})");
  EXPECT_TRUE(quotaadmission::charge(quotas, kPods, "pods", "x", burstable, nullptr).empty());
  EXPECT_NE(refusal(quotas, kPods, parse(kBestEffortPod)), "");
}

TEST(QuotaAdmissionTest, UpdatesChargeOnlyTheIncrease) {
  const GroupResource services{"", "services"};
  std::vector<json::object> quotas{
      quota("q", R"({"services.loadbalancers":"1","services.nodeports":"2"})",
            R"({"services.loadbalancers":"0","services.nodeports":"1"})")};
  auto old = parse(R"({"spec":{"type":"NodePort","ports":[{"port":80}]}})");
  auto lb = parse(R"({"spec":{"type":"LoadBalancer","ports":[{"port":80}]}})");
  auto changed = quotaadmission::charge(quotas, services, "services", "x", lb, &old);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(quotas[0].at("status").at("used").at("services.loadbalancers").as_string(), "1");
  EXPECT_EQ(quotas[0].at("status").at("used").at("services.nodeports").as_string(), "1");
  // Pods are charged on create only (their resources are immutable).
  auto pod = parse(kBestEffortPod);
  std::vector<json::object> pods{quota("p", R"({"pods":"0"})", R"({"pods":"0"})")};
  EXPECT_TRUE(quotaadmission::charge(pods, kPods, "pods", "x", pod, &pod).empty());
}

// ---- through the ResourceStore: CAS writes of status.used ----

class QuotaStoreTest : public testing::ResourceStoreFixture {
 protected:
  void makeQuota(std::string_view hard) {
    RequestContext ctx;
    resources.create(info("resourcequotas"), "default",
                     parse(std::string(R"({"metadata":{"name":"q"},"spec":{"hard":)") +
                           std::string(hard) + "}}"),
                     ctx);
    // What the controller does first: status.hard from spec, used zero.
    auto q = resources.get(info("resourcequotas"), "default", "q");
    json::object used;
    for (const auto& kv : q.at("spec").at("hard").as_object()) used[kv.key()] = "0";
    q["status"] = json::object{{"hard", q.at("spec").at("hard")}, {"used", used}};
    resources.update(info("resourcequotas"), "default", "q", "status", q, ctx);
  }
  bool createPod(const std::string& name, bool dryRun = false) {
    RequestContext ctx;
    ctx.dryRun = dryRun;
    try {
      resources.create(info("pods"), "default",
                       parse(R"({"metadata":{"name":")" + name +
                             R"("},"spec":{"containers":[{"name":"c","image":"x"}]}})"),
                       ctx);
      return true;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), 403) << e.what();
      return false;
    }
  }
  std::string used(const std::string& name) {
    caches.syncWithStore();
    auto q = resources.get(info("resourcequotas"), "default", "q");
    return std::string(q.at("status").at("used").at(name).as_string());
  }
};

TEST_F(QuotaStoreTest, CreatesMoveStatusUsedAndDryRunsDoNot) {
  makeQuota(R"({"pods":"2"})");
  EXPECT_TRUE(createPod("a"));
  EXPECT_EQ(used("pods"), "1");
  EXPECT_TRUE(createPod("dry", true));
  EXPECT_EQ(used("pods"), "1");
  EXPECT_TRUE(createPod("b"));
  EXPECT_FALSE(createPod("c"));
  EXPECT_EQ(used("pods"), "2");
}

TEST_F(QuotaStoreTest, ConcurrentCreatesNeverExceedHard) {
  makeQuota(R"({"pods":"5"})");
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      if (createPod("p" + std::to_string(i))) ++admitted;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 5);
  EXPECT_EQ(used("pods"), "5");
}

}  // namespace
}  // namespace skiff::apiserver
