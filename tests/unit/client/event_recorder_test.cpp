// EventRecorder writes core/v1 Events and aggregates repeats.
#include "client/event_recorder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>
#include <vector>

#include "test_server.h"

namespace skiff::client {
namespace {

using namespace std::chrono_literals;
using testing::configMap;
using testing::freshNamespace;
using testing::newClient;
namespace json = boost::json;

TEST(EventRecorder, WritesAnEventAboutTheObject) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "events");
  auto cm = c->create(resources::configMaps, ns, configMap("target", "1"));
  EventRecorder rec(*c, "test-controller", "node-1");
  rec.event(cm, kEventTypeWarning, "FailedCreate", "boom");
  ASSERT_TRUE(rec.flush(5s));
  auto list = c->list(resources::events, ns).at("items").as_array();
  ASSERT_EQ(list.size(), 1u);
  const auto& ev = list[0].as_object();
  EXPECT_EQ(ev.at("reason"), "FailedCreate");
  EXPECT_EQ(ev.at("type"), "Warning");
  EXPECT_EQ(ev.at("message"), "boom");
  EXPECT_EQ(ev.at("count").as_int64(), 1);
  EXPECT_EQ(ev.at("involvedObject").at("kind"), "ConfigMap");
  EXPECT_EQ(ev.at("involvedObject").at("uid"), cm.at("metadata").at("uid"));
  EXPECT_EQ(ev.at("source").at("component"), "test-controller");
  EXPECT_EQ(ev.at("source").at("host"), "node-1");
  EXPECT_EQ(metaString(ev, "name").rfind("target.", 0), 0u);
}

TEST(EventRecorder, IdenticalEventsAreAggregatedIntoOneWithCount) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "repeat");
  auto cm = c->create(resources::configMaps, ns, configMap("target", "1"));
  EventRecorder rec(*c, "test-controller");
  rec.event(cm, kEventTypeNormal, "Pulled", "same");
  rec.event(cm, kEventTypeNormal, "Pulled", "same");
  rec.event(cm, kEventTypeNormal, "Started", "other reason");
  ASSERT_TRUE(rec.flush(5s));
  auto items = c->list(resources::events, ns).at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  for (auto& item : items) {
    const auto& ev = item.as_object();
    EXPECT_EQ(ev.at("count").as_int64(), ev.at("reason") == "Pulled" ? 2 : 1) << ev.at("reason");
  }
}

TEST(EventRecorder, ManySimilarEventsAreCombined) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "similar");
  auto cm = c->create(resources::configMaps, ns, configMap("target", "1"));
  EventRecorder rec(*c, "test-controller");
  for (int i = 0; i < 12; ++i)
    rec.event(cm, kEventTypeWarning, "BackOff", "try " + std::to_string(i));
  ASSERT_TRUE(rec.flush(5s));
  auto items = c->list(resources::events, ns).at("items").as_array();
  // 9 distinct events, then one combined Event that the 10th..12th update.
  ASSERT_EQ(items.size(), 10u);
  int combined = 0;
  for (auto& item : items) {
    std::string msg(item.at("message").as_string());
    if (msg.rfind("(combined from similar events): ", 0) == 0) {
      ++combined;
      EXPECT_EQ(item.at("count").as_int64(), 3);
      EXPECT_EQ(msg, "(combined from similar events): try 11");
    }
  }
  EXPECT_EQ(combined, 1);
}

TEST(EventRecorder, ClusterScopedObjectsGetEventsInDefault) {
  auto c = newClient();
  auto node = json::object{{"apiVersion", "v1"},
                           {"kind", "Node"},
                           {"metadata", json::object{{"name", "recorder-node"}, {"uid", "n-uid"}}}};
  EventRecorder rec(*c, "kubelet", "recorder-node");
  rec.event(node, kEventTypeNormal, "Starting", "Starting kubelet.");
  ASSERT_TRUE(rec.flush(5s));
  ListOptions o;
  o.fieldSelector = "involvedObject.name=recorder-node";
  auto items = c->list(resources::events, "default", o).at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].at("reason"), "Starting");
}

// A burst from several threads while the writer gathers its batch: every event is written
// (none is lost between the wake-up and the drain), and flush waits for the last one.
TEST(EventRecorder, BurstFromSeveralThreadsIsWrittenInFull) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "events-burst");
  EventRecorder rec(*c, "test-controller", "node-1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        json::object ref{{"kind", "Pod"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object{{"namespace", ns},
                                                   {"name", "p" + std::to_string(t * 25 + i)},
                                                   {"uid", "u"}}}};
        rec.event(ref, kEventTypeNormal, "Scheduled", "assigned");
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(rec.flush(10s));
  EXPECT_EQ(c->list(resources::events, ns).at("items").as_array().size(), 100u);
}

}  // namespace
}  // namespace skiff::client
