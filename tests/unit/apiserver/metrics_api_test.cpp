// metrics.k8s.io on an in-process API server with a fake kubelet (HTTPS, /metrics/resource in
// upstream's format, CPU counters that grow at a known rate): the scraper's rate, the
// objects' shapes, selectors, not-found errors as metrics-server words them, writes, Table
// output, discovery, the APIService and the RBAC role.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "../common/metrics_test_util.h"
#include "apiserver/api_server.h"
#include "apiserver/kubelet_scrape_connection.h"
#include "common/api_error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pki.h"
#include "net/http_server.h"

namespace skiff::apiserver {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct Answer {
  int code = 0;
  std::string body;
  std::string reason;
  json::value json() const { return json::parse(body); }
};

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The fake kubelet: node at 1.5 cores, pod "burner" (containers burn 0.25, side 0.01 cores),
// pod "other" in namespace "team" at 0.1; counters computed from the sample's own timestamp so
// every rate is exact.
class FakeKubelet {
 public:
  // `idleTimeout`: how long the kubelet keeps a connection without a request open.
  explicit FakeKubelet(const fs::path& dir,
                       std::chrono::milliseconds idleTimeout = std::chrono::minutes(5)) {
    ServerPki pki = ensureServerPki(dir.string(), {"127.0.0.1"}, {"localhost"});
    net::HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 1;
    o.idleTimeout = idleTimeout;
    o.tlsCertFile = pki.serverCert;
    o.tlsKeyFile = pki.serverKey;
    // As a kubelet: client certificates asked for (this CA did not sign the API server's, and
    // none is required here), which is what makes session resumption need a session context.
    o.clientCaFile = pki.caCert;
    server_ = std::make_unique<net::HttpServer>(o, [this](net::HttpRequest& req) {
      {
        std::lock_guard lock(mu_);
        peers_.insert(req.remoteAddress);
        ++requests_;
      }
      net::HttpResponse res;
      if (req.path != "/metrics/resource") {
        res.status = 404;
        return res;
      }
      const int64_t ts = nowMs();
      const double t = static_cast<double>(ts - t0_) / 1000;
      auto line = [&](const char* metric, const std::string& labels, double v) {
        return std::string(metric) + labels + " " + std::to_string(v) + " " + std::to_string(ts) +
               "\n";
      };
      auto c = [](const char* ns, const char* pod, const char* container) {
        return std::string("{container=\"") + container + "\",namespace=\"" + ns + "\",pod=\"" +
               pod + "\"}";
      };
      res.contentType = "text/plain; version=0.0.4";
      res.body =
          "# TYPE node_cpu_usage_seconds_total counter\n" +
          line("node_cpu_usage_seconds_total", "", 1000 + 1.5 * t) +
          line("node_memory_working_set_bytes", "", 2147483648.0) +
          line("container_cpu_usage_seconds_total", c("default", "burner", "burn"), 0.25 * t) +
          line("container_cpu_usage_seconds_total", c("default", "burner", "side"), 0.01 * t) +
          line("container_cpu_usage_seconds_total", c("team", "other", "app"), 0.1 * t) +
          line("container_memory_working_set_bytes", c("default", "burner", "burn"), 1263616) +
          line("container_memory_working_set_bytes", c("default", "burner", "side"), 4096) +
          line("container_memory_working_set_bytes", c("team", "other", "app"), 1048576) +
          line("container_start_time_seconds", c("default", "burner", "burn"), 1.7e9) +
          "resource_scrape_error 0\n";
      return res;
    });
    server_->start();
  }
  int port() const { return server_->port(); }
  size_t peers() {
    std::lock_guard lock(mu_);
    return peers_.size();
  }
  size_t requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  const int64_t t0_ = nowMs() - 100000;
  std::mutex mu_;
  std::set<std::string> peers_;
  size_t requests_ = 0;
  std::unique_ptr<net::HttpServer> server_;
};

class MetricsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("skiff-metrics-api-test-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    kubelet_ = new FakeKubelet(*dir_ / "kubelet");
    ApiServerOptions o;
    o.disableAdmissionPlugins = {"ServiceAccount"};
    o.dataDir = (*dir_ / "server").string();
    o.listen = "127.0.0.1:0";
    o.storage = "memory";
    o.threads = 2;
    o.metricResolution = std::chrono::milliseconds(1000);
    server_ = new ApiServer(o);
    server_->start();

    create("/api/v1/namespaces", {{"metadata", {{"name", "team"}}}});
    create("/api/v1/nodes", node("n1", kubelet_->port(), {{"zone", "a"}}));
    // A node whose kubelet does not answer: it exists, but has no metrics.
    create("/api/v1/nodes", node("n2", 1, {}));
    runningPod("default", "burner", "n1", {"burn", "side"}, {{"app", "burn"}});
    runningPod("team", "other", "n1", {"app"}, {{"app", "other"}});
    create("/api/v1/namespaces/default/pods", pod("default", "pending", "n1", {"burn"}, {}));
    // Two scrapes are needed for a rate.
    for (int i = 0; i < 100 && call("GET", kPods + "/namespaces/default/pods/burner").code != 200;
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete kubelet_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static Answer call(const std::string& method, const std::string& path,
                     const std::multimap<std::string, std::string>& query = {},
                     const std::string& body = "", const std::string& accept = "") {
    HttpRequest req;
    req.client = std::make_shared<const skiff::net::ClientIdentity>(
        skiff::net::ClientIdentity{"admin", {"system:masters"}, {}, {}});
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = query;
    req.body = body;
    if (!body.empty()) req.headers["content-type"] = "application/json";
    if (!accept.empty()) req.headers["accept"] = accept;
    try {
      HttpResponse res = server_->handle(req);
      return {res.status, res.body, ""};
    } catch (const ApiError& e) {
      return {e.code(), e.what(), e.reason()};
    }
  }
  static void create(const std::string& path, const json::object& obj) {
    Answer a = call("POST", path, {}, json::serialize(obj));
    ASSERT_EQ(a.code, 201) << a.body;
  }
  static json::object node(const std::string& name, int port, json::object labels) {
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}, {"labels", labels}}},
            {"status",
             {{"addresses",
               json::array{json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
              {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", port}}}}}}}};
  }
  static json::object pod(const std::string& ns, const std::string& name, const std::string& node,
                          std::vector<std::string> containers, json::object labels) {
    json::array cs;
    for (const auto& c : containers) cs.push_back(json::object{{"name", c}, {"image", "busybox"}});
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
            {"spec", {{"containers", cs}, {"nodeName", node}}}};
  }
  static void runningPod(const std::string& ns, const std::string& name, const std::string& node,
                         std::vector<std::string> containers, json::object labels) {
    const std::string path = "/api/v1/namespaces/" + ns + "/pods";
    create(path, pod(ns, name, node, containers, labels));
    Answer got = call("GET", path + "/" + name);
    json::value p = got.json();
    p.as_object()["status"] = json::object{{"phase", "Running"}};
    Answer a = call("PUT", path + "/" + name + "/status", {}, json::serialize(p));
    ASSERT_EQ(a.code, 200) << a.body;
  }

  static inline const std::string kPods = "/apis/metrics.k8s.io/v1beta1";
  static fs::path* dir_;
  static ApiServer* server_;
  static FakeKubelet* kubelet_;
};

fs::path* MetricsApiTest::dir_ = nullptr;
ApiServer* MetricsApiTest::server_ = nullptr;
FakeKubelet* MetricsApiTest::kubelet_ = nullptr;

// Nanocores of a Quantity as the API writes it ("250m", "12345n").
double cores(const json::value& q) {
  std::string s(q.as_string());
  if (s.ends_with("n")) return std::stod(s) / 1e9;
  if (s.ends_with("u")) return std::stod(s) / 1e6;
  if (s.ends_with("m")) return std::stod(s) / 1e3;
  return std::stod(s);
}

TEST_F(MetricsApiTest, PodMetricsShapeAndRate) {
  Answer a = call("GET", kPods + "/namespaces/default/pods/burner");
  ASSERT_EQ(a.code, 200) << a.body;
  json::object o = a.json().as_object();
  EXPECT_EQ(o.at("kind"), "PodMetrics");
  EXPECT_EQ(o.at("apiVersion"), "metrics.k8s.io/v1beta1");
  EXPECT_EQ(o.at("metadata").at("name"), "burner");
  EXPECT_EQ(o.at("metadata").at("namespace"), "default");
  EXPECT_EQ(o.at("metadata").at("labels").at("app"), "burn");
  EXPECT_TRUE(o.at("metadata").as_object().contains("creationTimestamp"));
  EXPECT_TRUE(o.at("timestamp").as_string().ends_with("Z"));
  // The window is the time between the two scrapes (about the 1 s resolution).
  std::string window(o.at("window").as_string());
  EXPECT_TRUE(window.ends_with("s")) << window;
  const auto& containers = o.at("containers").as_array();
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0].at("name"), "burn");
  EXPECT_NEAR(cores(containers[0].at("usage").at("cpu")), 0.25, 0.0005);
  EXPECT_EQ(containers[0].at("usage").at("memory"), "1234Ki");
  EXPECT_EQ(containers[1].at("name"), "side");
  EXPECT_NEAR(cores(containers[1].at("usage").at("cpu")), 0.01, 0.0005);
  EXPECT_EQ(containers[1].at("usage").at("memory"), "4Ki");
}

TEST_F(MetricsApiTest, NodeMetricsShapeAndRate) {
  Answer a = call("GET", kPods + "/nodes/n1");
  ASSERT_EQ(a.code, 200) << a.body;
  json::object o = a.json().as_object();
  EXPECT_EQ(o.at("kind"), "NodeMetrics");
  EXPECT_EQ(o.at("metadata").at("name"), "n1");
  EXPECT_EQ(o.at("metadata").at("labels").at("zone"), "a");
  EXPECT_FALSE(o.at("metadata").as_object().contains("namespace"));
  EXPECT_NEAR(cores(o.at("usage").at("cpu")), 1.5, 0.001);
  EXPECT_EQ(o.at("usage").at("memory"), "2Gi");

  a = call("GET", kPods + "/nodes");
  ASSERT_EQ(a.code, 200);
  o = a.json().as_object();
  EXPECT_EQ(o.at("kind"), "NodeMetricsList");
  EXPECT_EQ(json::serialize(o.at("metadata")), "{}");
  ASSERT_EQ(o.at("items").as_array().size(), 1u);  // n2 has no metrics
  EXPECT_FALSE(o.at("items").at(0).as_object().contains("kind"));
  EXPECT_EQ(call("GET", kPods + "/nodes", {{"labelSelector", "zone=b"}})
                .json()
                .at("items")
                .as_array()
                .size(),
            0u);
  EXPECT_EQ(call("GET", kPods + "/nodes", {{"fieldSelector", "metadata.name=n1"}})
                .json()
                .at("items")
                .as_array()
                .size(),
            1u);
}

TEST_F(MetricsApiTest, ListsWithSelectorsAndAllNamespaces) {
  auto names = [](const Answer& a) {
    std::vector<std::string> out;
    const json::value v = a.json();
    for (const auto& i : v.at("items").as_array())
      out.push_back(std::string(i.at("metadata").at("namespace").as_string()) + "/" +
                    std::string(i.at("metadata").at("name").as_string()));
    return out;
  };
  Answer all = call("GET", kPods + "/pods");
  ASSERT_EQ(all.code, 200) << all.body;
  EXPECT_EQ(all.json().at("kind"), "PodMetricsList");
  // The pending pod has no metrics: not listed.
  EXPECT_EQ(names(all), (std::vector<std::string>{"default/burner", "team/other"}));
  EXPECT_EQ(names(call("GET", kPods + "/namespaces/team/pods")),
            (std::vector<std::string>{"team/other"}));
  EXPECT_EQ(names(call("GET", kPods + "/pods", {{"labelSelector", "app=burn"}})),
            (std::vector<std::string>{"default/burner"}));
  EXPECT_EQ(names(call("GET", kPods + "/pods", {{"labelSelector", "app in (burn,other)"}})).size(),
            2u);
  EXPECT_EQ(names(call("GET", kPods + "/pods", {{"fieldSelector", "metadata.namespace=team"}})),
            (std::vector<std::string>{"team/other"}));
  EXPECT_EQ(names(call("GET", kPods + "/namespaces/default/pods",
                       {{"fieldSelector", "metadata.name!=burner"}}))
                .size(),
            0u);
  Answer bad = call("GET", kPods + "/pods", {{"labelSelector", "app in (x"}});
  EXPECT_EQ(bad.code, 400);
}

TEST_F(MetricsApiTest, NotFoundAsMetricsServer) {
  Answer a = call("GET", kPods + "/namespaces/default/pods/ghost");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.reason, "NotFound");
  EXPECT_EQ(a.body, "pods \"ghost\" not found");
  a = call("GET", kPods + "/namespaces/default/pods/pending");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "podmetrics.metrics.k8s.io \"default/pending\" not found");
  a = call("GET", kPods + "/nodes/ghost");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "node \"ghost\" not found");
  a = call("GET", kPods + "/nodes/n2");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "nodemetrics.metrics.k8s.io \"n2\" not found");
  EXPECT_EQ(call("GET", kPods + "/nodes/n1/status").code, 404);
  EXPECT_EQ(call("GET", kPods + "/deployments").code, 404);
}

TEST_F(MetricsApiTest, WritesAndWatchAreRefused) {
  Answer a = call("POST", kPods + "/namespaces/default/pods", {}, "{}");
  EXPECT_EQ(a.code, 405);
  EXPECT_EQ(a.reason, "MethodNotAllowed");
  EXPECT_EQ(call("DELETE", kPods + "/nodes/n1").code, 405);
  EXPECT_EQ(call("PATCH", kPods + "/namespaces/default/pods/burner", {}, "{}").code, 405);
  EXPECT_EQ(call("GET", kPods + "/pods", {{"watch", "true"}}).code, 405);
}

TEST_F(MetricsApiTest, TableAsMetricsServer) {
  Answer a = call("GET", kPods + "/namespaces/default/pods", {}, "",
                  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  ASSERT_EQ(a.code, 200) << a.body;
  json::object t = a.json().as_object();
  EXPECT_EQ(t.at("kind"), "Table");
  std::vector<std::string> columns;
  for (const auto& c : t.at("columnDefinitions").as_array())
    columns.emplace_back(c.at("name").as_string());
  EXPECT_EQ(columns, (std::vector<std::string>{"Name", "cpu", "memory", "Window"}));
  const auto& cells = t.at("rows").at(0).at("cells").as_array();
  EXPECT_EQ(cells[0], "burner");
  EXPECT_NEAR(cores(cells[1]), 0.26, 0.001);  // summed over the containers
  EXPECT_EQ(cells[2], "1238Ki");
  EXPECT_EQ(t.at("rows").at(0).at("object").at("kind"), "PartialObjectMetadata");
  // No rows, no columns.
  a = call("GET", kPods + "/nodes", {{"labelSelector", "zone=none"}}, "",
           "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(a.json().at("columnDefinitions").as_array().size(), 0u);
}

TEST_F(MetricsApiTest, DiscoveryApiServiceAndRole) {
  Answer a = call("GET", kPods);
  ASSERT_EQ(a.code, 200);
  EXPECT_EQ(a.json().at("groupVersion"), "metrics.k8s.io/v1beta1");
  EXPECT_EQ(a.json().at("resources").at(0).at("kind"), "NodeMetrics");
  EXPECT_EQ(a.json().at("resources").at(1).at("namespaced"), true);
  a = call("GET", "/apis/metrics.k8s.io");
  ASSERT_EQ(a.code, 200) << a.body;
  EXPECT_EQ(a.json().at("preferredVersion").at("groupVersion"), "metrics.k8s.io/v1beta1");
  a = call("GET", "/apis");
  EXPECT_NE(a.body.find("\"metrics.k8s.io\""), std::string::npos);
  a = call("GET", "/apis", {}, "",
           "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  ASSERT_EQ(a.code, 200);
  bool found = false;
  const json::value groups = a.json();
  for (const auto& g : groups.at("items").as_array()) {
    if (g.at("metadata").at("name") != "metrics.k8s.io") continue;
    found = true;
    const auto& resources = g.at("versions").at(0).at("resources").as_array();
    ASSERT_EQ(resources.size(), 2u);
    EXPECT_EQ(resources[0].at("resource"), "nodes");
    EXPECT_EQ(resources[1].at("scope"), "Namespaced");
  }
  EXPECT_TRUE(found);

  Answer svc;
  for (int i = 0; i < 50; ++i) {
    svc = call("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io");
    if (svc.body.find("\"Available\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(svc.code, 200);
  json::value s = svc.json();
  EXPECT_EQ(s.at("spec").at("groupPriorityMinimum"), 100);
  EXPECT_EQ(s.at("spec").at("versionPriority"), 100);
  EXPECT_EQ(s.at("status").at("conditions").at(0).at("status"), "True");

  Answer role = call("GET",
                     "/apis/rbac.authorization.k8s.io/v1/clusterroles/"
                     "system:aggregated-metrics-reader");
  ASSERT_EQ(role.code, 200);
  json::value r = role.json();
  EXPECT_EQ(r.at("metadata").at("labels").at("rbac.authorization.k8s.io/aggregate-to-view"),
            "true");
  EXPECT_EQ(r.at("rules").at(0).at("apiGroups").at(0), "metrics.k8s.io");
}

double handshakes(const char* resumed) {
  return testing::sampleValue(
             Metrics::global().render(),
             std::string("skiff_kubelet_client_tls_handshakes_total{resumed=\"") + resumed + "\"}")
      .value_or(0);
}

// Scrapes (one a second here) reuse the node's connection: no TCP or TLS handshake per scrape.
TEST_F(MetricsApiTest, ScrapesKeepTheirConnection) {
  const size_t before = kubelet_->requests(), peersBefore = kubelet_->peers();
  const double handshakesBefore = handshakes("true") + handshakes("false");
  for (int i = 0; i < 50 && kubelet_->requests() < before + 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(kubelet_->requests(), before + 2);
  EXPECT_EQ(kubelet_->peers(), peersBefore);
  EXPECT_EQ(handshakes("true") + handshakes("false"), handshakesBefore);
}

// A kubelet that closes idle connections before the next scrape: the scraper notices, opens a
// new connection resuming the TLS session of the one before, and the metrics keep coming.
TEST_F(MetricsApiTest, ClosedConnectionsAreReopenedResumingTheSession) {
  FakeKubelet closing(*dir_ / "closing-kubelet", std::chrono::milliseconds(200));
  create("/api/v1/nodes", node("n9", closing.port(), {}));
  const double resumedBefore = handshakes("true");
  for (int i = 0; i < 60 && closing.requests() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(closing.requests(), 3u);
  EXPECT_GE(closing.peers(), 3u);  // a connection per scrape: each was closed while idle
  EXPECT_GE(handshakes("true"), resumedBefore + 2);
  EXPECT_EQ(call("GET", kPods + "/nodes/n9").code, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/nodes/n9").code, 200);
}

// A kubelet that reset the connection: writing to it again gets EPIPE, whose SIGPIPE (OpenSSL
// writes with write(), skiff does not ignore the signal) must not end the process.
TEST(ScrapeConnectionTest, WritingToAResetConnectionFailsWithoutSigpipe) {
  const fs::path dir =
      fs::temp_directory_path() / ("skiff-scrape-conn-test-" + std::to_string(::getpid()));
  auto kubelet = std::make_unique<FakeKubelet>(dir, std::chrono::milliseconds(100));
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  auto within = [] { return ScrapeConnection::Clock::now() + std::chrono::seconds(5); };
  auto conn =
      ScrapeConnection::open(ctx.get(), "127.0.0.1", kubelet->port(), within(), within(), nullptr);
  bool answered = false;
  auto res = conn->get("127.0.0.1", "/metrics/resource", 1 << 20, within(), answered);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.keepAlive);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // closed by its idle timeout
  EXPECT_FALSE(conn->idleAndOpen());
  for (int i = 0; i < 3; ++i) {
    answered = true;
    EXPECT_THROW(conn->get("127.0.0.1", "/metrics/resource", 1 << 20, within(), answered),
                 ScrapeError);
    EXPECT_FALSE(answered);
  }
  conn.reset();
  kubelet.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace skiff::apiserver
