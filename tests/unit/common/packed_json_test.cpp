// Packed objects equal their source, stay usable as ordinary boost::json values (copies and
// changes of them allocate elsewhere), and take less memory than a node-by-node copy.
#include "common/packed_json.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <boost/json.hpp>
#include <thread>
#include <vector>

namespace skiff {
namespace {
namespace json = boost::json;

json::object samplePod(int i) {
  std::string name = "web-7d4b9c6f5d-" + std::to_string(i);
  return json::parse(
             R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
             R"(","namespace":"default","labels":{"app":"web","pod-template-hash":"7d4b9c6f5d"},
      "annotations":{"a-rather-long-annotation-key.example.com/with-a-path":"and a value longer than the small buffer"},
      "resourceVersion":"12345"},
      "spec":{"containers":[{"name":"c","image":"registry.example.com/team/app:1.2.3",
        "args":["--port","8080","--verbose"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}],
        "nodeName":"node-0042","priority":0,"terminationGracePeriodSeconds":30,"ratio":0.25,
        "flags":[true,false,null],"big":18446744073709551615},
      "status":{"phase":"Running","podIPs":[{"ip":"10.42.0.7"}]}})")
      .as_object();
}

TEST(PackedJson, EqualsItsSourceAndSerializesTheSame) {
  json::object src = samplePod(1);
  auto packed = packJson(src);
  ASSERT_TRUE(packed);
  EXPECT_EQ(*packed, src);
  EXPECT_EQ(json::serialize(*packed), json::serialize(src));
  EXPECT_EQ(packed->at("spec").at("big").kind(), json::kind::uint64);
  EXPECT_GT(packedJsonBytes(src), 0u);
}

TEST(PackedJson, CopiesAndChangesOfAPackedObjectWork) {
  auto packed = packJson(samplePod(2));
  json::object copy = *packed;  // keeps the packed object's resource
  copy["metadata"].as_object()["name"] = "a-new-name-that-is-longer-than-the-old-one-for-sure";
  copy["spec"].as_object()["containers"].as_array().emplace_back(json::object{{"name", "d"}});
  copy["metadata"].as_object().erase("annotations");
  EXPECT_EQ(packed->at("metadata").at("name").as_string(), "web-7d4b9c6f5d-2");
  EXPECT_EQ(packed->at("spec").at("containers").as_array().size(), 1u);
  EXPECT_TRUE(packed->at("metadata").as_object().contains("annotations"));
  EXPECT_EQ(copy.at("spec").at("containers").as_array().size(), 2u);
  // The copy outlives the packed object.
  packed.reset();
  EXPECT_EQ(copy.at("spec").at("nodeName").as_string(), "node-0042");
}

TEST(PackedJson, CopiedFromManyThreadsAtOnce) {
  auto packed = packJson(samplePod(3));
  std::vector<std::thread> threads;
  std::atomic<int> equal{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        json::object copy = *packed;
        copy["status"].as_object()["phase"] = "Succeeded";
        if (copy.at("spec") == packed->at("spec")) ++equal;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(equal.load(), 2000);
  EXPECT_EQ(packed->at("status").at("phase").as_string(), "Running");
}

TEST(PackedJson, BytesAliveCountBlocksUntilTheLastHolderGoes) {
  json::object src = samplePod(2);
  const size_t block = packedJsonBytes(src);
  const size_t before = packedJsonBytesAlive();
  auto packed = packJson(src);
  EXPECT_EQ(packedJsonBytesAlive(), before + block);
  // A copy of a packed object keeps the block alive (it shares the resource).
  auto copy = std::make_unique<json::object>(*packed);
  packed.reset();
  EXPECT_EQ(packedJsonBytesAlive(), before + block);
  copy.reset();
  EXPECT_EQ(packedJsonBytesAlive(), before);
}

TEST(PackedJson, TakesLessHeapThanANodeByNodeCopy) {
  constexpr int kObjects = 200;
  std::vector<json::object> sources;
  for (int i = 0; i < kObjects; ++i) sources.push_back(samplePod(i));
  auto heap = [] { return mallinfo2().uordblks; };
  std::vector<std::shared_ptr<const json::object>> plain, packed;
  size_t before = heap();
  for (auto& s : sources) plain.push_back(std::make_shared<const json::object>(s));
  size_t plainBytes = heap() - before;
  before = heap();
  for (auto& s : sources) packed.push_back(packJson(s));
  size_t packedBytes = heap() - before;
  if (plainBytes == 0) GTEST_SKIP() << "malloc statistics unavailable (valgrind?)";
  EXPECT_LT(packedBytes, plainBytes * 9 / 10) << plainBytes << " vs " << packedBytes;
}

}  // namespace
}  // namespace skiff
