// etcd_request_duration_seconds from the metering Store decorator.
#include "storage/metered_store.h"

#include <gtest/gtest.h>

#include "../common/metrics_test_util.h"
#include "common/metrics.h"

namespace skiff::storage {
namespace {

using skiff::testing::sampleValue;

TEST(MeteredStore, ResourceOfKeyNamesTheResourceAsUpstream) {
  EXPECT_EQ(resourceOfKey("/registry/core/pods/default/web"), "pods");
  EXPECT_EQ(resourceOfKey("/registry/apps/deployments/ns/x"), "deployments.apps");
  EXPECT_EQ(resourceOfKey("/registry/core/namespaces/"), "namespaces");
  EXPECT_EQ(resourceOfKey("/registry/core/nodes"), "nodes");
  EXPECT_EQ(resourceOfKey("/registry/"), "");
  EXPECT_EQ(resourceOfKey("/other/core/pods/x"), "");
}

TEST(MeteredStore, TimesEachOperationByOperationAndType) {
  auto store = meterStore(openMemoryStore());
  auto count = [](const std::string& op, const std::string& type) {
    return sampleValue(Metrics::global().render(),
                       "etcd_request_duration_seconds_count{operation=\"" + op + "\",type=\"" +
                           type + "\"}")
        .value_or(0);
  };
  double creates = count("create", "widgets.example.com"),
         gets = count("get", "widgets.example.com");
  double lists = count("list", "widgets.example.com"),
         updates = count("update", "widgets.example.com");
  double deletes = count("delete", "widgets.example.com");
  auto w = store->create("/registry/example.com/widgets/ns/a", "{}");
  ASSERT_TRUE(w.succeeded);
  ASSERT_TRUE(store->get("/registry/example.com/widgets/ns/a"));
  auto r =
      store->range("/registry/example.com/widgets/", prefixEnd("/registry/example.com/widgets/"));
  EXPECT_EQ(r.kvs.size(), 1u);
  auto u = store->update("/registry/example.com/widgets/ns/a", "{\"a\":1}", w.revision);
  ASSERT_TRUE(u.succeeded);
  EXPECT_TRUE(store->remove("/registry/example.com/widgets/ns/a").succeeded);
  EXPECT_EQ(count("create", "widgets.example.com"), creates + 1);
  EXPECT_EQ(count("get", "widgets.example.com"), gets + 1);
  EXPECT_EQ(count("list", "widgets.example.com"), lists + 1);
  EXPECT_EQ(count("update", "widgets.example.com"), updates + 1);
  EXPECT_EQ(count("delete", "widgets.example.com"), deletes + 1);
  std::string text = Metrics::global().render();
  EXPECT_NE(text.find("# TYPE etcd_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("etcd_request_duration_seconds_bucket{operation=\"create\",type=\"widgets."
                      "example.com\",le=\"60\"}"),
            std::string::npos);
  // A range over all of /registry/ names no resource: not timed, no empty type label.
  store->range("/registry/", prefixEnd("/registry/"));
  EXPECT_EQ(Metrics::global().render().find("type=\"\""), std::string::npos);
}

}  // namespace
}  // namespace skiff::storage
