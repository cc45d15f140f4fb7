// Watcher and SharedInformer against a real in-process API server.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>

#include "client/informer.h"
#include "client/watch.h"
#include "test_server.h"
#include "watch_test_util.h"

namespace skiff::client {
namespace {

using testing::configMap;
using testing::eventually;
using testing::freshNamespace;
using testing::newClient;
using testing::Recorded;
namespace json = boost::json;

TEST(Watcher, DeliversAddedModifiedDeleted) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "watch");
  Recorded rec;
  WatcherOptions o = testing::watchFromNow(*c, ns, rec);
  Watcher w(*c, resources::configMaps, ns, o);
  c->create(resources::configMaps, ns, configMap("a", "1"));
  c->patch(resources::configMaps, ns, "a", PatchType::Merge, json::parse(R"({"data":{"v":"2"}})"));
  c->remove(resources::configMaps, ns, "a");
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 3; }));
  EXPECT_EQ(rec.get(), (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
}

TEST(Watcher, ResumesFromLastResourceVersionWhenTheServerEndsTheStream) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "resume");
  Recorded rec;
  WatcherOptions o = testing::watchFromNow(*c, ns, rec, 1);
  Watcher w(*c, resources::configMaps, ns, o);
  c->create(resources::configMaps, ns, configMap("before", "1"));
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // past the first timeout
  c->create(resources::configMaps, ns, configMap("after", "1"));
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Nothing replayed twice across the re-watch.
  EXPECT_EQ(rec.get(), (std::vector<std::string>{"ADDED before", "ADDED after"}));
}

// A quiet watch that reaches its timeout is re-opened at once, not after the error backoff
// (0.8 s and growing): an event right after the timeout arrives without that delay.
TEST(Watcher, QuietWatchReopensWithoutBackoff) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "quiet");
  Recorded rec;
  WatcherOptions o = testing::watchFromNow(*c, ns, rec, 1);
  Watcher w(*c, resources::configMaps, ns, o);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the first watch ended empty
  auto created = std::chrono::steady_clock::now();
  c->create(resources::configMaps, ns, configMap("late", "1"));
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - created, std::chrono::milliseconds(500));
}

// A watch from an old resourceVersion gets its whole backlog in one drain; the server sends
// it as a few large HTTP chunks (up to 64 KB each). Every event arrives once, in order.
TEST(Watcher, BacklogSpanningSeveralStreamChunksArrivesWholeAndInOrder) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "backlog");
  std::string from = metaString(c->list(resources::configMaps, ns), "resourceVersion");
  const int count = 200;  // ~1.2 KB each: about four 64 KB chunks
  std::vector<std::string> want;
  for (int i = 0; i < count; ++i) {
    want.push_back("ADDED cm-" + std::to_string(i));
    c->create(resources::configMaps, ns,
              configMap("cm-" + std::to_string(i), std::string(1000, 'x')));
  }
  Recorded rec;
  WatcherOptions o;
  o.list.resourceVersion = from;
  o.onEvent = rec.handler();
  Watcher w(*c, resources::configMaps, ns, o);
  ASSERT_TRUE(eventually([&] { return rec.get().size() >= static_cast<size_t>(count); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(rec.get(), want);
}

TEST(Watcher, StopsPromptlyOnDestroy) {
  auto c = newClient();
  auto start = std::chrono::steady_clock::now();
  {
    WatcherOptions o;
    Watcher w(*c, resources::configMaps, "default", o);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

json::object pod(const std::string& name, const std::string& node, const std::string& ownerUid,
                 const std::string& app) {
  json::object meta{{"name", name}, {"labels", json::object{{"app", app}}}};
  if (!ownerUid.empty())
    meta["ownerReferences"] = json::array{json::object{
        {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", ownerUid}}};
  json::object spec{{"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}};
  if (!node.empty()) spec["nodeName"] = node;
  return json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
}

TEST(SharedInformer, SyncsThenDeliversHandlersAndIndexes) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "informer");
  c->create(resources::pods, ns, pod("p1", "node-a", "uid-1", "web"));
  c->create(resources::pods, ns, pod("p2", "node-b", "uid-1", "db"));

  SharedInformer inf(*c, resources::pods, ns);
  inf.addIndexer(kIndexNamespace, indexByNamespace);
  inf.addIndexer(kIndexNodeName, indexByNodeName);
  inf.addIndexer(kIndexOwnerUid, indexByOwnerUid);
  inf.addIndexer(kIndexLabel, indexByLabel);
  Recorded rec;
  inf.addEventHandler(rec.informerHandlers());
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  EXPECT_EQ(inf.list().size(), 2u);
  EXPECT_EQ(inf.get(ns + "/p1")->at("kind"), "Pod");  // list items get their kind back
  EXPECT_EQ(inf.byIndex(kIndexNamespace, ns).size(), 2u);
  EXPECT_EQ(inf.byIndex(kIndexNodeName, "node-a").size(), 1u);
  EXPECT_EQ(inf.byIndex(kIndexOwnerUid, "uid-1").size(), 2u);
  ASSERT_EQ(inf.byIndex(kIndexLabel, "app=db").size(), 1u);
  EXPECT_EQ(metaString(*inf.byIndex(kIndexLabel, "app=db")[0], "name"), "p2");

  c->create(resources::pods, ns, pod("p3", "node-a", "", "web"));
  c->patch(resources::pods, ns, "p1", PatchType::Merge,
           json::parse(R"({"metadata":{"labels":{"app":"db"}}})"));
  c->remove(resources::pods, ns, "p2", json::object{{"gracePeriodSeconds", 0}});
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 5; }));
  EXPECT_EQ(rec.get(),
            (std::vector<std::string>{"add p1", "add p2", "add p3", "update p1", "delete p2"}));
  // Indices follow updates and deletes.
  EXPECT_EQ(inf.byIndex(kIndexNodeName, "node-a").size(), 2u);
  EXPECT_EQ(inf.byIndex(kIndexLabel, "app=db").size(), 1u);
  EXPECT_EQ(inf.byIndex(kIndexLabel, "app=web").size(), 1u);
  EXPECT_TRUE(inf.byIndex(kIndexNodeName, "node-b").empty());
}

TEST(Indexers, OrphanNamespaceHoldsOnlyObjectsWithoutAController) {
  json::object orphan = pod("o", "", "", "web");
  orphan["metadata"].as_object()["namespace"] = "ns1";
  EXPECT_EQ(indexOrphansByNamespace(orphan), std::vector<std::string>{"ns1"});
  // An owner that is not the controller (no controller: true) leaves the pod an orphan.
  json::object owned = pod("p", "", "uid-1", "web");
  owned["metadata"].as_object()["namespace"] = "ns1";
  EXPECT_EQ(indexOrphansByNamespace(owned), std::vector<std::string>{"ns1"});
  owned["metadata"].as_object()["ownerReferences"].as_array()[0].as_object()["controller"] = true;
  EXPECT_TRUE(indexOrphansByNamespace(owned).empty());
  owned["metadata"].as_object()["ownerReferences"].as_array()[0].as_object()["controller"] = false;
  EXPECT_EQ(indexOrphansByNamespace(owned), std::vector<std::string>{"ns1"});
  EXPECT_TRUE(indexOrphansByNamespace(json::object{{"kind", "Pod"}}).empty());
}

TEST(SharedInformer, LateHandlerGetsCurrentObjectsAsAdds) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "late");
  c->create(resources::configMaps, ns, configMap("a", "1"));
  SharedInformer inf(*c, resources::configMaps, ns);
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  Recorded rec;
  inf.addEventHandler({.onAdd = [&](const json::object& o) { rec.add(metaString(o, "name")); }});
  EXPECT_EQ(rec.get(), (std::vector<std::string>{"a"}));
}

TEST(SharedInformer, FieldSelectorLimitsTheCache) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "fieldsel");
  c->create(resources::pods, ns, pod("mine", "node-x", "", "a"));
  c->create(resources::pods, ns, pod("other", "node-y", "", "a"));
  ListOptions sel;
  sel.fieldSelector = "spec.nodeName=node-x";
  SharedInformer inf(*c, resources::pods, ns, sel);
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  ASSERT_EQ(inf.list().size(), 1u);
  EXPECT_EQ(metaString(*inf.list()[0], "name"), "mine");
}

TEST(SharedInformer, RelistEmitsTheDifferenceLikeReplace) {
  auto c = newClient();
  SharedInformer inf(*c, resources::configMaps, "unused");
  Recorded rec;
  inf.addEventHandler(rec.informerHandlers());
  auto obj = [](const std::string& name, const std::string& rv) {
    return std::make_shared<const json::object>(json::object{
        {"metadata", json::object{{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}});
  };
  inf.replace({obj("keep", "1"), obj("change", "1"), obj("gone", "1")}, "10");
  EXPECT_TRUE(inf.hasSynced());
  rec.events.clear();
  inf.replace({obj("keep", "1"), obj("change", "7"), obj("new", "8")}, "20");
  auto events = rec.get();
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{"add new", "delete gone", "update change"}));
  EXPECT_EQ(inf.lastSyncResourceVersion(), "20");
  EXPECT_FALSE(inf.get("ns/gone"));
  EXPECT_EQ(inf.list().size(), 3u);
}

TEST(SharedInformerFactory, SharesOneInformerPerResource) {
  auto c = newClient();
  SharedInformerFactory f(*c);
  auto& a = f.informer(resources::namespaces);
  auto& b = f.informer(resources::namespaces);
  auto& other = f.informer(resources::configMaps, "default");
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  f.start();
  ASSERT_TRUE(f.waitForCacheSync(std::chrono::seconds(5)));
  EXPECT_TRUE(a.get("default"));
}

TEST(Watcher, QuietWatchGetsBookmarks) {
  auto c = newClient();
  testing::expectQuietWatchGetsBookmarks(*c);
}

}  // namespace
}  // namespace skiff::client
