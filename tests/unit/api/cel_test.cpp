// The CEL subset of CRD validation rules: what compiles, what is refused by name, and how
// rules evaluate over JSON (including CEL's error-absorbing && and ||).
#include "api/cel.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace json = boost::json;
using skiff::api::cel::Program;

namespace {

std::string eval(const std::string& rule, const std::string& self, const std::string& old = "") {
  json::value s = json::parse(self);
  json::value o = old.empty() ? json::value() : json::parse(old);
  auto r = Program::compile(rule).evaluate(s, old.empty() ? nullptr : &o);
  return r.value ? json::serialize(*r.value) : "error: " + r.error;
}

std::string compileError(const std::string& rule) {
  try {
    Program::compile(rule);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Cel, CommonRules) {
  const std::string obj =
      R"({"replicas":3,"maxReplicas":5,"name":"web-1","tags":["a","b"],"labels":{"x":"1"}})";
  EXPECT_EQ(eval("self.replicas <= self.maxReplicas", obj), "true");
  EXPECT_EQ(eval("self.replicas > self.maxReplicas", obj), "false");
  EXPECT_EQ(eval("has(self.name) && self.name.startsWith('web')", obj), "true");
  EXPECT_EQ(eval("!has(self.missing) || self.missing > 0", obj), "true");
  EXPECT_EQ(eval("size(self.tags) == 2 && self.tags.size() < 3", obj), "true");
  EXPECT_EQ(eval("self.name.matches('^[a-z]+-[0-9]$')", obj), "true");
  EXPECT_EQ(eval("self.name.endsWith('-1') && self.name.contains('b-')", obj), "true");
  EXPECT_EQ(eval("self.tags.all(t, t.size() == 1)", obj), "true");
  EXPECT_EQ(eval("self.tags.exists(t, t == 'b')", obj), "true");
  EXPECT_EQ(eval("self.tags.exists_one(t, t in ['a', 'z'])", obj), "true");
  EXPECT_EQ(eval("self.tags.map(t, t + '!')", obj), R"(["a!","b!"])");
  EXPECT_EQ(eval("self.tags.filter(t, t != 'a')", obj), R"(["b"])");
  EXPECT_EQ(eval("'x' in self.labels && self.labels['x'] == '1'", obj), "true");
  EXPECT_EQ(eval("self.replicas * 2 + 1 - self.maxReplicas % 3", obj), "5");
  EXPECT_EQ(eval("self.replicas > 2 ? 'big' : 'small'", obj), "\"big\"");
  EXPECT_EQ(eval("int('42') + size('héllo')", obj), "47");
  EXPECT_EQ(eval("string(self.replicas) + 'x' == '3x' && double(1) == 1.0", obj), "true");
  EXPECT_EQ(eval("self.name.upperAscii() == 'WEB-1' && '  a '.trim() == 'a'", obj), "true");
  EXPECT_EQ(eval("[1, 2] + [3] == [1, 2, 3] && {'a': 1}['a'] == 1", obj), "true");
}

TEST(Cel, TransitionRulesReadOldSelf) {
  EXPECT_TRUE(Program::compile("self == oldSelf").usesOldSelf());
  EXPECT_FALSE(Program::compile("self == 1").usesOldSelf());
  EXPECT_EQ(eval("self == oldSelf", R"("a")", R"("a")"), "true");
  EXPECT_EQ(eval("self >= oldSelf", "1", "2"), "false");
}

TEST(Cel, ErrorsAreReportedAndAbsorbedLikeCel) {
  EXPECT_EQ(eval("self.missing > 1", "{}"), "error: no such key: missing");
  EXPECT_EQ(eval("self.missing > 1 || true", "{}"), "true");
  EXPECT_EQ(eval("false && self.missing > 1", "{}"), "false");
  EXPECT_EQ(eval("self.a + 'x'", R"({"a":1})"), "error: no such overload: +(int, string)");
  EXPECT_EQ(eval("self.a / 0", R"({"a":1})"), "error: division by zero");
  EXPECT_EQ(eval("9223372036854775807 + 1", "{}"), "error: integer overflow");
  EXPECT_EQ(eval("self[3]", "[1]"), "error: index out of bounds: 3");
}

TEST(Cel, UnsupportedConstructsAreNamed) {
  EXPECT_EQ(compileError("self.x.isSorted()"), "the function isSorted() is not supported");
  EXPECT_EQ(compileError("duration(self.d) > duration('1s')"),
            "the function duration() is not supported");
  EXPECT_EQ(compileError("self.a == 1u"), "unsigned integer literals are not supported");
  EXPECT_EQ(compileError("has(self)"), "has() needs a field selection");
  EXPECT_EQ(compileError("self.a =="), "unexpected end of expression");
  EXPECT_EQ(compileError(std::string(100, '(') + "1" + std::string(100, ')')),
            "the expression nests too deeply");
  EXPECT_EQ(compileError("self.a == 'unterminated"), "unterminated string literal");
}

}  // namespace
