#include "api/json_patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/patch_error.h"

namespace skiff::api {
namespace {

boost::json::value j(std::string_view s) { return boost::json::parse(s); }

boost::json::value apply(std::string_view doc, std::string_view patch) {
  return applyJsonPatch(j(doc), j(patch));
}

// The detail of the 422 a patch fails with.
std::string applyFailure(std::string_view doc, std::string_view patch) {
  try {
    apply(doc, patch);
  } catch (const PatchApplyError& e) {
    EXPECT_EQ(e.code(), 422);
    EXPECT_EQ(e.reason(), "Invalid");
    EXPECT_STREQ(e.what(), "the server rejected our request due to an error in our request");
    return e.detail();
  }
  ADD_FAILURE() << "patch applied: " << patch;
  return "";
}

int errorCode(std::string_view doc, std::string_view patch) {
  try {
    apply(doc, patch);
  } catch (const ApiError& e) {
    return e.code();
  }
  return 0;
}

// RFC 6902 appendix A examples.

TEST(JsonPatch, AddsObjectMember) {
  EXPECT_EQ(apply(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
            j(R"({"foo":"bar","baz":"qux"})"));
}

TEST(JsonPatch, AddsArrayElementAtIndex) {
  EXPECT_EQ(apply(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            j(R"({"foo":["bar","qux","baz"]})"));
}

TEST(JsonPatch, RemovesObjectMember) {
  EXPECT_EQ(apply(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"),
            j(R"({"foo":"bar"})"));
}

TEST(JsonPatch, RemovesArrayElement) {
  EXPECT_EQ(apply(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
            j(R"({"foo":["bar","baz"]})"));
}

TEST(JsonPatch, ReplacesValue) {
  EXPECT_EQ(
      apply(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
      j(R"({"baz":"boo","foo":"bar"})"));
}

TEST(JsonPatch, MovesValue) {
  EXPECT_EQ(apply(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                  R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            j(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
}

TEST(JsonPatch, MovesArrayElement) {
  EXPECT_EQ(apply(R"({"foo":["all","grass","cows","eat"]})",
                  R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            j(R"({"foo":["all","cows","eat","grass"]})"));
}

TEST(JsonPatch, TestThatHoldsChangesNothing) {
  EXPECT_EQ(
      apply(
          R"({"baz":"qux","foo":["a",2,"c"]})",
          R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])"),
      j(R"({"baz":"qux","foo":["a",2,"c"]})"));
}

TEST(JsonPatch, FailedTestIsInvalid) {
  EXPECT_EQ(applyFailure(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"),
            "testing value /baz failed");
}

TEST(JsonPatch, AddsNestedMember) {
  EXPECT_EQ(
      apply(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
      j(R"({"foo":"bar","child":{"grandchild":{}}})"));
}

TEST(JsonPatch, IgnoresUnknownOperationMembers) {
  EXPECT_EQ(apply(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            j(R"({"foo":"bar","baz":"qux"})"));
}

TEST(JsonPatch, AddingUnderMissingParentIsInvalid) {
  EXPECT_EQ(applyFailure(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"),
            "add operation does not apply: doc is missing path: \"/baz/bat\"");
}

TEST(JsonPatch, DecodesPointerEscapes) {
  EXPECT_EQ(
      apply(R"({"/":9,"~1":10})",
            R"([{"op":"test","path":"/~01","value":10},{"op":"replace","path":"/~1","value":1}])"),
      j(R"({"/":1,"~1":10})"));
}

TEST(JsonPatch, StringDoesNotEqualNumber) {
  applyFailure(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])");
}

TEST(JsonPatch, AddsArrayAsValue) {
  EXPECT_EQ(apply(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
            j(R"({"foo":["bar",["abc","def"]]})"));
}

// Behaviour of the library upstream uses.

TEST(JsonPatch, AddAtIndexEqualToLengthAppends) {
  EXPECT_EQ(apply(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])"),
            j(R"({"a":[1,2,3]})"));
}

TEST(JsonPatch, NegativeIndexCountsFromTheEnd) {
  EXPECT_EQ(apply(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/-1"}])"), j(R"({"a":[1,2]})"));
  EXPECT_EQ(apply(R"({"a":[1,2,3]})", R"([{"op":"replace","path":"/a/-3","value":0}])"),
            j(R"({"a":[0,2,3]})"));
}

TEST(JsonPatch, IndexPastTheEndIsInvalid) {
  applyFailure(R"({"a":[1]})", R"([{"op":"add","path":"/a/5","value":0}])");
  applyFailure(R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])");
  applyFailure(R"({"a":[1]})", R"([{"op":"replace","path":"/a/x","value":0}])");
}

TEST(JsonPatch, ReplacingMissingMemberIsInvalid) {
  applyFailure(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])");
}

TEST(JsonPatch, RemovingMissingMemberIsInvalid) {
  applyFailure(R"({"a":1})", R"([{"op":"remove","path":"/b"}])");
}

TEST(JsonPatch, CopiesValue) {
  EXPECT_EQ(apply(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a/b","path":"/c"}])"),
            j(R"({"a":{"b":[1]},"c":[1]})"));
}

TEST(JsonPatch, CopyFromMissingPathIsInvalid) {
  applyFailure(R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/c"}])");
}

TEST(JsonPatch, TestComparesNumbersByValue) {
  EXPECT_NO_THROW(apply(
      R"({"a":1,"b":{"c":[2.0]}})",
      R"([{"op":"test","path":"/a","value":1.0},{"op":"test","path":"/b","value":{"c":[2]}}])"));
}

TEST(JsonPatch, MissingValueMeansNull) {
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"add","path":"/b"}])"), j(R"({"a":1,"b":null})"));
}

TEST(JsonPatch, UnknownOperationIsInvalid) {
  EXPECT_EQ(applyFailure(R"({})", R"([{"op":"frob","path":"/a"}])"), "Unexpected kind: frob");
  EXPECT_EQ(applyFailure(R"({})", R"([{"path":"/a"}])"), "Unexpected kind: unknown");
}

TEST(JsonPatch, OperationWithoutPathIsInvalid) {
  applyFailure(R"({})", R"([{"op":"add","value":1}])");
}

TEST(JsonPatch, WholeDocumentCannotBeAddressed) {
  applyFailure(R"({"a":1})", R"([{"op":"replace","path":"","value":{}}])");
}

TEST(JsonPatch, ScalarDocumentIsInvalid) {
  applyFailure("3", R"([{"op":"add","path":"/a","value":1}])");
}

TEST(JsonPatch, PatchThatIsNotAListIsBadRequest) {
  try {
    apply("{}", R"({"op":"add","path":"/a","value":1})");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_STREQ(e.what(), "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
}

TEST(JsonPatch, OperationThatIsNotAnObjectIsBadRequest) {
  EXPECT_EQ(errorCode("{}", R"(["add"])"), 400);
}

TEST(JsonPatch, NullPatchChangesNothing) {
  EXPECT_EQ(apply(R"({"a":1})", "null"), j(R"({"a":1})"));
}

TEST(JsonPatch, TooManyOperationsIsRequestEntityTooLarge) {
  boost::json::array ops;
  for (size_t i = 0; i <= kMaxJsonPatchOperations; ++i) {
    ops.push_back(boost::json::object{{"op", "test"}, {"path", "/a"}, {"value", 1}});
  }
  try {
    applyJsonPatch(j(R"({"a":1})"), ops);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 413);
    EXPECT_EQ(e.reason(), "RequestEntityTooLarge");
  }
}

TEST(JsonPatch, FailingOperationLeavesInputUntouched) {
  auto doc = j(R"({"a":1})");
  EXPECT_THROW(applyJsonPatch(
                   doc, j(R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/zz"}])")),
               PatchApplyError);
  EXPECT_EQ(doc, j(R"({"a":1})"));
}

TEST(JsonPatch, RunawayCopiesAreStopped) {
  boost::json::object doc{{"a", std::string(1 << 20, 'x')}};
  boost::json::array ops;
  for (int i = 0; i < 20; ++i) {
    ops.push_back(
        boost::json::object{{"op", "copy"}, {"from", "/a"}, {"path", "/c" + std::to_string(i)}});
  }
  EXPECT_THROW(applyJsonPatch(doc, ops), PatchApplyError);
}

TEST(JsonPatch, MovingIntoOwnChildIsInvalid) {
  applyFailure(R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])");
}

}  // namespace
}  // namespace skiff::api
