#include "unit/controller/endpoints_test_util.h"

namespace skiff::controller::testing {
namespace {

const client::Resource& kEndpoints = client::resources::endpoints;

// ip → targetRef name for one address list of one subset.
std::map<std::string, std::string> addressesOf(const json::object& subset, const char* field) {
  std::map<std::string, std::string> out;
  if (const json::array* a = arrayAt(subset, {field}))
    for (const auto& v : *a) {
      const json::object& o = v.as_object();
      out[stringAt(o, {"ip"})] = stringAt(o, {"targetRef", "name"});
    }
  return out;
}

TEST(EndpointsController, ReadyNotReadyTerminatingAndNamedPorts) {
  ControllerEnv env({"endpoints"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "ep");
  makeNode(c, "ep-node-1");
  json::array named{json::object{{"name", "http"}, {"containerPort", 8080}}};
  makePod(c, ns, "ready", {{"app", "web"}}, named, "ep-node-1");
  makePod(c, ns, "unready", {{"app", "web"}}, named, "ep-node-1");
  makePod(c, ns, "no-ip", {{"app", "web"}}, named, "ep-node-1");
  makePod(c, ns, "other", {{"app", "db"}}, named, "ep-node-1");
  setPodStatus(c, ns, "ready", "10.1.0.1", true);
  setPodStatus(c, ns, "unready", "10.1.0.2", false);
  setPodStatus(c, ns, "other", "10.1.0.9", true);
  makeService(c, ns, "web", json::object{{"app", "web"}},
              json::array{json::object{{"name", "http"}, {"port", 80}, {"targetPort", "http"}},
                          json::object{{"name", "metrics"}, {"port", 9090}, {"targetPort", 9100}}});

  json::object ep;
  ASSERT_TRUE(waitFor([&] {
    ep = c.get(kEndpoints, ns, "web");
    auto* subsets = arrayAt(ep, {"subsets"});
    return subsets && subsets->size() == 1 &&
           arrayAt(subsets->front().as_object(), {"notReadyAddresses"});
  })) << json::serialize(ep);
  const json::object& subset = ep["subsets"].as_array()[0].as_object();
  EXPECT_EQ(addressesOf(subset, "addresses"),
            (std::map<std::string, std::string>{{"10.1.0.1", "ready"}}));
  EXPECT_EQ(addressesOf(subset, "notReadyAddresses"),
            (std::map<std::string, std::string>{{"10.1.0.2", "unready"}}));
  const json::object& addr = subset.at("addresses").as_array()[0].as_object();
  EXPECT_EQ(stringAt(addr, {"nodeName"}), "ep-node-1");
  EXPECT_EQ(stringAt(addr, {"targetRef", "kind"}), "Pod");
  EXPECT_EQ(stringAt(addr, {"targetRef", "namespace"}), ns);
  EXPECT_FALSE(stringAt(addr, {"targetRef", "uid"}).empty());
  // The named port resolves to the container port; the numeric one is taken as is.
  std::map<std::string, int64_t> ports;
  for (const auto& p : subset.at("ports").as_array())
    ports[stringAt(p.as_object(), {"name"})] = intAt(p.as_object(), {"port"});
  EXPECT_EQ(ports, (std::map<std::string, int64_t>{{"http", 8080}, {"metrics", 9100}}));
  EXPECT_EQ(stringAt(ep, {"metadata", "labels", "team"}), "a") << "service labels are copied";
  EXPECT_EQ(stringAt(ep, {"metadata", "labels", "endpoints.kubernetes.io/managed-by"}),
            "endpoint-controller");
  EXPECT_FALSE(
      stringAt(ep, {"metadata", "annotations", "endpoints.kubernetes.io/last-change-trigger-time"})
          .empty());

  // Becoming ready moves the pod to addresses; terminating removes it.
  setPodStatus(c, ns, "unready", "10.1.0.2", true);
  ASSERT_TRUE(waitFor([&] {
    ep = c.get(kEndpoints, ns, "web");
    return addressesOf(ep["subsets"].as_array()[0].as_object(), "addresses").size() == 2;
  })) << json::serialize(ep);
  c.remove(client::resources::pods, ns, "ready");  // bound to a node: graceful, stays terminating
  ASSERT_TRUE(waitFor([&] {
    ep = c.get(kEndpoints, ns, "web");
    return addressesOf(ep["subsets"].as_array()[0].as_object(), "addresses") ==
           std::map<std::string, std::string>{{"10.1.0.2", "unready"}};
  })) << json::serialize(ep);

  // The Service goes: so do its Endpoints.
  c.remove(client::resources::services, ns, "web");
  ASSERT_TRUE(waitFor([&] { return !tryGet(c, kEndpoints, ns, "web"); }));
}

TEST(EndpointsController, PortSetsPublishNotReadyAndHeadlessHostnames) {
  ControllerEnv env({"endpoints"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "ep");
  // Only "a" has the named port: it forms its own subset with both ports.
  makePod(c, ns, "a", {{"app", "x"}},
          json::array{json::object{{"name", "web"}, {"containerPort", 8000}}});
  makePod(c, ns, "b", {{"app", "x"}});
  setPodStatus(c, ns, "a", "10.2.0.1", true);
  setPodStatus(c, ns, "b", "10.2.0.2", false);
  makeService(c, ns, "x", json::object{{"app", "x"}},
              json::array{json::object{{"name", "web"}, {"port", 80}, {"targetPort", "web"}},
                          json::object{{"name", "raw"}, {"port", 81}}},
              json::object{{"publishNotReadyAddresses", true}});
  json::object ep;
  ASSERT_TRUE(waitFor([&] {
    ep = c.get(kEndpoints, ns, "x");
    auto* s = arrayAt(ep, {"subsets"});
    return s && s->size() == 2;
  })) << json::serialize(ep);
  for (const auto& sv : ep["subsets"].as_array()) {
    const json::object& s = sv.as_object();
    EXPECT_FALSE(s.contains("notReadyAddresses")) << "publishNotReadyAddresses publishes everyone";
    auto addrs = addressesOf(s, "addresses");
    ASSERT_EQ(addrs.size(), 1u);
    EXPECT_EQ(s.at("ports").as_array().size(), addrs.begin()->second == "a" ? 2u : 1u);
  }

  // Headless Service: pods whose subdomain names it get their hostname.
  json::object pod{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"name", "h"}, {"labels", json::object{{"app", "h"}}}}},
      {"spec",
       json::object{{"hostname", "h-0"},
                    {"subdomain", "hl"},
                    {"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}}}};
  c.create(client::resources::pods, ns, pod);
  setPodStatus(c, ns, "h", "10.2.0.3", true);
  makeService(c, ns, "hl", json::object{{"app", "h"}}, json::array{},
              json::object{{"clusterIP", "None"}});
  ASSERT_TRUE(waitFor([&] {
    ep = c.get(kEndpoints, ns, "hl");
    auto* s = arrayAt(ep, {"subsets"});
    return s && s->size() == 1;
  })) << json::serialize(ep);
  const json::object& addr = ep["subsets"].as_array()[0].at("addresses").as_array()[0].as_object();
  EXPECT_EQ(stringAt(addr, {"hostname"}), "h-0");
  EXPECT_EQ(stringAt(addr, {"ip"}), "10.2.0.3");
  EXPECT_TRUE(valueAt(ep, {"metadata", "labels", "service.kubernetes.io/headless"}));
}

TEST(EndpointsController, SelectorlessServicesKeepUserEndpoints) {
  ControllerEnv env({"endpoints"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "ep");
  makeService(c, ns, "ext", nullptr, json::array{json::object{{"port", 5432}}});
  json::object user{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", json::object{{"name", "ext"}}},
      {"subsets", json::array{json::object{
                      {"addresses", json::array{json::object{{"ip", "192.168.1.5"}}}},
                      {"ports", json::array{json::object{{"port", 5432}, {"protocol", "TCP"}}}}}}}};
  c.create(kEndpoints, ns, user);
  // A selector Service in the same namespace proves the controller is running meanwhile.
  makeService(c, ns, "sel", json::object{{"app", "none"}}, json::array{json::object{{"port", 80}}});
  ASSERT_TRUE(waitFor([&] { return tryGet(c, kEndpoints, ns, "sel").has_value(); }));
  auto ep = c.get(kEndpoints, ns, "ext");
  EXPECT_EQ(stringAt(ep["subsets"].as_array()[0].at("addresses").as_array()[0].as_object(), {"ip"}),
            "192.168.1.5");
  EXPECT_FALSE(valueAt(ep, {"metadata", "labels", "endpoints.kubernetes.io/managed-by"}));
}

}  // namespace
}  // namespace skiff::controller::testing
