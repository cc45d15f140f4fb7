// How API object bodies leave the server: upstream's encoder ends JSON with a newline,
// ?pretty indents it, large answers are gzipped for clients that accept it, and Status
// errors keep upstream's field order.
#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/json.hpp>

#include "api/json_indent.h"
#include "common/api_error.h"
#include "net/http_types.h"

namespace skiff::apiserver {
namespace {

HttpRequest get(const std::string& target) {
  HttpRequest req;
  req.method = "GET";
  req.target = target;
  EXPECT_TRUE(parseTarget(req));
  return req;
}

HttpResponse apiObject(std::string body) {
  HttpResponse res;
  res.body = std::move(body);
  res.apiObject = true;
  return res;
}

std::string gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(in.size() * 50 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(ApiObjectResponse, CompactJsonEndsWithANewline) {
  auto res = apiObject(R"({"kind":"Pod"})");
  finishApiObject(get("/api/v1/namespaces/a/pods/p"), res);
  EXPECT_EQ(res.body, "{\"kind\":\"Pod\"}\n");
  HttpResponse other;  // not an API object (e.g. /healthz): untouched
  other.body = "ok";
  finishApiObject(get("/healthz"), other);
  EXPECT_EQ(other.body, "ok");
}

TEST(ApiObjectResponse, PrettyIndentsLikeGoMarshalIndent) {
  auto res = apiObject(R"({"kind":"List","metadata":{},"items":[1,{"a":[]}]})");
  finishApiObject(get("/api/v1/pods?pretty=true"), res);
  EXPECT_EQ(res.body,
            "{\n  \"kind\": \"List\",\n  \"metadata\": {},\n  \"items\": [\n    1,\n    {\n"
            "      \"a\": []\n    }\n  ]\n}");
  auto notPretty = apiObject("{}");
  finishApiObject(get("/api/v1/pods?pretty=yes"), notPretty);  // ParseBool refuses "yes"
  EXPECT_EQ(notPretty.body, "{}\n");
}

TEST(ApiObjectResponse, LargeBodiesAreGzippedWhenAccepted) {
  std::string big = "{\"items\":[";
  for (int i = 0; i < 20000; ++i) big += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  big += "]}";
  ASSERT_GT(big.size(), kGzipThresholdBytes);
  auto req = get("/api/v1/pods");
  auto plain = apiObject(big);
  finishApiObject(req, plain);
  EXPECT_EQ(plain.body, big + "\n");
  EXPECT_TRUE(plain.headers.empty());
  req.headers["accept-encoding"] = "gzip";
  auto zipped = apiObject(big);
  finishApiObject(req, zipped);
  ASSERT_EQ(zipped.headers.size(), 2u);
  EXPECT_EQ(zipped.headers[0].first, "Content-Encoding");
  EXPECT_EQ(zipped.headers[0].second, "gzip");
  EXPECT_LT(zipped.body.size(), big.size() / 2);
  EXPECT_EQ(gunzip(zipped.body), big + "\n");
  auto small = apiObject("{}");
  finishApiObject(req, small);
  EXPECT_EQ(small.body, "{}\n");  // small answers are never compressed
}

TEST(ApiObjectResponse, StatusFieldsInUpstreamOrder) {
  auto res = statusResponse(notFound("pods", "p"), nullptr);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
            "\"message\":\"pods \\\"p\\\" not found\",\"reason\":\"NotFound\","
            "\"details\":{\"name\":\"p\",\"kind\":\"pods\"},\"code\":404}\n");
}

TEST(ApiObjectResponse, TooLargeMessageIsUpstreams) {
  EXPECT_STREQ(requestEntityTooLarge("limit is 3145728").what(),
               "Request entity too large: limit is 3145728");
}

}  // namespace
}  // namespace skiff::apiserver
