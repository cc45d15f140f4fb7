// The quota usage calculator shared by ResourceQuota admission and the resource quota
// controller, and the validation of ResourceQuota and LimitRange objects.
#include "api/resource_quota.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/defaults.h"
#include "api/validation.h"

namespace skiff::api::quota {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

const GroupResource kPods{"", "pods"};
const GroupResource kServices{"", "services"};
const GroupResource kClaims{"", "persistentvolumeclaims"};

std::string show(const ResourceList& l) { return prettyPrint(l); }

TEST(QuotaUsageTest, PodSumsContainersAndChargesBareNamesAsRequests) {
  auto pod = parse(R"({"spec":{"containers":[
    {"name":"a","resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"1"}}},
    {"name":"b","resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"memory":"1Gi"}}}]}})");
  EXPECT_EQ(show(usage(kPods, pod)),
            "count/pods=1,cpu=500m,limits.cpu=1,limits.memory=1Gi,memory=128Mi,pods=1,"
            "requests.cpu=500m,requests.memory=128Mi");
}

TEST(QuotaUsageTest, InitContainersCountAsTheMaxAndSidecarsAdd) {
  auto pod = parse(R"({"spec":{
    "initContainers":[{"name":"i","resources":{"requests":{"cpu":"2"}}},
                      {"name":"s","restartPolicy":"Always","resources":{"requests":{"cpu":"100m"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"500m"}}}],
    "overhead":{"cpu":"10m"}}})");
  // max(500m + 100m sidecar, 2 init) + 10m overhead.
  EXPECT_EQ(usage(kPods, pod).at("requests.cpu").toString(), "2010m");
  EXPECT_EQ(podRequests(pod, false).at("cpu").toString(), "2");
}

TEST(QuotaUsageTest, TerminalAndExpiredPodsOnlyCountAsObjects) {
  auto done = parse(
      R"({"spec":{"containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]},"status":{"phase":"Failed"}})");
  EXPECT_EQ(show(usage(kPods, done)), "count/pods=1");
  auto gone = parse(R"({"metadata":{"deletionTimestamp":"2020-01-01T00:00:00Z",
    "deletionGracePeriodSeconds":30},"spec":{"containers":[{"name":"a"}]}})");
  EXPECT_EQ(show(usage(kPods, gone)), "count/pods=1");
  auto terminating = parse(R"({"metadata":{"deletionTimestamp":"2099-01-01T00:00:00Z",
    "deletionGracePeriodSeconds":30},"spec":{"containers":[{"name":"a"}]}})");
  EXPECT_EQ(show(usage(kPods, terminating)), "count/pods=1,pods=1");
}

TEST(QuotaUsageTest, ExtendedAndHugepagesRequests) {
  auto pod = parse(R"({"spec":{"containers":[{"name":"a","resources":{"requests":
    {"example.com/gpu":"2","hugepages-2Mi":"4Mi"}}}]}})");
  auto u = usage(kPods, pod);
  EXPECT_EQ(u.at("requests.example.com/gpu").toString(), "2");
  EXPECT_EQ(u.at("requests.hugepages-2Mi").toString(), "4Mi");
  EXPECT_EQ(u.at("hugepages-2Mi").toString(), "4Mi");
  EXPECT_TRUE(accounts(kPods, "requests.example.com/gpu"));
  EXPECT_FALSE(accounts(kPods, "example.com/gpu"));
}

TEST(QuotaUsageTest, ServicesCountNodePortsAndLoadBalancers) {
  auto np = parse(R"({"spec":{"type":"NodePort","ports":[{"port":80},{"port":443}]}})");
  EXPECT_EQ(show(usage(kServices, np)), "count/services=1,services=1,services.nodeports=2");
  auto lb = parse(R"({"spec":{"type":"LoadBalancer","allocateLoadBalancerNodePorts":false,
    "ports":[{"port":80,"nodePort":30080},{"port":443}]}})");
  EXPECT_EQ(show(usage(kServices, lb)),
            "count/services=1,services=1,services.loadbalancers=1,services.nodeports=1");
}

TEST(QuotaUsageTest, ClaimsChargeStorageAndTheirClass) {
  auto pvc =
      parse(R"({"spec":{"storageClassName":"gold","resources":{"requests":{"storage":"5Gi"}}}})");
  EXPECT_EQ(show(usage(kClaims, pvc)),
            "count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/"
            "persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/requests.storage=5Gi,"
            "persistentvolumeclaims=1,requests.storage=5Gi");
  EXPECT_TRUE(accounts(kClaims, "gold.storageclass.storage.k8s.io/requests.storage"));
}

TEST(QuotaUsageTest, ObjectCountsAndTheKindsANameAccounts) {
  EXPECT_EQ(show(usage({"apps", "deployments"}, parse("{}"))), "count/deployments.apps=1");
  EXPECT_EQ(show(usage({"", "secrets"}, parse("{}"))), "count/secrets=1,secrets=1");
  EXPECT_EQ(kindsOf("count/deployments.apps"),
            (std::vector<GroupResource>{{"apps", "deployments"}}));
  EXPECT_EQ(kindsOf("count/pods"), (std::vector<GroupResource>{kPods}));
  EXPECT_EQ(kindsOf("limits.memory"), (std::vector<GroupResource>{kPods}));
  EXPECT_EQ(kindsOf("services.nodeports"), (std::vector<GroupResource>{kServices}));
  EXPECT_EQ(kindsOf("configmaps"), (std::vector<GroupResource>{{"", "configmaps"}}));
  EXPECT_TRUE(kindsOf("widgets").empty());
  EXPECT_FALSE(accounts({"apps", "deployments"}, "pods"));
}

TEST(QuotaScopesTest, TerminatingBestEffortAndPriorityClass) {
  auto be = parse(R"({"spec":{"containers":[{"name":"a"}]}})");
  auto burst = parse(
      R"({"spec":{"activeDeadlineSeconds":60,"priorityClassName":"high","containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]}})");
  auto scoped = [](std::string_view spec) {
    return parse(std::string(R"({"spec":)") + std::string(spec) + "}");
  };
  EXPECT_TRUE(scopesMatch(scoped(R"({"scopes":["BestEffort"]})"), kPods, be));
  EXPECT_FALSE(scopesMatch(scoped(R"({"scopes":["BestEffort"]})"), kPods, burst));
  EXPECT_TRUE(scopesMatch(scoped(R"({"scopes":["Terminating","NotBestEffort"]})"), kPods, burst));
  EXPECT_FALSE(scopesMatch(scoped(R"({"scopes":["NotTerminating"]})"), kPods, burst));
  auto prio = [&](std::string_view op, std::string_view values) {
    return scoped(
        std::string(
            R"({"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":")") +
        std::string(op) + R"(","values":)" + std::string(values) + "}]}}");
  };
  EXPECT_TRUE(scopesMatch(prio("In", R"(["high"])"), kPods, burst));
  EXPECT_FALSE(scopesMatch(prio("In", R"(["high"])"), kPods, be));
  EXPECT_TRUE(scopesMatch(prio("NotIn", R"(["high"])"), kPods, be));
  EXPECT_TRUE(scopesMatch(prio("Exists", "[]"), kPods, burst));
  EXPECT_TRUE(scopesMatch(prio("DoesNotExist", "[]"), kPods, be));
  // A scoped quota accounts no other kind; an unscoped one every kind.
  EXPECT_FALSE(scopesMatch(scoped(R"({"scopes":["BestEffort"]})"), kServices, parse("{}")));
  EXPECT_TRUE(scopesMatch(scoped("{}"), kServices, parse("{}")));
}

TEST(QuotaConstraintsTest, NamesTheMissingResourcesPerContainer) {
  auto pod = parse(R"({"spec":{"containers":[
    {"name":"b","resources":{"requests":{"cpu":"1"}}},{"name":"a"}],
    "initContainers":[{"name":"init","resources":{"limits":{"memory":"1Gi"}}}]}})");
  EXPECT_EQ(podConstraints({"requests.cpu", "limits.memory", "pods"}, pod),
            "must specify limits.memory for: a,b; requests.cpu for: a,init");
  EXPECT_EQ(podConstraints({"pods", "requests.storage"}, pod), "");
}

TEST(QuotaListTest, ArithmeticKeepsFormatsAndFloorsAtZero) {
  ResourceList a{{"memory", *Quantity::parse("1Gi")}};
  ResourceList zero{{"memory", Quantity()}};
  EXPECT_EQ(show(add(zero, a)), "memory=1Gi");
  EXPECT_EQ(show(subtractNonNegative(zero, a)), "memory=0");
  std::vector<std::string> exceeded;
  EXPECT_FALSE(lessThanOrEqual(add(a, a), {{"memory", *Quantity::parse("1.5Gi")}}, &exceeded));
  EXPECT_EQ(exceeded, std::vector<std::string>{"memory"});
}

// ---- validation of the two kinds ----

std::vector<StatusCause> validate(std::string_view kind, std::string_view body) {
  json::object o = parse(body);
  applyDefaults("", kind, o);
  return validateObject("", kind, o, nullptr);
}
bool hasCause(const std::vector<StatusCause>& causes, std::string_view field,
              std::string_view message) {
  for (const auto& c : causes)
    if (c.field == field && c.message == message) return true;
  return false;
}

TEST(ResourceQuotaValidationTest, NamesAmountsAndScopes) {
  auto causes = validate("ResourceQuota", R"({"metadata":{"name":"q","namespace":"d"},
    "spec":{"hard":{"widgets":"1","pods":"1.5","cpu":"-1","count/jobs.batch":"2"},
            "scopes":["BestEffort","NotBestEffort"]}})");
  EXPECT_TRUE(hasCause(causes, "spec.hard[widgets]",
                       "Invalid value: \"widgets\": must be a standard resource for quota"));
  EXPECT_TRUE(hasCause(causes, "spec.hard[pods]", "Invalid value: \"1500m\": must be an integer"));
  EXPECT_TRUE(hasCause(causes, "spec.hard[cpu]",
                       "Invalid value: \"-1\": must be greater than or equal to 0"));
  EXPECT_TRUE(hasCause(causes, "spec.scopes",
                       "Invalid value: []core.ResourceQuotaScope{\"BestEffort\", "
                       "\"NotBestEffort\"}: conflicting scopes"));
  EXPECT_TRUE(hasCause(causes, "spec.scopes",
                       "Invalid value: []core.ResourceQuotaScope{\"BestEffort\", "
                       "\"NotBestEffort\"}: unsupported scope applied to resource"));
  EXPECT_TRUE(validate("ResourceQuota", R"({"metadata":{"name":"q","namespace":"d"},
    "spec":{"hard":{"pods":"3","requests.cpu":"1500m"},"scopes":["NotTerminating"]}})")
                  .empty());
}

TEST(LimitRangeValidationTest, OrderOfMinDefaultsMaxAndRatios) {
  auto causes =
      validate("LimitRange", R"({"metadata":{"name":"l","namespace":"d"},"spec":{"limits":[
    {"type":"Container","min":{"cpu":"1"},"max":{"cpu":"500m"},"default":{"memory":"1Gi"},
     "defaultRequest":{"memory":"2Gi"},"maxLimitRequestRatio":{"cpu":"500m"}},
    {"type":"Pod","default":{"cpu":"1"}},
    {"type":"PersistentVolumeClaim"}]}})");
  EXPECT_TRUE(hasCause(causes, "spec.limits[0].min[cpu]",
                       "Invalid value: \"1\": min value 1 is greater than max value 500m"));
  EXPECT_TRUE(hasCause(
      causes, "spec.limits[0].defaultRequest[memory]",
      "Invalid value: \"2Gi\": default request value 2Gi is greater than default limit value 1Gi"));
  EXPECT_TRUE(hasCause(causes, "spec.limits[0].maxLimitRequestRatio[cpu]",
                       "Invalid value: \"500m\": ratio 500m is less than 1"));
  EXPECT_TRUE(hasCause(causes, "spec.limits[1].default",
                       "Forbidden: may not be specified when `type` is 'Pod'"));
  EXPECT_TRUE(hasCause(causes, "spec.limits[2].limits",
                       "Required value: either minimum or maximum storage value is required, but "
                       "neither was provided"));
  auto ratio = validate("LimitRange", R"({"metadata":{"name":"l","namespace":"d"},"spec":{"limits":[
    {"type":"Container","min":{"cpu":"100m"},"max":{"cpu":"200m"},"maxLimitRequestRatio":{"cpu":"3"}}]}})");
  EXPECT_TRUE(hasCause(ratio, "spec.limits[0].maxLimitRequestRatio[cpu]",
                       "Invalid value: \"3\": ratio 3 is greater than max/min = 2.000000"));
  EXPECT_TRUE(validate("LimitRange", R"({"metadata":{"name":"l","namespace":"d"},"spec":{"limits":[
    {"type":"Container","min":{"cpu":"100m"},"max":{"cpu":"1"},"defaultRequest":{"cpu":"200m"}}]}})")
                  .empty());
}

}  // namespace
}  // namespace skiff::api::quota

namespace skiff::api::quota {
namespace {

TEST(LimitRangeDefaultsTest, DefaultRequestComesFromTheDefaultLimitBeforeTheMin) {
  json::object lr = json::parse(R"({"spec":{"limits":[{"type":"Container",
    "max":{"memory":"1Gi"},"default":{"cpu":"300m"},"min":{"cpu":"50m","ephemeral-storage":"1Gi"}}]}})")
                        .as_object();
  applyDefaults("", "LimitRange", lr);
  const auto& item = lr.at("spec").at("limits").at(0).as_object();
  EXPECT_EQ(json::serialize(item.at("default")), R"({"cpu":"300m","memory":"1Gi"})");
  EXPECT_EQ(json::serialize(item.at("defaultRequest")),
            R"({"cpu":"300m","memory":"1Gi","ephemeral-storage":"1Gi"})");
}

}  // namespace
}  // namespace skiff::api::quota
