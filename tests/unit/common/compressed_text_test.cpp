// Compressed texts give back exactly what went in, whatever the dictionary they were made
// with, and texts of one kind compress far better against each other than alone.
#include "common/compressed_text.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace skiff {
namespace {

// A pod as a density ReplicaSet makes them: the same shape, different names, uid, node, IP.
std::string pod(int i) {
  std::string n = std::to_string(i);
  return R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"density-7-58796d6b6d-)" + n +
         R"(","generateName":"density-7-58796d6b6d-","namespace":"density","uid":"ec173f77-8849-45af-)" +
         std::to_string(100000 + i * 7919) +
         R"(","labels":{"app":"density-7","pod-template-hash":"58796d6b6d"},"managedFields":[{"manager":"skiff","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}},"f:podIP":{}}}}]},"spec":{"containers":[{"name":"c","image":"busybox:1.36","command":["sleep","3600"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}],"nodeName":"density-)" +
         std::to_string(i % 1000) +
         R"(","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},"status":{"phase":"Running","podIP":"10.66.)" +
         std::to_string(i % 250) + "." + std::to_string(i % 200 + 2) + R"("}})";
}

TEST(CompressedText, RoundTripsEveryText) {
  TextCompressor c(/*rotateEvery=*/3);
  std::vector<std::string> texts = {pod(1),
                                    "",
                                    "x",
                                    pod(2),
                                    std::string(100000, 'a') + "b",
                                    pod(3),
                                    pod(4),
                                    "{\"kind\":\"Event\"}",
                                    pod(5)};
  std::vector<std::shared_ptr<const CompressedText>> kept;
  for (const auto& t : texts) kept.push_back(c.compress(t));
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(kept[i]->text(), texts[i]) << i;
    EXPECT_EQ(kept[i]->size(), texts[i].size());
  }
  // Rotation every 3 texts: not all were made with the first dictionary.
  EXPECT_NE(kept.front()->dictionary(), kept.back()->dictionary());
}

TEST(CompressedText, ALargeFirstTextIsNoDictionary) {
  TextCompressor c;
  std::string big(TextCompressor::kMaxDictionary + 1, 'z');
  auto first = c.compress(big);
  EXPECT_EQ(first->dictionary(), nullptr);
  EXPECT_EQ(first->text(), big);
  auto second = c.compress(pod(1));
  ASSERT_NE(second->dictionary(), nullptr);
  EXPECT_EQ(second->dictionary()->content, pod(1));
  EXPECT_EQ(second->text(), pod(1));
}

TEST(CompressedText, SimilarTextsShrinkAgainstTheDictionary) {
  TextCompressor c;
  size_t text = 0, kept = 0;
  for (int i = 1; i <= 200; ++i) {
    auto t = pod(i);
    text += t.size();
    kept += c.compress(t)->compressedBytes();
  }
  // Alone, zstd makes such a text about 2.5x smaller; against a sibling, over 5x.
  EXPECT_LT(kept * 5, text) << kept << " of " << text;
}

TEST(CompressedText, DecompressesOnManyThreads) {
  TextCompressor c;
  std::vector<std::shared_ptr<const CompressedText>> kept;
  for (int i = 0; i < 50; ++i) kept.push_back(c.compress(pod(i)));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (kept[i]->text() != pod(i)) ++wrong;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace skiff
