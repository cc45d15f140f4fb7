#include <set>

#include "unit/controller/endpoints_test_util.h"

namespace skiff::controller::testing {
namespace {

const client::Resource& kSlices = client::resources::endpointSlices;

json::array slicesOf(client::RestClient& c, const std::string& ns, const std::string& service) {
  return listItems(c, kSlices, ns, "kubernetes.io/service-name=" + service);
}

// Endpoints of all slices by targetRef name.
std::map<std::string, json::object> endpointsByPod(const json::array& slices) {
  std::map<std::string, json::object> out;
  for (const auto& s : slices)
    if (const json::array* eps = arrayAt(s.as_object(), {"endpoints"}))
      for (const auto& e : *eps)
        out[stringAt(e.as_object(), {"targetRef", "name"})] = e.as_object();
  return out;
}

TEST(EndpointSliceController, ConditionsZonesAndInPlaceUpdates) {
  ControllerEnv env({"endpointslice"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "eps");
  makeNode(c, "eps-node-z", {{"topology.kubernetes.io/zone", "zone-a"}});
  json::array named{json::object{{"name", "http"}, {"containerPort", 8080}}};
  makePod(c, ns, "ready", {{"app", "web"}}, named, "eps-node-z");
  makePod(c, ns, "unready", {{"app", "web"}}, named, "eps-node-z");
  makePod(c, ns, "leaving", {{"app", "web"}}, named, "eps-node-z");
  setPodStatus(c, ns, "ready", "10.3.0.1", true);
  setPodStatus(c, ns, "unready", "10.3.0.2", false);
  setPodStatus(c, ns, "leaving", "10.3.0.3", true);
  auto svc = makeService(
      c, ns, "web", json::object{{"app", "web"}},
      json::array{json::object{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}});
  c.remove(client::resources::pods, ns, "leaving");  // graceful: terminating, still serving

  json::array slices;
  ASSERT_TRUE(waitFor([&] {
    slices = slicesOf(c, ns, "web");
    auto eps = endpointsByPod(slices);
    // The zone arrives once the controller's node cache has the node (it resyncs the node's pods).
    return slices.size() == 1 && eps.size() == 3 &&
           boolAt(eps["leaving"], {"conditions", "terminating"}) &&
           stringAt(eps["ready"], {"zone"}) == "zone-a";
  })) << json::serialize(slices);
  const json::object& slice = slices[0].as_object();
  EXPECT_EQ(stringAt(slice, {"addressType"}), "IPv4");
  EXPECT_EQ(stringAt(slice, {"metadata", "generateName"}), "web-");
  EXPECT_EQ(stringAt(slice, {"metadata", "labels", "endpointslice.kubernetes.io/managed-by"}),
            "endpointslice-controller.k8s.io");
  EXPECT_EQ(stringAt(slice, {"metadata", "labels", "team"}), "a");
  const json::object* owner = controllerRefOf(slice);
  ASSERT_TRUE(owner);
  EXPECT_EQ(stringAt(*owner, {"kind"}), "Service");
  EXPECT_EQ(stringAt(*owner, {"uid"}), uidOf(svc));
  const json::object& port = slice.at("ports").as_array()[0].as_object();
  EXPECT_EQ(stringAt(port, {"name"}), "http");
  EXPECT_EQ(intAt(port, {"port"}), 8080);
  EXPECT_EQ(stringAt(port, {"protocol"}), "TCP");

  auto eps = endpointsByPod(slices);
  auto cond = [&](const std::string& pod, const char* c) {
    return boolAt(eps[pod], {"conditions", c});
  };
  EXPECT_TRUE(cond("ready", "ready") && cond("ready", "serving") && !cond("ready", "terminating"));
  EXPECT_TRUE(!cond("unready", "ready") && !cond("unready", "serving") &&
              !cond("unready", "terminating"));
  EXPECT_TRUE(!cond("leaving", "ready") && cond("leaving", "serving") &&
              cond("leaving", "terminating"));
  EXPECT_EQ(json::serialize(eps["ready"]["addresses"]), R"(["10.3.0.1"])");
  EXPECT_EQ(stringAt(eps["ready"], {"nodeName"}), "eps-node-z");
  EXPECT_EQ(stringAt(eps["ready"], {"zone"}), "zone-a");
  EXPECT_EQ(stringAt(eps["ready"], {"targetRef", "kind"}), "Pod");

  // A readiness change rewrites the same slice.
  std::string name = nameOf(slice);
  setPodStatus(c, ns, "unready", "10.3.0.2", true);
  ASSERT_TRUE(waitFor([&] {
    slices = slicesOf(c, ns, "web");
    return slices.size() == 1 && boolAt(endpointsByPod(slices)["unready"], {"conditions", "ready"});
  })) << json::serialize(slices);
  EXPECT_EQ(nameOf(slices[0].as_object()), name);
}

TEST(EndpointSliceController, SplitsAtHundredAndShrinks) {
  ControllerEnv env({"endpointslice"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "eps");
  // Placeholder first: a Service without pods has one empty slice.
  makeService(c, ns, "big", json::object{{"app", "big"}}, json::array{json::object{{"port", 80}}});
  json::array slices;
  ASSERT_TRUE(waitFor([&] {
    slices = slicesOf(c, ns, "big");
    // (the server may omit the empty list)
    const json::array* eps =
        slices.size() == 1 ? arrayAt(slices[0].as_object(), {"endpoints"}) : nullptr;
    return slices.size() == 1 && (!eps || eps->empty());
  })) << json::serialize(slices);
  std::string placeholder = nameOf(slices[0].as_object());

  constexpr int kPods = 205;
  for (int i = 0; i < kPods; ++i) {
    std::string n = "p-" + std::to_string(i);
    makePod(c, ns, n, {{"app", "big"}});
    setPodStatus(c, ns, n, "10.4." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                 true);
  }
  ASSERT_TRUE(waitFor(
      [&] {
        slices = slicesOf(c, ns, "big");
        return endpointsByPod(slices).size() == kPods;
      },
      std::chrono::seconds(20)))
      << slices.size();
  EXPECT_EQ(slices.size(), 3u);
  std::set<std::string> names;
  size_t total = 0;
  for (const auto& s : slices) {
    const json::array* eps = arrayAt(s.as_object(), {"endpoints"});
    size_t n = eps ? eps->size() : 0;
    EXPECT_LE(n, 100u);
    total += n;
    names.insert(nameOf(s.as_object()));
  }
  EXPECT_EQ(total, static_cast<size_t>(kPods)) << "every pod appears exactly once";
  EXPECT_TRUE(names.contains(placeholder)) << "the placeholder slice is reused, not replaced";

  // Removing most pods shrinks back without leaving empty slices behind.
  for (int i = 0; i < 150; ++i) c.remove(client::resources::pods, ns, "p-" + std::to_string(i));
  ASSERT_TRUE(waitFor(
      [&] {
        slices = slicesOf(c, ns, "big");
        size_t empty = 0;
        for (const auto& s : slices) {
          const json::array* eps = arrayAt(s.as_object(), {"endpoints"});
          empty += !eps || eps->empty();
        }
        return endpointsByPod(slices).size() == kPods - 150 && empty == 0;
      },
      std::chrono::seconds(20)))
      << json::serialize(slices);

  // The Service goes: so do its slices.
  c.remove(client::resources::services, ns, "big");
  ASSERT_TRUE(waitFor([&] { return slicesOf(c, ns, "big").empty(); }));
}

}  // namespace
}  // namespace skiff::controller::testing
