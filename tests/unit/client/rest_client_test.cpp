// RestClient against a real in-process API server: kubeconfig, CRUD, errors, paging.
#include "client/rest_client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "common/api_error.h"
#include "test_server.h"

namespace skiff::client {
namespace {

using testing::configMap;
using testing::freshNamespace;
using testing::newClient;
using testing::sharedServer;
namespace json = boost::json;

TEST(Kubeconfig, LoadsHttpsServerWithEmbeddedCaAndClientCert) {
  ClientConfig c = sharedServer().config();
  EXPECT_EQ(c.server, "https://127.0.0.1:" + std::to_string(sharedServer().server->port()));
  EXPECT_NE(c.caPem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(c.clientCertPem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(c.clientKeyPem.find("PRIVATE KEY"), std::string::npos);
}

TEST(Kubeconfig, ReadsFilesRelativeToItselfAndToken) {
  auto dir = std::filesystem::temp_directory_path() /
             ("skiff-kubeconfig-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.pem") << "CA-PEM";
  std::ofstream(dir / "config") << R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: {server: "http://127.0.0.1:1/", certificate-authority: ca.pem, insecure-skip-tls-verify: true}
contexts:
- {name: a, context: {cluster: none, user: u}}
- {name: b, context: {cluster: one, user: u}}
users:
- {name: u, user: {token: sekret}}
)";
  ClientConfig c = loadKubeconfig((dir / "config").string());
  EXPECT_EQ(c.server, "http://127.0.0.1:1");
  EXPECT_EQ(c.caPem, "CA-PEM");
  EXPECT_TRUE(c.insecureSkipTlsVerify);
  EXPECT_EQ(c.token, "sekret");
  EXPECT_THROW(loadKubeconfig((dir / "config").string(), "a"), std::runtime_error);
  EXPECT_THROW(loadKubeconfig((dir / "missing").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(RestClient, TalksToPlainHttpServer) {
  testing::TestServer plain(false);
  ClientConfig c = plain.config();
  EXPECT_EQ(c.server.rfind("http://", 0), 0u);
  RestClient client(c);
  auto ns = client.get(resources::namespaces, "", "default");
  EXPECT_EQ(metaString(ns, "name"), "default");
}

TEST(RestClient, CreateGetUpdatePatchDelete) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "crud");
  auto created = c->create(resources::configMaps, ns, configMap("a", "1"));
  EXPECT_EQ(objectKey(created), ns + "/a");
  EXPECT_FALSE(metaString(created, "uid").empty());

  auto got = c->get(resources::configMaps, ns, "a");
  got["data"].as_object()["v"] = "2";
  auto updated = c->update(resources::configMaps, ns, got);
  EXPECT_EQ(updated.at("data").at("v"), "2");

  auto patched = c->patch(resources::configMaps, ns, "a", PatchType::Merge,
                          json::parse(R"({"data":{"w":"3"}})"));
  EXPECT_EQ(patched.at("data").at("w"), "3");
  EXPECT_EQ(patched.at("data").at("v"), "2");

  c->remove(resources::configMaps, ns, "a");
  try {
    c->get(resources::configMaps, ns, "a");
    FAIL() << "expected NotFound";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 404);
    EXPECT_EQ(e.reason(), "NotFound");
    EXPECT_EQ(e.detailName, "a");
  }
}

TEST(RestClient, ConflictsComeBackAsApiError409) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "conflict");
  auto first = c->create(resources::configMaps, ns, configMap("a", "1"));
  try {
    c->create(resources::configMaps, ns, configMap("a", "1"));
    FAIL() << "expected AlreadyExists";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 409);
    EXPECT_EQ(e.reason(), "AlreadyExists");
  }
  c->patch(resources::configMaps, ns, "a", PatchType::Merge, json::parse(R"({"data":{"v":"2"}})"));
  first["data"].as_object()["v"] = "stale";  // still carries the old resourceVersion
  try {
    c->update(resources::configMaps, ns, first);
    FAIL() << "expected Conflict";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 409);
    EXPECT_EQ(e.reason(), "Conflict");
  }
}

// patchNoResult writes like patch and reports failures the same way; only the answer is
// not parsed.
TEST(RestClient, PatchNoResultWritesAndThrowsLikePatch) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "noresult");
  c->create(resources::configMaps, ns, configMap("a", "1"));
  c->patchNoResult(resources::configMaps, ns, "a", PatchType::Merge,
                   json::parse(R"({"data":{"v":"2"}})"));
  EXPECT_EQ(c->get(resources::configMaps, ns, "a").at("data").at("v"), "2");
  try {
    c->patchNoResult(resources::configMaps, ns, "missing", PatchType::Merge,
                     json::parse(R"({"data":{}})"));
    FAIL() << "expected NotFound";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 404);
    EXPECT_EQ(e.reason(), "NotFound");
  }
}

TEST(RestClient, ListAllFollowsContinueTokens) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "paging");
  for (int i = 0; i < 7; ++i)
    c->create(resources::configMaps, ns, configMap("cm" + std::to_string(i), "x"));
  ListOptions firstPage;
  firstPage.limit = 3;
  auto page = c->list(resources::configMaps, ns, firstPage);
  EXPECT_EQ(page.at("items").as_array().size(), 3u);
  EXPECT_FALSE(page.at("metadata").at("continue").as_string().empty());

  auto all = c->listAll(resources::configMaps, ns, {}, 3);
  ASSERT_EQ(all.at("items").as_array().size(), 7u);
  EXPECT_FALSE(all.at("metadata").at("resourceVersion").as_string().empty());
  EXPECT_FALSE(all.at("metadata").as_object().contains("continue"));
}

TEST(RestClient, ConcurrentRequestsShareTheClient) {
  auto c = newClient();
  std::string ns = freshNamespace(*c, "concurrent");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        c->create(resources::configMaps, ns,
                  configMap("t" + std::to_string(t) + "-" + std::to_string(i), "x"));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->listAll(resources::configMaps, ns).at("items").as_array().size(), 40u);
}

TEST(RestClient, UnreachableServerIsATransportError) {
  ClientConfig cfg;
  cfg.server = "http://127.0.0.1:1";
  RestClient c(cfg);
  EXPECT_THROW(c.get(resources::namespaces, "", "default"), TransportError);
}

}  // namespace
}  // namespace skiff::client
