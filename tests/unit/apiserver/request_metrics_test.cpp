// The API server's request metrics: upstream's verb, scope and label rules; inflight and
// long-running gauges; streams counted when they end.
#include "apiserver/request_metrics.h"

#include <gtest/gtest.h>

#include "../common/metrics_test_util.h"
#include "http_request_util.h"

namespace skiff::apiserver {
namespace {

using skiff::testing::sampleValue;

RequestMetrics::Labels classify(const std::string& method, const std::string& target,
                                const std::string& contentType = "") {
  auto req = makeRequest(method, target);
  if (!contentType.empty()) req.headers["content-type"] = contentType;
  return RequestMetrics::classify(req, api::ResourceRegistry::builtin());
}

TEST(RequestMetrics, VerbsAndScopesAreUpstreams) {
  auto l = classify("GET", "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(l.verb, "GET");
  EXPECT_EQ(l.scope, "resource");
  EXPECT_EQ(l.resource, "pods");
  EXPECT_EQ(l.version, "v1");
  EXPECT_EQ(l.group, "");
  EXPECT_EQ(l.component, "apiserver");
  EXPECT_FALSE(l.longRunning);
  EXPECT_FALSE(l.mutating);
  EXPECT_EQ(classify("GET", "/api/v1/namespaces/default/pods").verb, "LIST");
  EXPECT_EQ(classify("GET", "/api/v1/namespaces/default/pods").scope, "namespace");
  EXPECT_EQ(classify("GET", "/api/v1/pods").scope, "cluster");
  l = classify("GET", "/apis/apps/v1/deployments?watch=true");
  EXPECT_EQ(l.verb, "WATCH");
  EXPECT_EQ(l.group, "apps");
  EXPECT_TRUE(l.longRunning);
  EXPECT_EQ(classify("GET", "/api/v1/pods?watch=false").verb, "LIST");
  l = classify("POST", "/api/v1/namespaces/default/pods?dryRun=All");
  EXPECT_EQ(l.verb, "POST");
  EXPECT_EQ(l.scope, "resource");  // upstream: a create is resource-scoped
  EXPECT_EQ(l.dryRun, "All");
  EXPECT_TRUE(l.mutating);
  EXPECT_EQ(classify("PUT", "/api/v1/namespaces/default/pods/web/status").subresource, "status");
  EXPECT_EQ(classify("PATCH", "/api/v1/nodes/n1", "application/merge-patch+json").verb, "PATCH");
  EXPECT_EQ(classify("PATCH", "/api/v1/nodes/n1", "application/apply-patch+yaml").verb, "APPLY");
  EXPECT_EQ(classify("DELETE", "/api/v1/namespaces/default/pods/web").verb, "DELETE");
  EXPECT_EQ(classify("DELETE", "/api/v1/namespaces/default/pods").verb, "DELETECOLLECTION");
  l = classify("POST", "/api/v1/namespaces/default/pods/web/exec?command=ls");
  EXPECT_EQ(l.verb, "CONNECT");
  EXPECT_TRUE(l.longRunning);
  l = classify("GET", "/api/v1/namespaces/default/pods/web/log");
  EXPECT_EQ(l.verb, "GET");
  EXPECT_TRUE(l.longRunning);
  l = classify("GET", "/api/v1/nodes/n1/proxy/metrics");
  EXPECT_EQ(l.verb, "CONNECT");
  EXPECT_EQ(l.subresource, "proxy");
  // Health and metrics: the path as subresource, nothing else.
  l = classify("GET", "/readyz");
  EXPECT_EQ(l.verb, "GET");
  EXPECT_EQ(l.subresource, "/readyz");
  EXPECT_EQ(l.component, "");
  EXPECT_EQ(l.scope, "");
  // Discovery, OpenAPI and unknown resources are not measured.
  EXPECT_EQ(classify("GET", "/apis").verb, "");
  EXPECT_EQ(classify("GET", "/openapi/v2").verb, "");
  EXPECT_EQ(classify("GET", "/api/v1/namespaces/default/nosuchthings").verb, "");
}

std::string totalSeries(const std::string& code, const std::string& resource,
                        const std::string& verb, const std::string& scope) {
  return "apiserver_request_total{code=\"" + code +
         "\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"" + resource +
         "\",scope=\"" + scope + "\",subresource=\"\",verb=\"" + verb + "\",version=\"v1\"}";
}

TEST(RequestMetrics, LabelValuesStayBounded) {
  // Whatever method or health sub-path a client sends, the labels come from a fixed set.
  EXPECT_EQ(classify("FROBNICATE", "/api/v1/namespaces/default/pods").verb, "other");
  EXPECT_EQ(classify("X" + std::string(100, 'y'), "/healthz").verb, "other");
  EXPECT_EQ(classify("GET", "/healthz/ping").subresource, "/healthz/ping");
  EXPECT_EQ(classify("GET", "/healthz/anything-at-all-12345").subresource, "/healthz");
  EXPECT_EQ(classify("GET", "/livez/a/b/c").subresource, "/livez");
  // Unknown resources and subresources are not measured at all.
  EXPECT_TRUE(classify("GET", "/api/v1/namespaces/default/widgets").verb.empty());
  EXPECT_TRUE(classify("GET", "/api/v1/namespaces/default/pods/x/bogus").verb.empty());
}

TEST(RequestMetrics, CountsCodesDurationsAndInflight) {
  auto& registry = api::ResourceRegistry::builtin();
  const auto series = totalSeries("404", "configmaps", "GET", "resource");
  double before = sampleValue(Metrics::global().render(), series).value_or(0);
  {
    auto req = makeRequest("GET", "/api/v1/namespaces/default/configmaps/x");
    RequestMetrics m(req, parseResourcePath(req.path, registry));
    auto text = Metrics::global().render();
    EXPECT_GE(sampleValue(text, "apiserver_current_inflight_requests{request_kind=\"readOnly\"}")
                  .value_or(-1),
              1);
    m.failed(404);
  }
  auto text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, series), before + 1);
  EXPECT_NE(text.find("apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run="
                      "\"\",group=\"\","
                      "resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"GET\","
                      "version=\"v1\",le=\"0.005\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("le=\"60\"}"), std::string::npos);
  // A request that leaves without an answer (an unexpected exception) is a 500.
  const auto s500 = totalSeries("500", "configmaps", "LIST", "namespace");
  double before500 = sampleValue(text, s500).value_or(0);
  {
    auto req = makeRequest("GET", "/api/v1/namespaces/default/configmaps");
    RequestMetrics m(req, parseResourcePath(req.path, registry));
  }
  EXPECT_EQ(sampleValue(Metrics::global().render(), s500), before500 + 1);
}

class NullStream : public StreamSource {
 public:
  void start(std::function<void()>) override {}
  bool drain(std::vector<std::string>&) override { return false; }
  void cancel() override {}
};

// A watch stays in apiserver_longrunning_requests until the last holder of its stream lets
// go; only then is it counted (upstream counts a WATCH when it ends).
TEST(RequestMetrics, WatchIsLongRunningUntilItsStreamEnds) {
  auto& registry = api::ResourceRegistry::builtin();
  const std::string gauge =
      "apiserver_longrunning_requests{component=\"apiserver\",group=\"\",resource=\"secrets\","
      "scope=\"namespace\","
      "subresource=\"\",verb=\"WATCH\",version=\"v1\"}";
  const auto total = totalSeries("200", "secrets", "WATCH", "namespace");
  double totalBefore = sampleValue(Metrics::global().render(), total).value_or(0);
  auto stream = std::make_shared<NullStream>();
  std::weak_ptr<NullStream> weak = stream;
  HttpResponse res;
  {
    auto req = makeRequest("GET", "/api/v1/namespaces/default/secrets?watch=1");
    RequestMetrics m(req, parseResourcePath(req.path, registry));
    res.stream = std::move(stream);
    m.done(res);
  }
  auto text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, gauge), 1);
  EXPECT_EQ(sampleValue(text, total).value_or(0), totalBefore);
  EXPECT_FALSE(weak.expired());
  res.stream.reset();
  EXPECT_TRUE(weak.expired());
  text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, gauge), 0);
  EXPECT_EQ(sampleValue(text, total), totalBefore + 1);
}

}  // namespace
}  // namespace skiff::apiserver
