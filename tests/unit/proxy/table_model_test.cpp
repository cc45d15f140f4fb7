// TableModel: per-Service shares of the proxy's table, and the transactions an update of a
// few Services produces.
#include "proxy/table_model.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::proxy {
namespace {

namespace json = boost::json;

ProxyConfig config() {
  ProxyConfig c;
  c.nodeName = "node-a";
  return c;
}

// The share of Service `name` (cluster IP 10.43.0.<n>) with the given endpoint addresses.
NftState share(const std::string& name, int n, const std::vector<std::string>& eps) {
  auto svc = json::parse(R"({"metadata":{"namespace":"default","name":")" + name +
                         R"("},"spec":{"clusterIP":"10.43.0.)" + std::to_string(n) +
                         R"(","ports":[{"name":"http","port":80}]}})")
                 .as_object();
  json::array endpoints;
  for (auto& ip : eps)
    endpoints.push_back(json::object{{"addresses", json::array{json::string(ip)}},
                                     {"nodeName", "node-a"},
                                     {"conditions", {{"ready", true}}}});
  json::object slice{
      {"metadata",
       {{"namespace", "default"},
        {"name", name + "-1"},
        {"labels", {{"kubernetes.io/service-name", name}}}}},
      {"addressType", "IPv4"},
      {"ports", json::array{{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
      {"endpoints", std::move(endpoints)}};
  ObjectList services{std::make_shared<const json::object>(std::move(svc))};
  ObjectList slices{std::make_shared<const json::object>(std::move(slice))};
  return desiredState(buildServicePorts(services, slices, config()), config());
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(TableModel, TheSumOfSharesIsTheWholeDesiredState) {
  TableModel model;
  model.update({{"default/a", share("a", 10, {"10.42.0.5"})},
                {"default/b", share("b", 11, {"10.42.0.6", "10.42.0.7"})}});
  auto expected = share("a", 10, {"10.42.0.5"});
  auto b = share("b", 11, {"10.42.0.6", "10.42.0.7"});
  for (auto& c : elementContainers()) expected.elements[c];  // the full state lists all
  for (auto& [name, rules] : b.chains) expected.chains[name] = rules;
  for (auto& [c, items] : b.elements)
    for (auto& [k, v] : items) expected.elements[c][k] = v;
  EXPECT_EQ(model.state(), expected);
  EXPECT_EQ(model.services(), 2u);
}

TEST(TableModel, AnUpdateTouchesOnlyTheChangedService) {
  TableModel model;
  std::map<std::string, NftState> all;
  for (int i = 0; i < 100; ++i)
    all["default/s" + std::to_string(i)] = share("s" + std::to_string(i), i + 10, {"10.42.0.5"});
  model.update(all);
  // s7 gets a second endpoint: its map elements change and it moves to balance-tcp-2, a
  // chain of the skeleton: no chain changes.
  auto change = model.update({{"default/s7", share("s7", 17, {"10.42.0.5", "10.42.0.8"})}});
  auto diff = renderDiff(change.before, change.after);
  EXPECT_FALSE(contains(diff, "chain")) << diff;
  EXPECT_TRUE(contains(diff,
                       "add element ip skiff service-endpoints-tcp { 10.43.0.17 . tcp . 80 . 1 "
                       ": 10.42.0.8 . 8080 }"))
      << diff;
  EXPECT_TRUE(contains(diff,
                       "add element ip skiff service-ips { 10.43.0.17 . tcp . 80 : goto "
                       "balance-tcp-2 }"))
      << diff;
  // 10.42.0.5 still hairpins (99 Services and s7 itself use it): untouched.
  EXPECT_FALSE(contains(diff, "hairpin { 10.42.0.5")) << diff;
  EXPECT_FALSE(contains(diff, "10.43.0.18")) << diff;
  EXPECT_LT(diff.size(), 700u) << diff;
}

TEST(TableModel, SharedItemsGoWithTheirLastUser) {
  TableModel model;
  // 9 endpoints: balance-tcp-9 is not pre-created, the two Services share it.
  std::vector<std::string> nine;
  for (int i = 5; i < 14; ++i) nine.push_back("10.42.0." + std::to_string(i));
  model.update({{"default/a", share("a", 10, nine)}, {"default/b", share("b", 11, nine)}});
  auto change = model.update({{"default/a", {}}});
  auto diff = renderDiff(change.before, change.after);
  EXPECT_FALSE(contains(diff, "balance-tcp-9\n")) << diff;  // b still uses it
  EXPECT_FALSE(contains(diff, "hairpin")) << diff;
  EXPECT_TRUE(contains(diff, "delete element ip skiff service-ips { 10.43.0.10 . tcp . 80 }"));
  change = model.update({{"default/b", {}}});
  diff = renderDiff(change.before, change.after);
  EXPECT_TRUE(contains(diff, "delete chain ip skiff balance-tcp-9\n")) << diff;
  EXPECT_TRUE(contains(diff, "delete element ip skiff hairpin { 10.42.0.5 . 10.42.0.5 }")) << diff;
  EXPECT_EQ(model.services(), 0u);
  EXPECT_TRUE(model.state().chains.empty());
}

TEST(TableModel, UnchangedSharesTouchNothing) {
  TableModel model;
  model.update({{"default/a", share("a", 10, {"10.42.0.5"})}});
  // A periodic resync recomputes every Service; the unchanged ones cost a comparison.
  auto change = model.update({{"default/a", share("a", 10, {"10.42.0.5"})}, {"default/gone", {}}});
  EXPECT_EQ(change.before, NftState{});
  EXPECT_EQ(change.after, NftState{});
  EXPECT_EQ(model.services(), 1u);
}

TEST(TableModel, ConflictingClaimsFallBackToTheRemainingOne) {
  TableModel model;
  NftState a, b;
  a.elements["service-ips"]["192.0.2.1 . tcp . 80"] = "goto external-balance-tcp-1";
  b.elements["service-ips"]["192.0.2.1 . tcp . 80"] = "goto external-balance-tcp-2";
  model.update({{"default/a", a}});
  model.update({{"default/b", b}});
  EXPECT_EQ(model.state().elements["service-ips"]["192.0.2.1 . tcp . 80"],
            "goto external-balance-tcp-1");
  auto change = model.update({{"default/a", {}}});
  EXPECT_EQ(change.after.elements["service-ips"]["192.0.2.1 . tcp . 80"],
            "goto external-balance-tcp-2");
  EXPECT_TRUE(contains(renderDiff(change.before, change.after),
                       "add element ip skiff service-ips { 192.0.2.1 . tcp . 80 : goto "
                       "external-balance-tcp-2 }"));
}

}  // namespace
}  // namespace skiff::proxy
