// Watch streams: the lines each watcher gets, with the event text shared between watchers.
#include "apiserver/watch_stream.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class WatchStreamTest : public testing::ResourceStoreFixture {
 protected:
  std::shared_ptr<StreamSource> watch(WatchOptions options) {
    options.ns = "default";
    auto stream = startWatch(resources, info("configmaps"), options);
    stream->start([] {});
    return stream;
  }
  // Every line queued so far, parsed.
  std::vector<json::object> drain(StreamSource& stream) {
    caches.syncWithStore();
    std::vector<std::string> lines;
    EXPECT_TRUE(stream.drain(lines));
    std::vector<json::object> events;
    for (const auto& line : lines) {
      EXPECT_EQ(line.back(), '\n');
      events.push_back(json::parse(line).as_object());
    }
    return events;
  }
  json::object write(const std::string& body, bool update = false) {
    RequestContext ctx;
    auto obj = json::parse(body).as_object();
    if (!update) return *resources.create(info("configmaps"), "default", std::move(obj), ctx);
    return *resources.update(info("configmaps"), "default", "web", "", std::move(obj), ctx);
  }
};

TEST_F(WatchStreamTest, WatchersOfOneEventGetTheSameObjectText) {
  WatchOptions all;
  all.resourceVersion = std::to_string(store->currentRevision());
  WatchOptions selected = all;
  selected.labelSelector = "app=web";
  auto everything = watch(all);
  auto webOnly = watch(selected);

  write(R"({"metadata":{"name":"web","labels":{"app":"web"}},"data":{"k":"1"}})");
  // Dropping the label: still there for the first watcher, gone for the selecting one.
  write(R"({"metadata":{"name":"web","labels":{"app":"other"}},"data":{"k":"2"}})", true);

  auto a = drain(*everything);
  auto b = drain(*webOnly);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].at("type"), "ADDED");
  EXPECT_EQ(a[1].at("type"), "MODIFIED");
  EXPECT_EQ(b[0].at("type"), "ADDED");
  EXPECT_EQ(b[1].at("type"), "DELETED");
  EXPECT_EQ(a[0].at("object"), b[0].at("object"));
  EXPECT_EQ(a[1].at("object"), b[1].at("object"));
  const auto& last = a[1].at("object").as_object();
  EXPECT_EQ(last.at("data").at("k"), "2");
  EXPECT_EQ(last.at("metadata").at("resourceVersion").as_string(),
            std::to_string(store->currentRevision()));
}

TEST_F(WatchStreamTest, ReplayedAndTableEventsAreEncodedPerWatcher) {
  auto first = write(R"({"metadata":{"name":"web"},"data":{"k":"1"}})");
  write(R"({"metadata":{"name":"web"},"data":{"k":"2"}})", true);
  caches.syncWithStore();

  WatchOptions replay;  // from the first write on: the update comes out of the history
  replay.resourceVersion = std::string(first.at("metadata").at("resourceVersion").as_string());
  auto replayed = drain(*watch(replay));
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].at("type"), "MODIFIED");
  EXPECT_EQ(replayed[0].at("object").at("data").at("k"), "2");

  WatchOptions table;
  table.resourceVersion = std::to_string(store->currentRevision());
  table.table = true;
  auto tables = watch(table);
  write(R"({"metadata":{"name":"web"},"data":{"k":"3"}})", true);
  auto rows = drain(*tables);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("object").at("kind"), "Table");
  EXPECT_EQ(rows[0].at("object").at("rows").as_array().size(), 1u);
}

}  // namespace
}  // namespace skiff::apiserver
