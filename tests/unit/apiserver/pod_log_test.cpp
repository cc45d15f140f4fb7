// pods/log on an in-process API server: discovery, option validation, container choice, the
// node's kubelet address, and failures to reach a kubelet. Answers from a real kubelet
// (lines, follow, its errors) are tested end to end in tests/unit/kubelet/kubelet_server_test.cpp,
// since this binary does not link the kubelet.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "apiserver/admission.h"
#include "apiserver/api_server.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/request_info.h"
#include "common/api_error.h"
#include "common/log.h"
#include "storage/store.h"
#include "unit/apiserver/net_test_util.h"

namespace skiff::apiserver {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct Answer {
  int code = 0;
  std::string body;  // response body, or the error Status message
  std::string reason;
};

class PodLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("skiff-pod-log-test-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    ApiServerOptions o;
    // No controller manager creates ServiceAccounts here: pods are admitted without one.
    o.disableAdmissionPlugins = {"ServiceAccount"};
    o.dataDir = dir_->string();
    o.listen = "127.0.0.1:0";
    o.storage = "memory";
    o.threads = 2;
    server_ = new ApiServer(o);
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static Answer call(const std::string& method, const std::string& path,
                     const std::multimap<std::string, std::string>& query = {},
                     const std::string& body = "") {
    HttpRequest req;
    req.client = std::make_shared<const skiff::net::ClientIdentity>(skiff::net::ClientIdentity{
        "admin", {"system:masters"}, {}, {}});  // as the admin certificate
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = query;
    req.body = body;
    if (!body.empty()) req.headers["content-type"] = "application/json";
    try {
      HttpResponse res = server_->handle(req);
      Answer a{res.status, res.body, ""};
      if (res.stream) {
        res.stream->start([] {});
        std::vector<std::string> chunks;
        while (res.stream->drain(chunks)) {
        }
        for (auto& c : chunks) a.body += c;
        res.stream->cancel();
      }
      return a;
    } catch (const ApiError& e) {
      return {e.code(), e.what(), e.reason()};
    }
  }
  static void create(const std::string& path, const json::object& obj) {
    Answer a = call("POST", path, {}, json::serialize(obj));
    ASSERT_EQ(a.code, 201) << a.body;
  }
  static json::object pod(const std::string& name, const std::string& node,
                          std::vector<std::string> containers,
                          std::vector<std::string> initContainers = {}) {
    json::array cs, ics;
    for (const auto& c : containers) cs.push_back(json::object{{"name", c}, {"image", "nginx"}});
    for (const auto& c : initContainers)
      ics.push_back(json::object{{"name", c}, {"image", "busybox"}});
    json::object spec{{"containers", cs}};
    if (!ics.empty()) spec["initContainers"] = ics;
    if (!node.empty()) spec["nodeName"] = node;
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
  }
  static json::object node(const std::string& name, json::array addresses, int port) {
    json::object status{{"addresses", std::move(addresses)}};
    if (port) status["daemonEndpoints"] = {{"kubeletEndpoint", {{"Port", port}}}};
    return {
        {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}, {"status", status}};
  }
  static std::string logPath(const std::string& name) {
    return "/api/v1/namespaces/default/pods/" + name + "/log";
  }
  static fs::path* dir_;
  static ApiServer* server_;
};

fs::path* PodLogTest::dir_ = nullptr;
ApiServer* PodLogTest::server_ = nullptr;

TEST_F(PodLogTest, DiscoveryListsPodsLog) {
  Answer a = call("GET", "/api/v1");
  ASSERT_EQ(a.code, 200);
  bool found = false;
  json::value list = json::parse(a.body);
  for (const auto& r : list.at("resources").as_array()) {
    if (r.at("name") != "pods/log") continue;
    found = true;
    EXPECT_EQ(r.at("kind"), "Pod");
    EXPECT_EQ(json::serialize(r.at("verbs")), "[\"get\"]");
    EXPECT_EQ(r.at("namespaced"), true);
  }
  EXPECT_TRUE(found);
}

TEST_F(PodLogTest, MultiContainerPodsNeedAContainerName) {
  create("/api/v1/namespaces/default/pods", pod("multi", "nowhere", {"a", "b"}, {"init"}));
  Answer a = call("GET", logPath("multi"));
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.reason, "BadRequest");
  EXPECT_EQ(a.body, "a container name must be specified for pod multi, choose one of: [init a b]");
  a = call("GET", logPath("multi"), {{"container", "c"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "container c is not valid for pod multi");
}

TEST_F(PodLogTest, UnscheduledPodsHaveNoLogsYet) {
  create("/api/v1/namespaces/default/pods", pod("pending", "", {"app"}));
  Answer a = call("GET", logPath("pending"));
  EXPECT_EQ(a.code, 204);
  EXPECT_EQ(a.body, "");
  // The container is still checked first.
  EXPECT_EQ(call("GET", logPath("pending"), {{"container", "x"}}).code, 400);
}

TEST_F(PodLogTest, MissingPodAndNode) {
  Answer a = call("GET", logPath("ghost"));
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "pods \"ghost\" not found");
  create("/api/v1/namespaces/default/pods", pod("orphan", "no-such-node", {"app"}));
  a = call("GET", logPath("orphan"));
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "nodes \"no-such-node\" not found");
}

TEST_F(PodLogTest, NodeWithoutUsableAddress) {
  create("/api/v1/nodes", node("addressless", json::array{}, 10250));
  create("/api/v1/namespaces/default/pods", pod("stranded", "addressless", {"app"}));
  Answer a = call("GET", logPath("stranded"));
  EXPECT_EQ(a.code, 500);
  EXPECT_EQ(a.body, "no preferred addresses found; known addresses: []");
}

TEST_F(PodLogTest, ValidatesOptions) {
  create("/api/v1/namespaces/default/pods", pod("opts", "", {"app"}));
  Answer a = call("GET", logPath("opts"), {{"tailLines", "-1"}});
  EXPECT_EQ(a.code, 422);
  EXPECT_EQ(a.body,
            "PodLogOptions \"opts\" is invalid: tailLines: Invalid value: -1: must be greater than "
            "or equal to 0");
  EXPECT_EQ(call("GET", logPath("opts"), {{"limitBytes", "0"}}).code, 422);
  EXPECT_EQ(call("GET", logPath("opts"), {{"sinceSeconds", "0"}}).code, 422);
  EXPECT_EQ(
      call("GET", logPath("opts"), {{"sinceSeconds", "5"}, {"sinceTime", "2024-05-01T10:00:00Z"}})
          .code,
      422);
  a = call("GET", logPath("opts"), {{"tailLines", "ten"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "strconv.ParseInt: parsing \"ten\": invalid syntax");
  EXPECT_EQ(call("GET", logPath("opts"), {{"sinceTime", "yesterday"}}).code, 400);
  EXPECT_EQ(call("POST", logPath("opts"), {}, "{}").code, 405);
}

TEST_F(PodLogTest, DeadKubeletFailsQuicklyWithGoWording) {
  const int port = test::closedPort();
  create("/api/v1/nodes",
         node("dead",
              json::array{json::object{{"type", "ExternalIP"}, {"address", "192.0.2.1"}},
                          json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}}},
              port));
  create("/api/v1/namespaces/default/pods", pod("on-dead", "dead", {"app"}));
  auto start = std::chrono::steady_clock::now();
  Answer a = call("GET", logPath("on-dead"), {{"follow", "true"}, {"tailLines", "10"}});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(a.code, 500);
  const std::string url = "https://127.0.0.1:" + std::to_string(port) +
                          "/containerLogs/default/on-dead/app?follow=true&tailLines=10";
  EXPECT_EQ(a.body, "Get \"" + url + "\": dial tcp 127.0.0.1:" + std::to_string(port) +
                        ": connect: connection refused");
}

// A kubelet whose process hangs (the kernel still accepts connections): the TLS handshake
// times out instead of holding the request.
TEST(PodLogProxyTest, HungKubeletTimesOut) {
  const auto& registry = api::ResourceRegistry::builtin();
  storage::StorePtr store = storage::openMemoryStore();
  CacheHub caches{*store};
  for (const auto& r : registry.all()) caches.cacheFor(r.storagePrefix());
  caches.start();
  Admission admission{caches};
  ResourceStore resources{*store, caches, admission};

  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);

  RequestContext ctx;
  resources.create(*registry.find("", "v1", "namespaces"), "",
                   json::parse(R"({"metadata":{"name":"default"}})"), ctx);
  resources.create(
      *registry.find("", "v1", "nodes"), "",
      json::parse(
          R"({"metadata":{"name":"hung"},"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":)" +
          std::to_string(port) + "}}}}"),
      ctx);
  resources.create(
      *registry.find("", "v1", "pods"), "default",
      json::parse(
          R"({"metadata":{"name":"web"},"spec":{"nodeName":"hung","containers":[{"name":"app","image":"nginx"}]}})"),
      ctx);

  KubeletClientOptions options;
  options.tlsHandshakeTimeout = std::chrono::milliseconds(300);
  options.allowLoopback = true;  // the fake kubelet is on 127.0.0.1
  KubeletProxy proxy(options);
  HttpRequest req;
  req.method = "GET";
  req.path = req.target = "/api/v1/namespaces/default/pods/web/log";
  auto ri = parseResourcePath(req.path, registry);
  ASSERT_TRUE(ri);
  auto start = std::chrono::steady_clock::now();
  try {
    proxy.podLog(resources, *ri, req);
    ADD_FAILURE() << "expected an error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 500);
    EXPECT_EQ(std::string(e.what()),
              "Get \"https://127.0.0.1:" + std::to_string(port) +
                  "/containerLogs/default/web/app\": net/http: TLS handshake timeout");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ::close(listener);
}

}  // namespace
}  // namespace skiff::apiserver
