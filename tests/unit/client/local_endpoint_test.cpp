// RestClient and Watcher over the in-process endpoint of `skiff server` (cli/local_endpoint.h):
// the same answers as over HTTPS, errors as Status, watches that end on the server's timeout
// and stop at once when their owner stops them.
#include "cli/local_endpoint.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "client/informer.h"
#include "client/watch.h"
#include "common/api_error.h"
#include "test_server.h"
#include "watch_test_util.h"

namespace skiff::client {
namespace {

using testing::configMap;
using testing::eventually;
using testing::freshNamespace;
using testing::Recorded;
namespace json = boost::json;

std::shared_ptr<RestClient> localClient() {
  auto config = testing::sharedServer().config();
  config.local = cli::makeLocalEndpoint(*testing::sharedServer().server, "local-test");
  config.server = "https://192.0.2.1:1";  // unreachable: proves no request uses the network
  return std::make_shared<RestClient>(config);
}

int errorCode(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.code();
  }
  return 0;
}

TEST(LocalEndpoint, WritesAndReadsLikeTheNetworkClient) {
  auto c = localClient();
  std::string ns = freshNamespace(*c, "local");
  auto created = c->create(resources::configMaps, ns, configMap("a", "1"));
  EXPECT_FALSE(metaString(created, "uid").empty());
  c->patch(resources::configMaps, ns, "a", PatchType::Merge, json::parse(R"({"data":{"v":"2"}})"));
  // The network client sees the local client's writes: one server, one store.
  auto remote = std::make_shared<RestClient>(testing::sharedServer().config());
  auto got = remote->get(resources::configMaps, ns, "a");
  EXPECT_EQ(got.at("data").at("v"), "2");
  auto list = c->list(resources::configMaps, ns);
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
}

TEST(LocalEndpoint, ErrorsArriveAsApiErrors) {
  auto c = localClient();
  std::string ns = freshNamespace(*c, "local-err");
  EXPECT_EQ(errorCode([&] { c->get(resources::configMaps, ns, "missing"); }), 404);
  c->create(resources::configMaps, ns, configMap("dup", "1"));
  EXPECT_EQ(errorCode([&] { c->create(resources::configMaps, ns, configMap("dup", "1")); }), 409);
  EXPECT_EQ(errorCode([&] {
              c->request("POST", "/api/v1/namespaces/" + ns + "/configmaps", "{not json");
            }),
            400);
  EXPECT_EQ(errorCode([&] { c->request("GET", "no-leading-slash"); }), 400);
  // A watch asked for as a plain request is refused instead of blocking the caller.
  EXPECT_EQ(
      errorCode([&] { c->request("GET", "/api/v1/namespaces/" + ns + "/configmaps?watch=1"); }),
      500);
}

TEST(LocalEndpoint, WatchDeliversEventsAndResumesAfterTheServerTimeout) {
  auto c = localClient();
  std::string ns = freshNamespace(*c, "local-watch");
  Recorded rec;
  WatcherOptions o = testing::watchFromNow(*c, ns, rec, 1);
  Watcher w(*c, resources::configMaps, ns, o);
  c->create(resources::configMaps, ns, configMap("a", "1"));
  c->patch(resources::configMaps, ns, "a", PatchType::Merge, json::parse(R"({"data":{"v":"2"}})"));
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // the first watch has ended
  c->remove(resources::configMaps, ns, "a");
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(rec.get(), (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
}

TEST(LocalEndpoint, WatchStopsPromptlyWhenStopped) {
  auto c = localClient();
  auto start = std::chrono::steady_clock::now();
  {
    WatcherOptions o;
    Watcher w(*c, resources::configMaps, "default", o);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }  // no event and no timeout: only the abort can end the wait
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// In-process watches hand over the server's objects; a resource served in another version
// than it is stored in is still converted for the watcher.
TEST(LocalEndpoint, WatchConvertsObjectsOfAnotherStorageVersion) {
  auto c = localClient();
  std::string ns = freshNamespace(*c, "local-conv");
  Recorded rec;
  const Resource eventsV1{"events.k8s.io", "v1", "events"};
  WatcherOptions o;
  o.list.resourceVersion = metaString(c->list(eventsV1, ns), "resourceVersion");
  o.onEvent = [&](WatchEvent& ev) {
    rec.add(ev.type + " " + std::string(ev.object->at("apiVersion").as_string()) + " " +
            metaString(*ev.object, "name"));
  };
  Watcher w(*c, eventsV1, ns, o);
  c->create(resources::events, ns,
            json::object{
                {"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", json::object{{"name", "e1"}}},
                {"involvedObject", json::object{{"kind", "Pod"}, {"name", "p"}, {"namespace", ns}}},
                {"reason", "Test"},
                {"message", "m"},
                {"type", "Normal"}});
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 1; }));
  EXPECT_EQ(rec.get(), (std::vector<std::string>{"ADDED events.k8s.io/v1 e1"}));
}

TEST(LocalEndpoint, InformerSyncsAndFollowsChanges) {
  auto c = localClient();
  std::string ns = freshNamespace(*c, "local-inf");
  c->create(resources::configMaps, ns, configMap("before", "1"));
  SharedInformer informer(*c, resources::configMaps, ns);
  Recorded rec;
  informer.addEventHandler(rec.informerHandlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(5)));
  c->create(resources::configMaps, ns, configMap("after", "1"));
  c->patch(resources::configMaps, ns, "before", PatchType::Merge,
           json::parse(R"({"data":{"v":"2"}})"));
  c->remove(resources::configMaps, ns, "after");
  ASSERT_TRUE(eventually([&] { return rec.get().size() == 4; }));
  EXPECT_EQ(rec.get(),
            (std::vector<std::string>{"add before", "add after", "update before", "delete after"}));
  auto cached = informer.get(ns + "/before");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->at("data").at("v"), "2");
  informer.stop();
}

TEST(LocalEndpoint, QuietWatchGetsBookmarks) {
  auto c = localClient();
  testing::expectQuietWatchGetsBookmarks(*c);
}

}  // namespace
}  // namespace skiff::client
