// healthCheckNodePort answers: which ports serve which Service, and upstream's JSON body.
#include "proxy/health_check.h"

#include <gtest/gtest.h>

namespace skiff::proxy {
namespace {

ServicePort port(const std::string& name, int hc, std::vector<std::string> localIps) {
  ServicePort sp;
  sp.ns = "default";
  sp.name = name;
  sp.externalLocal = hc > 0;
  sp.healthCheckNodePort = hc;
  for (auto& ip : localIps) sp.localEndpoints.push_back(Endpoint{ip, 80, true, true, false, true});
  return sp;
}

TEST(HealthCheck, OnePortPerServiceCountingDistinctLocalEndpoints) {
  auto a = port("a", 31000, {"10.42.0.5", "10.42.0.6"});
  auto a2 = port("a", 31000, {"10.42.0.5"});  // a second port of the same Service
  a2.portName = "metrics";
  auto t = healthCheckTargets({a, a2, port("b", 31001, {}), port("c", 0, {"10.42.0.7"})});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[31000], (HealthCheckTarget{"default", "a", 2}));
  EXPECT_EQ(t[31001], (HealthCheckTarget{"default", "b", 0}));
}

TEST(HealthCheck, BodyAsUpstream) {
  EXPECT_EQ(healthCheckBody({"ns1", "web", 3}, true),
            R"({"service":{"namespace":"ns1","name":"web"},"localEndpoints":3,)"
            R"("serviceProxyHealthy":true})");
}

}  // namespace
}  // namespace skiff::proxy
