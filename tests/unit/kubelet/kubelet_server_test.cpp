// The kubelet's HTTPS server on 127.0.0.1 with real certificates, and `kubectl logs`' path
// end to end: API server pods/log → kubelet /containerLogs → CRI log file.
#include "kubelet/kubelet_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "apiserver/api_server.h"
#include "client/http_transport.h"
#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "common/log.h"
#include "common/pki.h"

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

fs::path freshDir(const std::string& prefix) {
  static std::atomic<int> n{0};
  fs::path dir = fs::temp_directory_path() /
                 (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void appendFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text;
}

// Containers the fake pod workers know: "ns/pod/container" → log file and state.
class FakePods {
 public:
  void set(const std::string& key, std::string path, bool running) {
    std::lock_guard lock(mu_);
    targets_[key] = LogTarget{std::move(path), running};
  }
  void setRunning(const std::string& key, bool running) {
    std::lock_guard lock(mu_);
    targets_[key].running = running;
  }
  void fail(const std::string& key, int code, std::string message) {
    std::lock_guard lock(mu_);
    failures_[key] = {code, std::move(message)};
  }
  LogLocator locator() {
    return [this](const std::string& ns, const std::string& pod, const std::string& container,
                  bool previous, std::string& message, int& code) -> std::optional<LogTarget> {
      std::lock_guard lock(mu_);
      std::string key = ns + "/" + pod + "/" + container + (previous ? "/previous" : "");
      if (auto f = failures_.find(key); f != failures_.end()) {
        code = f->second.first;
        message = f->second.second;
        return std::nullopt;
      }
      auto it = targets_.find(key);
      if (it == targets_.end()) {
        code = 404;
        message = "pod \"" + pod + "\" not found";
        return std::nullopt;
      }
      return it->second;
    };
  }

 private:
  std::mutex mu_;
  std::map<std::string, LogTarget> targets_;
  std::map<std::string, std::pair<int, std::string>> failures_;
};

// A cluster CA, a client certificate it signed, and a kubelet server trusting it.
class KubeletServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);
    dir_ = freshDir("skiff-kubelet-server");
    ca_ = createCa("test-ca");
    client_ = issueCertificate(ca_, "kube-apiserver-kubelet-client", {"system:masters"}, {}, {},
                               false, true);
    writeFileAtomic((dir_ / "ca.crt").string(), ca_.certPem, 0644);
    logPath_ = (dir_ / "default_web_uid1" / "app" / "0.log").string();
    fs::create_directories(fs::path(logPath_).parent_path());
    appendFile(logPath_,
               "2024-05-01T10:00:00Z stdout F hello\n"
               "2024-05-01T10:00:01Z stderr P wor\n"
               "2024-05-01T10:00:01Z stderr F ld\n");
    pods_.set("default/web/app", logPath_, true);

    KubeletServerOptions o;
    o.listen = "127.0.0.1:0";
    o.certDir = (dir_ / "pki").string();
    o.nodeName = "node-1";
    o.nodeIps = {"127.0.0.1"};
    o.clientCaFile = (dir_ / "ca.crt").string();
    o.followPollInterval = std::chrono::milliseconds(20);
    server_ = std::make_unique<KubeletServer>(o, pods_.locator(), [] {
      return json::array{json::object{{"metadata", {{"name", "web"}, {"namespace", "default"}}}}};
    });
    server_->start();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  client::ClientConfig config(bool withCert, const CertKeyPair* cert = nullptr) const {
    client::ClientConfig c;
    c.server = "https://127.0.0.1:" + std::to_string(server_->port());
    c.insecureSkipTlsVerify = true;  // the kubelet's certificate is self-signed
    if (withCert) {
      c.clientCertPem = (cert ? cert : &client_)->certPem;
      c.clientKeyPem = (cert ? cert : &client_)->keyPem;
    }
    return c;
  }
  client::HttpResult get(const std::string& target, bool withCert = true) {
    client::HttpTransport t(config(withCert));
    return t.request("GET", target);
  }

  fs::path dir_;
  CertKeyPair ca_, client_;
  std::string logPath_;
  FakePods pods_;
  std::unique_ptr<KubeletServer> server_;
};

TEST_F(KubeletServerTest, HealthzNeedsNoCertificate) {
  auto r = get("/healthz", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(KubeletServerTest, RejectsRequestsWithoutAClientCertificate) {
  auto r = get("/containerLogs/default/web/app", false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "Unauthorized");  // upstream's plain-text body, not a Status
  EXPECT_EQ(get("/pods", false).status, 401);
}

TEST_F(KubeletServerTest, RejectsACertificateOfAnotherCa) {
  auto otherCa = createCa("other-ca");
  auto stranger = issueCertificate(otherCa, "mallory", {"system:masters"}, {}, {}, false, true);
  client::HttpTransport t(config(true, &stranger));
  EXPECT_EQ(t.request("GET", "/containerLogs/default/web/app").status, 401);
}

TEST_F(KubeletServerTest, ServesContainerLogs) {
  auto r = get("/containerLogs/default/web/app");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType, "text/plain");
  EXPECT_EQ(r.body, "hello\nworld\n");
}

TEST_F(KubeletServerTest, AppliesLogOptions) {
  auto r = get("/containerLogs/default/web/app?tailLines=1&timestamps=true");
  EXPECT_EQ(r.body, "2024-05-01T10:00:01.000000000Z world\n");
  r = get("/containerLogs/default/web/app?sinceTime=2024-05-01T10%3A00%3A01Z");
  EXPECT_EQ(r.body, "world\n");
  r = get("/containerLogs/default/web/app?limitBytes=3");
  EXPECT_EQ(r.body, "hel");
  EXPECT_EQ(get("/containerLogs/default/web/app?tailLines=-1").status, 422);
  EXPECT_EQ(get("/containerLogs/default/web/app?tailLines=x").status, 400);
}

TEST_F(KubeletServerTest, UnknownPodsAndPathsAre404) {
  auto r = get("/containerLogs/default/nope/app");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body).at("message"), "pod \"nope\" not found");
  EXPECT_EQ(get("/containerLogs/default/web").status, 404);
  EXPECT_EQ(get("/exec/default/web/app").status, 404);
}

TEST_F(KubeletServerTest, LocatorErrorsKeepTheirCode) {
  pods_.fail("default/web/app/previous", 400,
             "previous terminated container \"app\" in pod \"web\" not found");
  auto r = get("/containerLogs/default/web/app?previous=true");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body).at("reason"), "BadRequest");
  EXPECT_EQ(json::parse(r.body).at("message"),
            "previous terminated container \"app\" in pod \"web\" not found");
}

TEST_F(KubeletServerTest, ListsPods) {
  auto r = get("/pods");
  EXPECT_EQ(r.status, 200);
  auto list = json::parse(r.body).as_object();
  EXPECT_EQ(list.at("kind"), "PodList");
  EXPECT_EQ(list.at("apiVersion"), "v1");
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
}

TEST_F(KubeletServerTest, FollowStreamsUntilTheContainerStops) {
  client::HttpTransport t(config(true));
  client::StreamAbort abort;
  std::mutex mu;
  std::condition_variable cv;
  std::string received;
  std::atomic<bool> finished{false};
  client::HttpResult result;
  std::thread reader([&] {
    result = t.stream(
        "/containerLogs/default/web/app?follow=true",
        [&](std::string_view data) {
          std::lock_guard lock(mu);
          received.append(data);
          cv.notify_all();
        },
        abort);
    finished = true;
    cv.notify_all();
  });
  auto waitFor = [&](const std::string& text) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5),
                       [&] { return received.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(waitFor("hello\nworld\n"));
  appendFile(logPath_, "2024-05-01T10:00:05Z stdout F later\n");
  EXPECT_TRUE(waitFor("later\n"));
  EXPECT_FALSE(finished.load());
  pods_.setRunning("default/web/app", false);
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return finished.load(); }));
  }
  if (!finished) abort.abort();
  reader.join();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(received, "hello\nworld\nlater\n");
}

TEST_F(KubeletServerTest, AddRouteIsTheExtensionPoint) {
  KubeletServerOptions o;
  o.listen = "127.0.0.1:0";
  o.certDir = (dir_ / "pki").string();
  o.clientCaPem = ca_.certPem;
  KubeletServer server(o, pods_.locator(), {});
  server.addRoute("/stats/summary", [](net::HttpRequest&) {
    net::HttpResponse res;
    res.body = "{}";
    return res;
  });
  server.start();
  client::ClientConfig c = config(true);
  c.server = "https://127.0.0.1:" + std::to_string(server.port());
  client::HttpTransport t(c);
  EXPECT_EQ(t.request("GET", "/stats/summary").status, 200);
  EXPECT_EQ(t.request("GET", "/stats").status, 404);
  client::ClientConfig anonymous = config(false);
  anonymous.server = c.server;
  EXPECT_EQ(client::HttpTransport(anonymous).request("GET", "/stats/summary").status, 401);
}

TEST_F(KubeletServerTest, ServingCertificateIsCreatedOnceAndReused) {
  std::string cert = readFile(server_->certFile());
  EXPECT_NE(cert.find("BEGIN CERTIFICATE"), std::string::npos);
  server_->stop();
  ensureKubeletServingCert(server_->certFile(), server_->keyFile(), "node-1", {"127.0.0.1"});
  EXPECT_EQ(readFile(server_->certFile()), cert);
}

// --- kubectl logs' path: the API server proxies pods/log to the kubelet of the pod's node.

class KubeletServerPodLogTest : public KubeletServerTest {
 protected:
  void SetUp() override {
    KubeletServerTest::SetUp();
    apiDir_ = freshDir("skiff-kubelet-apiserver");
    apiserver::ApiServerOptions o;
    // No controller manager creates ServiceAccounts here: pods are admitted without one.
    o.disableAdmissionPlugins = {"ServiceAccount"};
    o.dataDir = apiDir_.string();
    o.listen = "127.0.0.1:0";
    o.storage = "memory";
    o.threads = 2;
    api_ = std::make_unique<apiserver::ApiServer>(o);
    api_->start();
    admin_ = client::loadKubeconfig(api_->kubeconfigPath());

    // This kubelet trusts the API server's CA, whose admin certificate the API server shows.
    KubeletServerOptions ko;
    ko.listen = "127.0.0.1:0";
    ko.certDir = (apiDir_ / "kubelet-pki").string();
    ko.nodeName = "node-1";
    ko.clientCaPem = admin_.caPem;
    ko.followPollInterval = std::chrono::milliseconds(20);
    // Authorized as a real kubelet is: TokenReviews and SubjectAccessReviews to this server,
    // so the API server's kubelet-client identity needs its bootstrap binding.
    reviewClient_ = std::make_unique<client::RestClient>(admin_);
    ko.auth = std::make_shared<KubeletAuth>("node-1", apiTokenReviewer(*reviewClient_),
                                            apiAccessReviewer(*reviewClient_));
    kubelet_ = std::make_unique<KubeletServer>(ko, pods_.locator(), PodLister{});
    kubelet_->start();

    client::RestClient c(admin_);
    c.create(client::resources::nodes, "",
             json::object{
                 {"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", "node-1"}}},
                 {"status",
                  {{"addresses",
                    json::array{json::object{{"type", "Hostname"}, {"address", "node-1.invalid"}},
                                json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
                   {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", kubelet_->port()}}}}}}}});
    c.create(
        client::resources::pods, "default",
        json::object{
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "web"}}},
            {"spec",
             {{"nodeName", "node-1"},
              {"containers", json::array{json::object{{"name", "app"}, {"image", "nginx"}}}}}}});
  }
  void TearDown() override {
    kubelet_.reset();
    reviewClient_.reset();
    api_.reset();
    fs::remove_all(apiDir_);
    KubeletServerTest::TearDown();
  }

  fs::path apiDir_;
  std::unique_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<client::RestClient> reviewClient_;
  std::unique_ptr<KubeletServer> kubelet_;
  client::ClientConfig admin_;

  // A ServiceAccount token, straight to the kubelet (no client certificate).
  std::string serviceAccountToken(const std::string& name) {
    client::RestClient c(admin_);
    c.create(client::resources::serviceAccounts, "default",
             json::object{
                 {"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", name}}}});
    auto tr =
        c.request("POST", "/api/v1/namespaces/default/serviceaccounts/" + name + "/token",
                  R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}})");
    return std::string(tr.at("status").at("token").as_string());
  }
  client::HttpResult kubeletGet(const std::string& target, const std::string& token) {
    client::ClientConfig c;
    c.server = "https://127.0.0.1:" + std::to_string(kubelet_->port());
    c.insecureSkipTlsVerify = true;
    c.token = token;
    client::HttpTransport t(c);
    return t.request("GET", target);
  }
};

TEST_F(KubeletServerPodLogTest, ServiceAccountTokensAreReviewedAndAuthorized) {
  std::string token = serviceAccountToken("reader");
  EXPECT_EQ(kubeletGet("/containerLogs/default/web/app", "not-a-token").status, 401);
  auto r = kubeletGet("/containerLogs/default/web/app", token);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body,
            "Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=nodes, "
            "subresource(s)=[proxy])");
  client::RestClient c(admin_);
  c.create(client::Resource{"rbac.authorization.k8s.io", "v1", "clusterroles"}, "",
           json::parse(R"({"metadata":{"name":"node-proxy"},"rules":[{"apiGroups":[""],
             "resources":["nodes/proxy"],"verbs":["get"]}]})")
               .as_object());
  c.create(client::Resource{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"}, "",
           json::parse(R"({"metadata":{"name":"reader-proxy"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"node-proxy"},
             "subjects":[{"kind":"ServiceAccount","name":"reader2","namespace":"default"}]})")
               .as_object());
  // Another account (the first one's denial is cached for 30 s, as upstream's).
  std::string token2 = serviceAccountToken("reader2");
  r = kubeletGet("/containerLogs/default/web/app", token2);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello\nworld\n");
  EXPECT_EQ(kubeletGet("/stats/summary", token2).status, 403);  // nodes/stats not granted
}

TEST_F(KubeletServerPodLogTest, ReturnsTheContainerLog) {
  client::HttpTransport t(admin_);
  auto r = t.request("GET", "/api/v1/namespaces/default/pods/web/log");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType, "text/plain");
  EXPECT_EQ(r.body, "hello\nworld\n");
  r = t.request(
      "GET", "/api/v1/namespaces/default/pods/web/log?container=app&tailLines=1&timestamps=true");
  EXPECT_EQ(r.body, "2024-05-01T10:00:01.000000000Z world\n");
  // sinceTime reaches the kubelet in whole seconds, as upstream sends it.
  r = t.request(
      "GET",
      "/api/v1/namespaces/default/pods/web/log?sinceTime=2024-05-01T12%3A00%3A01.7%2B02%3A00");
  EXPECT_EQ(r.body, "world\n");
}

TEST_F(KubeletServerPodLogTest, FollowStreamsLinesAsTheyAreWritten) {
  client::HttpTransport t(admin_);
  client::StreamAbort abort;
  std::mutex mu;
  std::condition_variable cv;
  std::string received;
  std::atomic<bool> finished{false};
  client::HttpResult result;
  std::thread reader([&] {
    result = t.stream(
        "/api/v1/namespaces/default/pods/web/log?container=app&follow=true",
        [&](std::string_view data) {
          std::lock_guard lock(mu);
          received.append(data);
          cv.notify_all();
        },
        abort);
    finished = true;
    cv.notify_all();
  });
  auto waitFor = [&](const std::function<bool()>& cond) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), cond);
  };
  EXPECT_TRUE(waitFor([&] { return received == "hello\nworld\n"; }));
  appendFile(logPath_, "2024-05-01T10:00:05Z stdout F appended later\n");
  EXPECT_TRUE(waitFor([&] { return received.find("appended later\n") != std::string::npos; }));
  EXPECT_FALSE(finished.load());
  pods_.setRunning("default/web/app", false);
  EXPECT_TRUE(waitFor([&] { return finished.load(); }));
  if (!finished) abort.abort();
  reader.join();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(received, "hello\nworld\nappended later\n");
}

TEST_F(KubeletServerPodLogTest, ClientLeavingAFollowEndsIt) {
  client::HttpTransport t(admin_);
  client::StreamAbort abort;
  std::atomic<bool> gotData{false};
  std::thread reader([&] {
    t.stream(
        "/api/v1/namespaces/default/pods/web/log?follow=true",
        [&](std::string_view) { gotData = true; }, abort);
  });
  for (int i = 0; i < 500 && !gotData; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(gotData.load());
  abort.abort();
  reader.join();
  // The servers stay healthy: another request is answered.
  EXPECT_EQ(t.request("GET", "/api/v1/namespaces/default/pods/web/log").body, "hello\nworld\n");
}

TEST_F(KubeletServerPodLogTest, KubeletErrorsPassThroughWithTheirCode) {
  pods_.fail("default/web/app", 400,
             "container \"app\" in pod \"web\" is waiting to start: ContainerCreating");
  client::HttpTransport t(admin_);
  auto r = t.request("GET", "/api/v1/namespaces/default/pods/web/log");
  EXPECT_EQ(r.status, 400);
  auto status = json::parse(r.body).as_object();
  EXPECT_EQ(status.at("reason"), "BadRequest");
  EXPECT_EQ(status.at("message"),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating");
}

}  // namespace
}  // namespace skiff::kubelet
