// Indexer: updates move a key between index values only where they changed; unchanged
// values keep it, removals drop it, and nothing stale is left behind.
#include "client/indexer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::client {
namespace {

namespace json = boost::json;

ObjectPtr pod(const std::string& name, const std::string& node, const std::string& app,
              const std::string& phase) {
  json::object spec;
  if (!node.empty()) spec["nodeName"] = node;
  return std::make_shared<const json::object>(json::object{
      {"metadata",
       json::object{{"name", name}, {"namespace", "ns"}, {"labels", json::object{{"app", app}}}}},
      {"spec", spec},
      {"status", json::object{{"phase", phase}}}});
}

size_t count(const Indexer& ix, const std::string& index, const std::string& value) {
  return ix.byIndex(index, value).size();
}

TEST(Indexer, UpdatesMoveKeysOnlyBetweenChangedValues) {
  Indexer ix;
  ix.addIndexer(kIndexNodeName, indexByNodeName);
  ix.addIndexer(kIndexLabel, indexByLabel);
  EXPECT_EQ(ix.upsert(pod("a", "", "web", "Pending")), nullptr);
  EXPECT_EQ(count(ix, kIndexNodeName, "n1"), 0u);
  EXPECT_EQ(count(ix, kIndexLabel, "app=web"), 1u);

  auto old = ix.upsert(pod("a", "n1", "web", "Pending"));  // bound
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(count(ix, kIndexNodeName, "n1"), 1u);
  EXPECT_EQ(count(ix, kIndexLabel, "app=web"), 1u);

  ix.upsert(pod("a", "n1", "web", "Running"));  // status only: every index value unchanged
  auto onNode = ix.byIndex(kIndexNodeName, "n1");
  ASSERT_EQ(onNode.size(), 1u);
  EXPECT_EQ(onNode[0]->at("status").at("phase"), "Running");  // the index returns the new object

  ix.upsert(pod("a", "n1", "db", "Running"));  // relabelled
  EXPECT_EQ(count(ix, kIndexLabel, "app=web"), 0u);
  EXPECT_EQ(count(ix, kIndexLabel, "app=db"), 1u);

  ix.remove("ns/a");
  EXPECT_EQ(count(ix, kIndexNodeName, "n1"), 0u);
  EXPECT_EQ(count(ix, kIndexLabel, "app=db"), 0u);
  EXPECT_EQ(ix.size(), 0u);
}

TEST(Indexer, ByIndexWithKeysPairsEachObjectWithItsKey) {
  Indexer ix;
  ix.addIndexer(kIndexNodeName, indexByNodeName);
  ix.upsert(pod("a", "n1", "web", "Running"));
  ix.upsert(pod("b", "n1", "web", "Pending"));
  ix.upsert(pod("c", "n2", "web", "Running"));
  auto onNode = ix.byIndexWithKeys(kIndexNodeName, "n1");
  ASSERT_EQ(onNode.size(), 2u);
  for (auto& [key, obj] : onNode)
    EXPECT_EQ(key, "ns/" + std::string(obj->at("metadata").at("name").as_string()));
  EXPECT_TRUE(ix.byIndexWithKeys(kIndexNodeName, "n3").empty());
  EXPECT_TRUE(ix.byIndexWithKeys("no-such-index", "n1").empty());
}

}  // namespace
}  // namespace skiff::client
