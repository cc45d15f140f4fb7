// YAML → JSON limits: alias expansion (billion laughs) and nesting are refused with a 400
// before anything large is built; ordinary aliases still expand.
#include "api/yaml_json.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <chrono>

#include "common/api_error.h"

namespace skiff::api {
namespace {

std::string billionLaughs(int levels) {
  std::string doc =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  char prev = 'a';
  for (int i = 1; i < levels; ++i) {
    char name = static_cast<char>('a' + i);
    doc += std::string(1, name) + ": &" + name + " [";
    for (int j = 0; j < 9; ++j) doc += std::string(j ? "," : "") + "*" + prev;
    doc += "]\n";
    prev = name;
  }
  return doc;
}

long maxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(YamlJson, BillionLaughsIsRefusedFastWithBoundedMemory) {
  long rssBefore = maxRssKb();
  auto start = std::chrono::steady_clock::now();
  try {
    yamlToJson(billionLaughs(9));  // 9^9 ≈ 387 million strings when expanded
    FAIL() << "expected a 400";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_EQ(e.reason(), "BadRequest");
    EXPECT_NE(std::string(e.what()).find("excessive aliasing"), std::string::npos) << e.what();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_LT(ms, 200);
  EXPECT_LT(maxRssKb() - rssBefore, 20 * 1024);  // KB: far from the gigabytes of an expansion
}

TEST(YamlJson, OrdinaryAliasesStillExpand) {
  auto v = yamlToJson(
      "base: &labels {app: web, tier: front}\n"
      "copy: *labels\n"
      "list: [*labels, *labels]\n");
  EXPECT_EQ(v.at("copy").at("app").as_string(), "web");
  EXPECT_EQ(v.at("list").as_array().size(), 2u);
  EXPECT_EQ(v.at("list").at(1).at("tier").as_string(), "front");
  // A moderately aliased document (below go-yaml's 400,000-node floor) is fine too.
  auto small = yamlToJson(billionLaughs(4));  // 9^4 = 6,561 strings
  EXPECT_EQ(small.at("d").as_array().size(), 9u);
}

TEST(YamlJson, DeepNestingIsRefused) {
  std::string deep = "a: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  try {
    yamlToJson(deep);
    FAIL() << "expected a 400";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
  }
  std::string ok = "a: " + std::string(50, '[') + std::string(50, ']') + "\n";
  EXPECT_NO_THROW(yamlToJson(ok));
}

}  // namespace
}  // namespace skiff::api
