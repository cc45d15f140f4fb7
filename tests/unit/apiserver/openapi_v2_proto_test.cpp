// /openapi/v2 as gnostic protobuf: read back with the wire reader.
#include "apiserver/openapi_v2_proto.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "api/protobuf_wire.h"

using skiff::api::protobuf::Reader;

namespace {

// Length-delimited fields of one message by number (last wins; repeated ones collected).
std::multimap<std::uint32_t, std::string_view> fields(std::string_view msg) {
  std::multimap<std::uint32_t, std::string_view> out;
  Reader r(msg);
  while (!r.done()) {
    std::uint32_t n;
    int wt;
    r.tag(n, wt);
    if (wt == skiff::api::protobuf::kLengthDelimited)
      out.emplace(n, r.lengthDelimited());
    else
      r.skip(wt);
  }
  return out;
}

std::string_view one(const std::multimap<std::uint32_t, std::string_view>& f, std::uint32_t n) {
  auto it = f.find(n);
  return it == f.end() ? std::string_view() : it->second;
}

}  // namespace

TEST(OpenApiV2Protobuf, DocumentWithDefinitions) {
  const std::string& doc = skiff::apiserver::openApiV2Protobuf();
  auto top = fields(doc);
  EXPECT_EQ(one(top, 1), "2.0");
  auto defs = fields(one(top, 9));
  std::string_view configMap;
  size_t count = 0;
  for (const auto& [n, named] : defs) {
    ++count;
    auto f = fields(named);
    if (one(f, 1) == "io.k8s.api.core.v1.ConfigMap") configMap = one(f, 2);
  }
  EXPECT_GT(count, 300u);
  ASSERT_FALSE(configMap.empty());
  auto schema = fields(configMap);
  EXPECT_EQ(one(fields(one(schema, 22)), 1), "object");  // type
  // Properties: "data" is a map of strings (additionalProperties schema of type string).
  bool sawData = false;
  for (auto [it, end] = schema.equal_range(25); it != end; ++it)
    for (const auto& [n, named] : fields(it->second)) {
      auto p = fields(named);
      if (one(p, 1) != "data") continue;
      sawData = true;
      auto additional = fields(one(fields(one(p, 2)), 21));
      EXPECT_EQ(one(fields(one(fields(one(additional, 1)), 22)), 1), "string");
    }
  EXPECT_TRUE(sawData);
  // x-kubernetes-group-version-kind travels as a vendor extension with YAML (JSON) text.
  bool sawGvk = false;
  for (auto [it, end] = schema.equal_range(31); it != end; ++it) {
    auto ext = fields(it->second);
    if (one(ext, 1) != "x-kubernetes-group-version-kind") continue;
    sawGvk = true;
    EXPECT_NE(std::string(one(fields(one(ext, 2)), 2)).find("\"ConfigMap\""), std::string::npos);
  }
  EXPECT_TRUE(sawGvk);
}
