#include "api/merge_patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"

namespace skiff::api {
namespace {

boost::json::value j(std::string_view s) { return boost::json::parse(s); }

boost::json::value apply(std::string_view doc, std::string_view patch) {
  return applyMergePatch(j(doc), j(patch));
}

TEST(MergePatch, NullDeletesMember) {
  EXPECT_EQ(apply(R"({"a":"b","c":"d"})", R"({"a":null})"), j(R"({"c":"d"})"));
}

TEST(MergePatch, ObjectsMergeRecursively) {
  EXPECT_EQ(apply(R"({"a":{"b":"c","d":"e"}})", R"({"a":{"b":"x","f":{"g":1}}})"),
            j(R"({"a":{"b":"x","d":"e","f":{"g":1}}})"));
}

TEST(MergePatch, ArraysAreReplaced) {
  EXPECT_EQ(apply(R"({"a":[1,2,3]})", R"({"a":[4]})"), j(R"({"a":[4]})"));
}

TEST(MergePatch, ScalarsAreReplaced) {
  EXPECT_EQ(apply(R"({"a":{"b":1}})", R"({"a":"flat"})"), j(R"({"a":"flat"})"));
  EXPECT_EQ(apply(R"({"a":"flat"})", R"({"a":{"b":1}})"), j(R"({"a":{"b":1}})"));
}

TEST(MergePatch, NullsInsideInsertedObjectsAreDropped) {
  EXPECT_EQ(apply(R"({})", R"({"a":{"bb":{"ccc":null},"x":[{"y":null}]}})"),
            j(R"({"a":{"bb":{},"x":[{}]}})"));
}

TEST(MergePatch, DeletingMissingMemberChangesNothing) {
  EXPECT_EQ(apply(R"({"a":1})", R"({"b":null})"), j(R"({"a":1})"));
}

// RFC 7386 appendix A, for the cases whose target and patch are objects.
TEST(MergePatch, Rfc7386AppendixExamples) {
  struct Case {
    const char *target, *patch, *result;
  } cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(apply(c.target, c.patch), j(c.result)) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, ArrayPatchReplacesDocument) {
  EXPECT_EQ(apply(R"({"a":"b"})", R"(["c"])"), j(R"(["c"])"));
}

TEST(MergePatch, NullPatchIsBadRequest) {
  try {
    apply(R"({"a":1})", "null");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_STREQ(e.what(), "Invalid JSON Patch");
  }
}

TEST(MergePatch, ScalarPatchIsBadRequest) {
  EXPECT_THROW(apply(R"({"a":1})", R"("x")"), ApiError);
  EXPECT_THROW(apply(R"({"a":1})", "3"), ApiError);
}

TEST(MergePatch, NonObjectDocumentIsReplacedByPatch) {
  EXPECT_EQ(apply(R"(["a"])", R"({"a":"b","c":null})"), j(R"({"a":"b"})"));
}

TEST(CreateMergePatch, DescribesAdditionsChangesAndRemovals) {
  EXPECT_EQ(createMergePatch(j(R"({"a":1,"b":{"c":2,"d":3},"e":[1]})"),
                             j(R"({"a":1,"b":{"c":5},"e":[2],"f":"new"})")),
            j(R"({"b":{"d":null,"c":5},"e":[2],"f":"new"})"));
}

TEST(CreateMergePatch, IdenticalDocumentsGiveEmptyPatch) {
  EXPECT_EQ(createMergePatch(j(R"({"a":{"b":[1,2]}})"), j(R"({"a":{"b":[1,2]}})")), j("{}"));
}

TEST(CreateMergePatch, AppliedPatchReproducesModified) {
  auto original =
      j(R"({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"replicas":1,"x":{"y":1}}})");
  auto modified =
      j(R"({"metadata":{"labels":{"a":"9"}},"spec":{"replicas":3,"x":"flat"},"status":{}})");
  EXPECT_EQ(applyMergePatch(original, createMergePatch(original, modified)), modified);
}

}  // namespace
}  // namespace skiff::api
