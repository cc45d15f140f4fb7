// A list's Table is written straight from the objects (serializeTable); it must be the same
// bytes as the Table built as JSON (makeTable) for every includeObject, for built-in and
// custom resources.
#include "apiserver/table.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/custom_resource.h"
#include "api/resource_registry.h"

namespace json = boost::json;
using namespace skiff;

namespace {

std::vector<json::object> pods() {
  std::vector<json::object> out;
  for (int i = 0; i < 3; ++i)
    out.push_back(json::parse(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"p)" +
                              std::to_string(i) +
                              R"(","namespace":"default","creationTimestamp":"2026-01-01T00:00:00Z",
      "managedFields":[{"manager":"m","fieldsV1":{"f:spec":{"f:x":{}}}}]},
      "spec":{"containers":[{"name":"c","image":"busybox \u003c1\u003e"}]},"status":{"phase":"Running"}})")
                      .as_object());
  out.push_back(
      json::parse(R"({"kind":"Pod","apiVersion":"v1"})").as_object());  // no metadata at all
  return out;
}

void expectSame(const api::ResourceInfo& info, const std::vector<json::object>& items) {
  std::vector<const json::object*> objects;
  for (const auto& o : items) objects.push_back(&o);
  json::object listMeta{{"resourceVersion", "42"}, {"continue", "abc"}};
  for (const char* include : {"None", "Metadata", "Object"}) {
    SCOPED_TRACE(include);
    json::object table = apiserver::makeTable(info, objects, include, true);
    table["metadata"] = listMeta;
    EXPECT_EQ(apiserver::serializeTable(info, objects, include, listMeta), json::serialize(table));
    // The same from the objects' texts (the watch cache's shared encodings).
    std::vector<std::string> texts;
    for (const auto* o : objects) texts.push_back(json::serialize(*o));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    EXPECT_EQ(apiserver::serializeTable(info, objects, include, listMeta, views),
              json::serialize(table));
  }
  EXPECT_EQ(apiserver::serializeTable(info, {}, "Metadata", listMeta), [&] {
    json::object t = apiserver::makeTable(info, {}, "Metadata", true);
    t["metadata"] = listMeta;
    return json::serialize(t);
  }());
}

TEST(Table, SerializedListTableMatchesTheBuiltOneForBuiltInKinds) {
  expectSame(*api::ResourceRegistry::builtin().find("", "v1", "pods"), pods());
}

TEST(Table, SerializedListTableMatchesTheBuiltOneForCustomResources) {
  api::ResourceInfo info;
  info.group = "example.com";
  info.version = "v1";
  info.kind = "Widget";
  info.plural = "widgets";
  auto custom = std::make_shared<api::CustomResourceBehavior>();
  custom->columns.push_back({"Phase", "string", "", "", ".status.phase", 0});
  info.custom = custom;
  expectSame(info, pods());
}

}  // namespace

TEST(Table, MemberTextFindsTopLevelMembersOfCompactJson) {
  const std::string text = json::serialize(json::parse(
      R"({"kind":"Pod","a\"b":{"x":"}{][","y":[1,{"z":"\\"}]},"metadata":{"name":"n","l":[]},"n":-1.5e3,"t":true,"s":"x"})"));
  EXPECT_EQ(apiserver::memberText(text, "metadata"), R"({"name":"n","l":[]})");
  EXPECT_EQ(apiserver::memberText(text, "kind"), R"("Pod")");
  EXPECT_EQ(apiserver::memberText(text, "n"), "-1.5E3");
  EXPECT_EQ(apiserver::memberText(text, "t"), "true");
  EXPECT_EQ(apiserver::memberText(text, "s"), R"("x")");
  EXPECT_EQ(apiserver::memberText(text, "spec"), "");
  EXPECT_EQ(apiserver::memberText("[1]", "kind"), "");
  EXPECT_EQ(apiserver::memberText(R"({"kind":"unterminated)", "kind"), "");
}
