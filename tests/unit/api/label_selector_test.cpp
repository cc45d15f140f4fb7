#include "api/label_selector.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"

namespace skiff::api {
namespace {

boost::json::object labels(std::string_view json) { return boost::json::parse(json).as_object(); }

bool selects(std::string_view selector, std::string_view labelsJson) {
  auto l = labels(labelsJson);
  return LabelSelector::parse(selector).matches(&l);
}

// The message of the 400 the selector is rejected with.
std::string parseError(std::string_view selector) {
  try {
    LabelSelector::parse(selector);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_EQ(e.reason(), "BadRequest");
    return e.what();
  }
  ADD_FAILURE() << "selector parsed: " << selector;
  return "";
}

std::string fromJsonError(std::string_view json) {
  try {
    LabelSelector::fromJson(boost::json::parse(json));
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    return e.what();
  }
  ADD_FAILURE() << "selector converted: " << json;
  return "";
}

const std::string kNamePartError =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

TEST(LabelSelector, EmptyStringSelectsEverything) {
  auto s = LabelSelector::parse("");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.matches(nullptr));
  EXPECT_TRUE(LabelSelector::parse("  \t ").empty());
}

TEST(LabelSelector, EqualityNeedsTheExactValue) {
  EXPECT_TRUE(selects("app=web", R"({"app":"web"})"));
  EXPECT_FALSE(selects("app=web", R"({"app":"db"})"));
  EXPECT_FALSE(selects("app=web", R"({})"));
}

TEST(LabelSelector, DoubleEqualsMeansEquals) {
  EXPECT_TRUE(selects("app==web", R"({"app":"web"})"));
  EXPECT_FALSE(selects("app==web", R"({"app":"db"})"));
  EXPECT_EQ(LabelSelector::parse("app==web").toString(), "app==web");
}

TEST(LabelSelector, NotEqualsAlsoSelectsObjectsWithoutTheKey) {
  EXPECT_TRUE(selects("tier!=db", R"({"tier":"web"})"));
  EXPECT_TRUE(selects("tier!=db", R"({})"));
  EXPECT_FALSE(selects("tier!=db", R"({"tier":"db"})"));
}

TEST(LabelSelector, InSelectsAnyListedValue) {
  EXPECT_TRUE(selects("env in (prod, qa)", R"({"env":"qa"})"));
  EXPECT_FALSE(selects("env in (prod, qa)", R"({"env":"dev"})"));
  EXPECT_FALSE(selects("env in (prod, qa)", R"({})"));
}

TEST(LabelSelector, NotInSelectsOtherValuesAndMissingKeys) {
  EXPECT_TRUE(selects("env notin (prod)", R"({"env":"qa"})"));
  EXPECT_TRUE(selects("env notin (prod)", R"({})"));
  EXPECT_FALSE(selects("env notin (prod)", R"({"env":"prod"})"));
}

TEST(LabelSelector, BareKeyRequiresExistenceAndBangRequiresAbsence) {
  EXPECT_TRUE(selects("app,!canary", R"({"app":""})"));
  EXPECT_FALSE(selects("app,!canary", R"({"app":"x","canary":"true"})"));
  EXPECT_FALSE(selects("app,!canary", R"({})"));
}

TEST(LabelSelector, NullLabelsMeanNoLabels) {
  EXPECT_TRUE(LabelSelector::parse("!a").matches(nullptr));
  EXPECT_FALSE(LabelSelector::parse("a").matches(nullptr));
  EXPECT_TRUE(LabelSelector::parse("a notin (x)").matches(nullptr));
}

TEST(LabelSelector, GreaterThanComparesIntegers) {
  EXPECT_TRUE(selects("gen>5", R"({"gen":"10"})"));
  EXPECT_FALSE(selects("gen>5", R"({"gen":"5"})"));
  EXPECT_FALSE(selects("gen>5", R"({"gen":"abc"})"));
  EXPECT_FALSE(selects("gen>5", R"({})"));
}

TEST(LabelSelector, LessThanComparesIntegers) {
  EXPECT_TRUE(selects("gen<5", R"({"gen":"-3"})"));
  EXPECT_FALSE(selects("gen<5", R"({"gen":"7"})"));
  EXPECT_EQ(LabelSelector::parse("gen<5").toString(), "gen<5");
}

TEST(LabelSelector, WhitespaceAroundTokensIsIgnored) {
  auto s = LabelSelector::parse("  env  in ( a , b ) ,\ttier = web\n");
  EXPECT_EQ(s.toString(), "env in (a,b),tier=web");
}

TEST(LabelSelector, KeywordsAreValuesInsideASet) {
  EXPECT_TRUE(selects("x in (in,notin)", R"({"x":"notin"})"));
  EXPECT_TRUE(selects("x=in", R"({"x":"in"})"));
}

TEST(LabelSelector, UpstreamDocumentedExampleWithEmptyValues) {
  auto s = LabelSelector::parse("x in (foo,,baz),y,z notin ()");
  EXPECT_EQ(s.toString(), "x in (,baz,foo),y,z notin ()");
  EXPECT_TRUE(selects("x in (foo,,baz),y,z notin ()", R"({"x":"","y":"1","z":"2"})"));
}

TEST(LabelSelector, EmptyExactValueMatchesEmptyLabel) {
  EXPECT_TRUE(selects("a=", R"({"a":""})"));
  EXPECT_FALSE(selects("a=", R"({"a":"x"})"));
  EXPECT_TRUE(selects("a=,b", R"({"a":"","b":"x"})"));
}

TEST(LabelSelector, ToStringSortsRequirementsAndValues) {
  EXPECT_EQ(LabelSelector::parse("b=2,a in (z,y),!c").toString(), "a in (y,z),b=2,!c");
}

TEST(LabelSelector, KeysMayHaveADnsPrefix) {
  EXPECT_TRUE(selects("app.kubernetes.io/name=web", R"({"app.kubernetes.io/name":"web"})"));
}

TEST(LabelSelector, RequiresExactMatchReportsSingleValue) {
  auto s = LabelSelector::parse("a=1,b in (2),c in (3,4),d!=5");
  EXPECT_EQ(s.requiresExactMatch("a"), "1");
  EXPECT_EQ(s.requiresExactMatch("b"), "2");
  EXPECT_EQ(s.requiresExactMatch("c"), std::nullopt);
  EXPECT_EQ(s.requiresExactMatch("d"), std::nullopt);
  EXPECT_EQ(s.requiresExactMatch("e"), std::nullopt);
}

TEST(LabelSelector, InvalidKeyIsRejectedWithUpstreamMessage) {
  EXPECT_EQ(
      parseError("app:monolith"),
      "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": " + kNamePartError);
}

TEST(LabelSelector, KeyWithUnderscoreInPrefixIsRejected) {
  EXPECT_EQ(parseError("app.kubernetes_io/name=x"),
            "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix "
            "part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

TEST(LabelSelector, KeyWithTwoSlashesIsRejected) {
  EXPECT_EQ(parseError("a/b/c ?=? def"),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must "
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
            "subdomain prefix and '/' (e.g. 'example.com/MyName')");
}

TEST(LabelSelector, EmptyNamePartReportsBothProblems) {
  EXPECT_EQ(parseError("example.com/"),
            "unable to parse requirement: <nil>: Invalid value: \"example.com/\": name part must "
            "be non-empty; " +
                kNamePartError);
}

TEST(LabelSelector, ValueLongerThan63CharactersIsRejected) {
  std::string value(64, 'v');
  EXPECT_EQ(parseError("a=" + value),
            "unable to parse requirement: values[0][a]: Invalid value: \"" + value +
                "\": must be no more than 63 characters");
}

TEST(LabelSelector, ValueWithIllegalCharactersIsRejected) {
  EXPECT_EQ(parseError("a=b$"),
            "unable to parse requirement: values[0][a]: Invalid value: \"b$\": a valid label must "
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
}

TEST(LabelSelector, GreaterThanNeedsAnInteger) {
  EXPECT_EQ(parseError("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' "
            "operators, the value must be an integer");
}

TEST(LabelSelector, TrailingCommaIsRejected) {
  EXPECT_EQ(parseError("a=b,"), "found '', expected: identifier after ','");
}

TEST(LabelSelector, LeadingCommaIsRejected) {
  EXPECT_EQ(parseError(",a"), "found ',', expected: !, identifier, or 'end of string'");
}

TEST(LabelSelector, MissingOperatorIsRejected) {
  EXPECT_EQ(parseError("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
}

TEST(LabelSelector, SetWithoutParenthesesIsRejected) {
  EXPECT_EQ(parseError("a in b"), "unable to parse requirement: found 'b' expected: '('");
}

TEST(LabelSelector, UnclosedSetIsRejected) {
  EXPECT_EQ(parseError("a in (b"), "unable to parse requirement: found '', expected: ',' or ')'");
}

TEST(LabelSelector, OperatorAfterNegatedKeyIsRejected) {
  EXPECT_EQ(parseError("!a=b"), "found '=', expected: ',' or 'end of string'");
  EXPECT_EQ(parseError("!!a"), "unable to parse requirement: found '!', expected: identifier");
}

TEST(LabelSelector, ExtraTokenAfterValueIsRejected) {
  EXPECT_EQ(parseError("a=b c"), "found 'c', expected: ',' or 'end of string'");
}

TEST(LabelSelector, FromJsonCombinesMatchLabelsAndExpressions) {
  auto s = LabelSelector::fromJson(boost::json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["fe", "be"]},
      {"key": "canary", "operator": "DoesNotExist"},
      {"key": "zone", "operator": "NotIn", "values": ["a"]},
      {"key": "team", "operator": "Exists"}
    ]})"));
  EXPECT_EQ(s.toString(), "app=web,!canary,team,tier in (be,fe),zone notin (a)");
  auto good = labels(R"({"app":"web","tier":"fe","team":"x"})");
  auto canary = labels(R"({"app":"web","tier":"fe","team":"x","canary":"1"})");
  EXPECT_TRUE(s.matches(&good));
  EXPECT_FALSE(s.matches(&canary));
}

TEST(LabelSelector, FromJsonNullMatchesNothing) {
  auto s = LabelSelector::fromJson(boost::json::value(nullptr));
  EXPECT_TRUE(s.matchesNothing());
  EXPECT_FALSE(s.empty());
  EXPECT_FALSE(s.matches(nullptr));
  EXPECT_FALSE(LabelSelector::nothing().matches(nullptr));
}

TEST(LabelSelector, FromJsonEmptyObjectMatchesEverything) {
  auto s =
      LabelSelector::fromJson(boost::json::parse(R"({"matchLabels":{},"matchExpressions":[]})"));
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.matches(nullptr));
}

TEST(LabelSelector, FromJsonRejectsUnknownOperator) {
  EXPECT_EQ(fromJsonError(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})"),
            "\"Gt\" is not a valid label selector operator");
}

TEST(LabelSelector, FromJsonRejectsInWithoutValues) {
  EXPECT_EQ(fromJsonError(R"({"matchExpressions":[{"key":"a","operator":"In"}]})"),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be "
            "empty");
}

TEST(LabelSelector, FromJsonRejectsExistsWithValues) {
  EXPECT_EQ(
      fromJsonError(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})"),
      "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does "
      "not exist");
}

TEST(LabelSelector, FromJsonRejectsInvalidKeyWithKeyPath) {
  EXPECT_EQ(fromJsonError(R"({"matchLabels":{"bad key":"x"}})"),
            "key: Invalid value: \"bad key\": " + kNamePartError);
}

TEST(LabelSelector, FromJsonRejectsWrongTypes) {
  EXPECT_NE(fromJsonError(R"({"matchLabels":{"a":1}})"), "");
  EXPECT_NE(fromJsonError(R"({"matchExpressions":{}})"), "");
  EXPECT_NE(fromJsonError(R"("app=web")"), "");
}

}  // namespace
}  // namespace skiff::api
