// One real in-process API server (memory storage, HTTPS) shared by the client tests. Tests
// isolate themselves by using their own namespace or object names.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "apiserver/api_server.h"
#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "common/log.h"

namespace skiff::client::testing {

struct TestServer {
  std::string dir;
  std::unique_ptr<apiserver::ApiServer> server;

  explicit TestServer(bool tls) {
    spdlog::set_level(spdlog::level::warn);
    static std::atomic<int> n{0};
    dir = (std::filesystem::temp_directory_path() /
           ("skiff-client-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    apiserver::ApiServerOptions o;
    // No controller manager creates ServiceAccounts here: pods are admitted without one.
    o.disableAdmissionPlugins = {"ServiceAccount"};
    o.dataDir = dir;
    o.listen = "127.0.0.1:0";
    o.storage = "memory";
    o.threads = 2;
    o.tls = tls;
    server = std::make_unique<apiserver::ApiServer>(o);
    server->start();
  }
  ~TestServer() {
    server->stop();
    std::filesystem::remove_all(dir);
  }
  ClientConfig config() const { return loadKubeconfig(server->kubeconfigPath()); }
};

// The HTTPS server every test shares (started on first use).
inline TestServer& sharedServer() {
  static TestServer s(true);
  return s;
}

inline std::shared_ptr<RestClient> newClient() {
  return std::make_shared<RestClient>(sharedServer().config());
}

// A fresh namespace per test keeps tests independent on the shared server.
inline std::string freshNamespace(RestClient& c, const std::string& prefix) {
  static std::atomic<int> n{0};
  std::string ns = prefix + "-" + std::to_string(n++);
  c.create(resources::namespaces, "",
           boost::json::object{{"apiVersion", "v1"},
                               {"kind", "Namespace"},
                               {"metadata", boost::json::object{{"name", ns}}}});
  return ns;
}

inline boost::json::object configMap(const std::string& name, const std::string& value) {
  return boost::json::object{{"apiVersion", "v1"},
                             {"kind", "ConfigMap"},
                             {"metadata", boost::json::object{{"name", name}}},
                             {"data", boost::json::object{{"v", value}}}};
}

// Waits (short sleeps, test-only) until `cond` holds or the timeout passes.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace skiff::client::testing
