// pods/binding driven through handleResourceRequest on a memory-store ResourceStore.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/resource_handler.h"
#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class BindingTest : public testing::ResourceStoreFixture {
 protected:
  void SetUp() override {
    ResourceStoreFixture::SetUp();
    RequestContext ctx;
    resources.create(
        info("pods"), "default",
        json::parse(
            R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}})"),
        ctx);
  }
  json::object pod() { return resources.get(info("pods"), "default", "p"); }
  int64_t revision() {
    return std::stoll(std::string(pod().at("metadata").at("resourceVersion").as_string()));
  }
  HttpResponse bind(const std::string& body) {
    RequestInfo ri{"", "v1", "default", "pods", "p", "binding", &info("pods")};
    HttpRequest req;
    req.method = "POST";
    req.path = "/api/v1/namespaces/default/pods/p/binding";
    req.target = req.path;
    req.headers["content-type"] = "application/json";
    req.body = body;
    return handleResourceRequest(resources, ri, req);
  }
  std::vector<json::object> conditions(const std::string& type) {
    std::vector<json::object> out;
    const json::object p = pod();
    if (const json::value* s = p.if_contains("status"))
      if (const json::value* cs = s->as_object().if_contains("conditions"))
        for (const auto& c : cs->as_array())
          if (c.at("type").as_string() == type) out.push_back(c.as_object());
    return out;
  }
};

TEST_F(BindingTest, SetsNodeNameAndPodScheduledInOneWrite) {
  int64_t before = revision();
  HttpResponse res = bind(R"({"metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}})");
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(pod().at("spec").at("nodeName"), "n1");
  auto scheduled = conditions("PodScheduled");
  ASSERT_EQ(scheduled.size(), 1u);
  EXPECT_EQ(scheduled[0].at("status"), "True");
  // One write: the store's revision moved by exactly one.
  EXPECT_EQ(revision(), before + 1);
}

TEST_F(BindingTest, ReplacesAnUnschedulableCondition) {
  RequestContext ctx;
  json::object p = pod();
  p["status"] = json::object{
      {"conditions", json::array{json::object{{"type", "PodScheduled"},
                                              {"status", "False"},
                                              {"reason", "Unschedulable"},
                                              {"message", "0/1 nodes are available"}}}}};
  resources.update(info("pods"), "default", "p", "status", p, ctx);
  EXPECT_EQ(bind(R"({"metadata":{"name":"p"},"target":{"name":"n1"}})").status, 201);
  auto scheduled = conditions("PodScheduled");
  ASSERT_EQ(scheduled.size(), 1u);
  EXPECT_EQ(scheduled[0].at("status"), "True");
  EXPECT_FALSE(scheduled[0].contains("reason"));
}

TEST_F(BindingTest, CopiesTheBindingsAnnotations) {
  EXPECT_EQ(
      bind(R"({"metadata":{"name":"p","annotations":{"a":"b"}},"target":{"name":"n1"}})").status,
      201);
  EXPECT_EQ(pod().at("metadata").at("annotations").at("a"), "b");
}

TEST_F(BindingTest, RejectsAWrongUidABoundPodAndAMissingTarget) {
  auto code = [&](const std::string& body) {
    try {
      return bind(body).status;
    } catch (const ApiError& e) {
      return e.code();
    }
  };
  EXPECT_EQ(code(R"({"metadata":{"name":"p","uid":"not-the-uid"},"target":{"name":"n1"}})"), 409);
  EXPECT_FALSE(pod().at("spec").as_object().contains("nodeName"));
  EXPECT_EQ(code(R"({"metadata":{"name":"p"},"target":{}})"), 422);
  EXPECT_EQ(code(R"({"metadata":{"name":"p"},"target":{"name":"n1"}})"), 201);
  EXPECT_EQ(code(R"({"metadata":{"name":"p"},"target":{"name":"n2"}})"), 409);
  EXPECT_EQ(pod().at("spec").at("nodeName"), "n1");
}

}  // namespace
}  // namespace skiff::apiserver
