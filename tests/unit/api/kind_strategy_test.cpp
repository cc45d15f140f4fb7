// The built-in kind strategies (src/api/kinds/): each names a kind the registry serves, once,
// and the lookup finds it by group and kind only.
#include "api/kind_strategy.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "api/resource_registry.h"

using skiff::api::builtinKindStrategies;
using skiff::api::kindStrategy;
using skiff::api::ResourceRegistry;

TEST(KindStrategy, EveryStrategyIsABuiltinKindListedOnce) {
  std::set<std::string> served, seen;
  for (const auto& r : ResourceRegistry::builtin().all()) served.insert(r.group + "/" + r.kind);
  for (const auto& s : builtinKindStrategies()) {
    std::string key = std::string(s.group) + "/" + std::string(s.kind);
    EXPECT_TRUE(served.count(key))
        << key << " is not a built-in resource (typo in its group or kind?)";
    EXPECT_TRUE(seen.insert(key).second) << key << " is listed twice";
  }
}

TEST(KindStrategy, LookupByGroupAndKind) {
  const auto* pod = kindStrategy("", "Pod");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->kind, "Pod");
  EXPECT_TRUE(pod->gracefulDeletion);
  ASSERT_NE(kindStrategy("batch", "Job"), nullptr);
  EXPECT_TRUE(kindStrategy("batch", "Job")->orphansByDefault);
  // The group is part of the key: a custom resource named like a built-in kind has none.
  EXPECT_EQ(kindStrategy("example.com", "Pod"), nullptr);
  EXPECT_EQ(kindStrategy("", "NoSuchKind"), nullptr);
}
