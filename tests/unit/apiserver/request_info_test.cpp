#include "apiserver/request_info.h"

#include <gtest/gtest.h>

#include "http_request_util.h"

namespace skiff::apiserver {
namespace {

const auto& registry = api::ResourceRegistry::builtin();

TEST(RequestInfo, NamespacedObjectWithSubresource) {
  auto ri = parseResourcePath("/apis/apps/v1/namespaces/team/deployments/web/scale", registry);
  ASSERT_TRUE(ri);
  EXPECT_EQ(ri->group, "apps");
  EXPECT_EQ(ri->namespaceName, "team");
  EXPECT_EQ(ri->resource, "deployments");
  EXPECT_EQ(ri->name, "web");
  EXPECT_EQ(ri->subresource, "scale");
  ASSERT_NE(ri->info, nullptr);
  EXPECT_EQ(ri->info->kind, "Deployment");
}

TEST(RequestInfo, AllNamespacesCollection) {
  auto ri = parseResourcePath("/api/v1/pods", registry);
  ASSERT_TRUE(ri);
  EXPECT_EQ(ri->namespaceName, "");
  EXPECT_EQ(ri->resource, "pods");
  EXPECT_EQ(ri->name, "");
}

TEST(RequestInfo, NamespaceSubresourceIsNotACollection) {
  auto ri = parseResourcePath("/api/v1/namespaces/team/finalize", registry);
  ASSERT_TRUE(ri);
  EXPECT_EQ(ri->resource, "namespaces");
  EXPECT_EQ(ri->name, "team");
  EXPECT_EQ(ri->subresource, "finalize");
}

TEST(RequestInfo, UnknownResourceHasNoInfo) {
  auto ri = parseResourcePath("/apis/apps/v1/namespaces/team/widgets", registry);
  ASSERT_TRUE(ri);
  EXPECT_EQ(ri->info, nullptr);
}

TEST(RequestInfo, NonResourcePathsAreNotParsed) {
  EXPECT_FALSE(parseResourcePath("/api/v1", registry));
  EXPECT_FALSE(parseResourcePath("/healthz", registry));
}

TEST(RequestInfo, KubeletCallsAndListsRunOffTheEventLoop) {
  for (const char* target :
       {"/api/v1/namespaces/ns/pods/p/log?follow=true", "/api/v1/namespaces/ns/pods/p/exec",
        "/api/v1/namespaces/ns/pods/p/attach", "/api/v1/namespaces/ns/pods/p/portforward",
        "/api/v1/nodes/n1/proxy/stats/summary", "/api/v1/pods",
        "/api/v1/namespaces/ns/pods?limit=500", "/apis/apps/v1/deployments", "/api/v1/namespaces"})
    EXPECT_TRUE(runsOffTheEventLoop(makeRequest("GET", target), registry)) << target;
  for (const char* target :
       {"/api/v1/namespaces/ns/pods/p", "/api/v1/namespaces/ns/pods/p/status",
        "/api/v1/pods?watch=true", "/api/v1/namespaces/ns", "/healthz", "/api/v1"})
    EXPECT_FALSE(runsOffTheEventLoop(makeRequest("GET", target), registry)) << target;
  EXPECT_FALSE(runsOffTheEventLoop(makeRequest("POST", "/api/v1/namespaces/ns/pods"), registry));
  EXPECT_FALSE(
      runsOffTheEventLoop(makeRequest("POST", "/api/v1/namespaces/ns/pods/p/binding"), registry));
}

TEST(RequestInfo, WritesOfResourcesWaitForTheirCommitOffTheEventLoop) {
  EXPECT_TRUE(waitsForCommit(makeRequest("POST", "/api/v1/namespaces/ns/pods"), registry));
  EXPECT_TRUE(waitsForCommit(makeRequest("PUT", "/api/v1/namespaces/ns/pods/p/status"), registry));
  EXPECT_TRUE(
      waitsForCommit(makeRequest("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d"), registry));
  EXPECT_TRUE(waitsForCommit(makeRequest("DELETE", "/api/v1/namespaces/ns/pods"), registry));
  EXPECT_TRUE(
      waitsForCommit(makeRequest("POST", "/api/v1/namespaces/ns/pods/p/binding"), registry));
  // Reads stay on the loop; so do writes to paths that are no resource.
  EXPECT_FALSE(waitsForCommit(makeRequest("GET", "/api/v1/namespaces/ns/pods/p"), registry));
  EXPECT_FALSE(waitsForCommit(makeRequest("POST", "/api/v1"), registry));
  EXPECT_FALSE(waitsForCommit(makeRequest("POST", "/healthz"), registry));
}

}  // namespace
}  // namespace skiff::apiserver
