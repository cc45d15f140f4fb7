#include "api/managed_fields_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::api {
namespace {

namespace json = boost::json;

const char* const kPod = R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"d",
  "labels":{"app":"web"},"managedFields":[{"manager":"kubectl","operation":"Update",
  "apiVersion":"v1","time":"2026-12-07T10:00:00Z","fieldsType":"FieldsV1",
  "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{
  "k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}}}}}],"uid":"u-1"},
  "spec":{"containers":[{"name":"c","image":"busybox \"quoted\" é"}]}})";

json::object parsed(const char* text) { return json::parse(text).as_object(); }

json::object packed(const char* text) {
  json::object obj = parsed(text);
  packManagedFields(obj);
  return obj;
}

TEST(ManagedFieldsText, PackingKeepsTheListAsItsTextInPlace) {
  const json::object original = parsed(kPod);
  const json::object obj = packed(kPod);
  const json::string* text = packedManagedFields(obj);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(json::parse(*text), original.at("metadata").at("managedFields"));
  // The member keeps its place among metadata's members (answers keep upstream's order).
  const json::object& meta = obj.at("metadata").as_object();
  EXPECT_EQ(std::next(meta.begin(), 3)->key(), "managedFields");
  // Packing twice, or an object without the list, changes nothing.
  json::object again = obj;
  packManagedFields(again);
  EXPECT_EQ(again, obj);
  json::object none = parsed(R"({"metadata":{"name":"x"}})");
  packManagedFields(none);
  EXPECT_EQ(none, parsed(R"({"metadata":{"name":"x"}})"));
  EXPECT_EQ(packedManagedFields(none), nullptr);
}

TEST(ManagedFieldsText, EncodersWriteTheSameBytesAsForTheArray) {
  const json::object original = parsed(kPod);
  const json::object obj = packed(kPod);
  EXPECT_EQ(objectJson(obj), json::serialize(original));
  std::string meta;
  appendMetadataJson(meta, obj.at("metadata").as_object());
  EXPECT_EQ(meta, json::serialize(original.at("metadata")));
  // Unpacked objects take the plain path.
  EXPECT_EQ(objectJson(original), json::serialize(original));

  // A list's items and a Table's row objects (whole or as PartialObjectMetadata).
  json::object list{{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", json::object()}};
  list["items"] = json::array{obj, obj};
  json::object plainList = list;
  plainList["items"] = json::array{original, original};
  EXPECT_TRUE(hasPackedManagedFields(list));
  EXPECT_EQ(objectJson(list), json::serialize(plainList));

  json::object table{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}};
  json::object partial{{"kind", "PartialObjectMetadata"}, {"metadata", obj.at("metadata")}};
  table["rows"] = json::array{json::object{{"cells", json::array{"p"}}, {"object", obj}},
                              json::object{{"cells", json::array{"p"}}, {"object", partial}}};
  json::object plainTable = table;
  json::object plainPartial{{"kind", "PartialObjectMetadata"},
                            {"metadata", original.at("metadata")}};
  plainTable["rows"] =
      json::array{json::object{{"cells", json::array{"p"}}, {"object", original}},
                  json::object{{"cells", json::array{"p"}}, {"object", plainPartial}}};
  EXPECT_EQ(objectJson(table), json::serialize(plainTable));

  json::object unpacked = table;
  unpackManagedFields(unpacked);
  EXPECT_EQ(unpacked, plainTable);
  EXPECT_FALSE(hasPackedManagedFields(unpacked));
}

// Outside a list or a Table, "items" is an object's own data: a string named managedFields
// there is a string, written quoted and never parsed.
TEST(ManagedFieldsText, OtherObjectsItemsAreTheirOwnData) {
  json::object custom = packed(kPod);
  custom["kind"] = "Widget";
  custom["items"] = json::array{json::object{{"metadata", {{"managedFields", "[1]"}}}}};
  const std::string text = objectJson(custom);
  EXPECT_NE(text.find(R"("items":[{"metadata":{"managedFields":"[1]"}}])"), std::string::npos);
  json::object copy = custom;
  unpackManagedFields(copy);
  EXPECT_EQ(copy.at("items"), custom.at("items"));
  EXPECT_TRUE(copy.at("metadata").at("managedFields").is_array());
  // Also for a custom kind named like a list: a stored object has a name, a list does not.
  custom["kind"] = "WidgetList";
  EXPECT_NE(objectJson(custom).find(R"("items":[{"metadata":{"managedFields":"[1]"}}])"),
            std::string::npos);
  EXPECT_FALSE(hasPackedManagedFields(copy));
  copy["kind"] = "WidgetList";
  unpackManagedFields(copy);
  EXPECT_EQ(copy.at("items"), custom.at("items"));
}

TEST(ManagedFieldsText, ComparisonsDoNotSeeTheRepresentation) {
  const json::object original = parsed(kPod);
  const json::object obj = packed(kPod);
  EXPECT_NE(obj, original);  // boost::json sees a string and an array
  EXPECT_TRUE(sameObject(obj, original));
  EXPECT_TRUE(sameObject(original, obj));
  EXPECT_TRUE(sameMember(obj, original, "metadata"));
  EXPECT_TRUE(sameMember(obj, original, "absent"));

  json::object otherList = original;
  otherList["metadata"].as_object()["managedFields"].as_array()[0].as_object()["manager"] = "x";
  EXPECT_FALSE(sameObject(obj, otherList));
  EXPECT_FALSE(sameMember(obj, otherList, "metadata"));
  json::object otherSpec = original;
  otherSpec["spec"] = json::object();
  EXPECT_FALSE(sameObject(obj, otherSpec));
  EXPECT_TRUE(sameMember(obj, otherSpec, "metadata"));
}

TEST(ManagedFieldsText, TheListReadsAsAnArray) {
  const json::object obj = packed(kPod);
  json::value scratch;
  const json::value* list = managedFieldsList(obj.at("metadata").as_object(), scratch);
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(*list, parsed(kPod).at("metadata").at("managedFields"));
  const json::object plain = parsed(kPod);
  EXPECT_EQ(managedFieldsList(plain.at("metadata").as_object(), scratch),
            plain.at("metadata").as_object().if_contains("managedFields"));
  EXPECT_EQ(managedFieldsList(json::object{{"name", "x"}}, scratch), nullptr);
}

}  // namespace
}  // namespace skiff::api
