#include "api/field_selector.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "common/api_error.h"

namespace skiff::api {
namespace {

using Fields = std::map<std::string, std::string, std::less<>>;

bool selects(std::string_view selector, const Fields& fields) {
  return FieldSelector::parse(selector).matches(
      [&](std::string_view f) -> std::optional<std::string> {
        auto it = fields.find(f);
        if (it == fields.end()) return std::nullopt;
        return it->second;
      });
}

std::string parseError(std::string_view selector) {
  try {
    FieldSelector::parse(selector);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_EQ(e.reason(), "BadRequest");
    return e.what();
  }
  ADD_FAILURE() << "selector parsed: " << selector;
  return "";
}

TEST(FieldSelector, EmptySelectsEverything) {
  auto s = FieldSelector::parse("");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(selects("", {}));
  EXPECT_TRUE(FieldSelector::parse(",,").empty());
}

TEST(FieldSelector, EqualsComparesTheFieldValue) {
  EXPECT_TRUE(selects("metadata.name=web", {{"metadata.name", "web"}}));
  EXPECT_FALSE(selects("metadata.name=web", {{"metadata.name", "db"}}));
}

TEST(FieldSelector, DoubleEqualsMeansEquals) {
  auto s = FieldSelector::parse("status.phase==Running");
  ASSERT_EQ(s.requirements().size(), 1u);
  EXPECT_EQ(s.requirements()[0].op, FieldSelector::Requirement::Equals);
  EXPECT_EQ(s.requirements()[0].value, "Running");
}

TEST(FieldSelector, NotEqualsExcludesTheValue) {
  EXPECT_TRUE(selects("status.phase!=Running", {{"status.phase", "Pending"}}));
  EXPECT_FALSE(selects("status.phase!=Running", {{"status.phase", "Running"}}));
  EXPECT_EQ(FieldSelector::parse("a!=b").requirements()[0].op,
            FieldSelector::Requirement::NotEquals);
}

TEST(FieldSelector, MissingFieldComparesAsEmpty) {
  EXPECT_TRUE(selects("spec.nodeName=", {}));
  EXPECT_FALSE(selects("spec.nodeName!=", {}));
  EXPECT_TRUE(selects("spec.nodeName!=", {{"spec.nodeName", "n1"}}));
}

TEST(FieldSelector, AllTermsMustHold) {
  Fields pod{{"metadata.namespace", "default"}, {"status.phase", "Running"}};
  EXPECT_TRUE(selects("metadata.namespace=default,status.phase=Running", pod));
  EXPECT_FALSE(selects("metadata.namespace=default,status.phase=Failed", pod));
}

TEST(FieldSelector, BackslashEscapesCommaEqualsAndBackslash) {
  auto s = FieldSelector::parse(R"(metadata.name=a\,b\=c\\d,x=y)");
  ASSERT_EQ(s.requirements().size(), 2u);
  EXPECT_EQ(s.requirements()[0].field, "metadata.name");
  EXPECT_EQ(s.requirements()[0].value, R"(a,b=c\d)");
  EXPECT_EQ(s.toString(), R"(metadata.name=a\,b\=c\\d,x=y)");
}

TEST(FieldSelector, TermsAreKeptInSortedOrder) {
  EXPECT_EQ(FieldSelector::parse("b=2,a!=1").toString(), "a!=1,b=2");
}

TEST(FieldSelector, WhitespaceIsPartOfFieldAndValue) {
  auto s = FieldSelector::parse("a = b");
  EXPECT_EQ(s.requirements()[0].field, "a ");
  EXPECT_EQ(s.requirements()[0].value, " b");
}

TEST(FieldSelector, RequiresExactMatchReportsEqualityTerms) {
  auto s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed");
  EXPECT_EQ(s.requiresExactMatch("spec.nodeName"), "n1");
  EXPECT_EQ(s.requiresExactMatch("status.phase"), std::nullopt);
}

TEST(FieldSelector, TermWithoutOperatorIsRejected) {
  EXPECT_EQ(parseError("foo"), "invalid selector: 'foo'; can't understand 'foo'");
  EXPECT_EQ(parseError("a=b,foo"), "invalid selector: 'a=b,foo'; can't understand 'foo'");
}

TEST(FieldSelector, UnescapedEqualsInValueIsRejected) {
  EXPECT_EQ(parseError("status.state=Cl=ean"),
            "invalid field selector: unescaped character in value: 61");
  EXPECT_EQ(parseError("metadata.name!==hldr"),
            "invalid field selector: unescaped character in value: 61");
}

TEST(FieldSelector, UnknownEscapeIsRejected) {
  EXPECT_EQ(parseError(R"(metadata.name=a\x)"),
            R"(invalid field selector: invalid escape sequence: \x)");
}

TEST(FieldSelector, TrailingBackslashIsRejected) {
  EXPECT_EQ(parseError(R"(metadata.name=a\)"),
            R"(invalid field selector: invalid escape sequence: \)");
}

TEST(FieldSelector, EscapeFieldValueRoundTrips) {
  EXPECT_EQ(escapeFieldValue(R"(a,b=c\d)"), R"(a\,b\=c\\d)");
}

TEST(FieldValueOf, ReadsNestedStrings) {
  auto obj =
      boost::json::parse(R"({"metadata":{"name":"p"},"spec":{"nodeName":"n1"}})").as_object();
  EXPECT_EQ(fieldValueOf(obj, "metadata.name"), "p");
  EXPECT_EQ(fieldValueOf(obj, "spec.nodeName"), "n1");
}

TEST(FieldValueOf, StringifiesNumbersAndBools) {
  auto obj =
      boost::json::parse(R"({"status":{"succeeded":3,"ratio":1.5},"spec":{"unschedulable":true}})")
          .as_object();
  EXPECT_EQ(fieldValueOf(obj, "status.succeeded"), "3");
  EXPECT_EQ(fieldValueOf(obj, "status.ratio"), "1.5");
  EXPECT_EQ(fieldValueOf(obj, "spec.unschedulable"), "true");
}

TEST(FieldValueOf, MissingNullAndCompositeValuesAreAbsent) {
  auto obj = boost::json::parse(R"({"spec":{"a":null,"b":{},"c":[]},"x":"y"})").as_object();
  EXPECT_EQ(fieldValueOf(obj, "spec.missing"), std::nullopt);
  EXPECT_EQ(fieldValueOf(obj, "spec.a"), std::nullopt);
  EXPECT_EQ(fieldValueOf(obj, "spec.b"), std::nullopt);
  EXPECT_EQ(fieldValueOf(obj, "spec.c"), std::nullopt);
  EXPECT_EQ(fieldValueOf(obj, "x.y"), std::nullopt);
}

}  // namespace
}  // namespace skiff::api
