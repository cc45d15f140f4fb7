#include "apiserver/request_options.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"
#include "http_request_util.h"

namespace skiff::apiserver {
namespace {

// The ApiError a call throws, or a failure when it throws none.
template <class F>
ApiError errorOf(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "");
}

TEST(RequestOptions, BooleansAreTrueUnlessZeroOrFalseInAnyCase) {
  for (const char* v : {"true", "True", "1", "", "yes"})
    EXPECT_TRUE(makeRequest("GET", std::string("/api/v1/pods?watch=") + v).flag("watch")) << v;
  for (const char* v : {"false", "FALSE", "False", "0"})
    EXPECT_FALSE(makeRequest("GET", std::string("/api/v1/pods?watch=") + v).flag("watch")) << v;
  EXPECT_FALSE(makeRequest("GET", "/api/v1/pods").flag("watch"));
}

TEST(RequestOptions, IntegersParseAsGoStrconv) {
  EXPECT_EQ(int64Param(makeRequest("GET", "/x?limit=%2B5"), "limit"),
            5);  // "+" in a query is a space
  EXPECT_EQ(int64Param(makeRequest("GET", "/x?limit=-5"), "limit"), -5);
  EXPECT_EQ(int64Param(makeRequest("GET", "/x"), "limit"), std::nullopt);
  EXPECT_STREQ(errorOf([] { int64Param(makeRequest("GET", "/x?limit="), "limit"); }).what(),
               "strconv.ParseInt: parsing \"\": invalid syntax");
  auto bad = errorOf([] { int64Param(makeRequest("GET", "/x?limit=abc"), "limit"); });
  EXPECT_EQ(bad.code(), 400);
  EXPECT_EQ(bad.reason(), "BadRequest");
  EXPECT_STREQ(bad.what(), "strconv.ParseInt: parsing \"abc\": invalid syntax");
  auto range =
      errorOf([] { int64Param(makeRequest("GET", "/x?limit=99999999999999999999"), "limit"); });
  EXPECT_STREQ(range.what(),
               "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
  EXPECT_EQ(errorOf([] { int64Param(makeRequest("GET", "/x?limit=1.5"), "limit"); }).code(), 400);
  EXPECT_EQ(errorOf([] { int64Param(makeRequest("GET", "/x?limit=%2B-1"), "limit"); }).code(), 400);
}

TEST(RequestOptions, ListRefusesResourceVersionMatchWithoutResourceVersion) {
  auto e = errorOf(
      [] { listOptionsFrom(makeRequest("GET", "/api/v1/pods?resourceVersionMatch=Exact")); });
  EXPECT_EQ(e.code(), 422);
  EXPECT_STREQ(e.what(),
               "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: "
               "resourceVersionMatch is forbidden unless resourceVersion is provided");
  auto status = e.toStatus();
  EXPECT_EQ(status.at("details").at("kind"), "ListOptions");
  EXPECT_EQ(status.at("details").at("group"), "meta.k8s.io");
}

TEST(RequestOptions, ListRefusesUnknownMatchAndExactZero) {
  auto unknown = errorOf([] {
    listOptionsFrom(
        makeRequest("GET", "/api/v1/pods?resourceVersion=5&resourceVersionMatch=Newest"));
  });
  EXPECT_STREQ(unknown.what(),
               "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: "
               "\"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
  auto zero = errorOf([] {
    listOptionsFrom(
        makeRequest("GET", "/api/v1/pods?resourceVersion=0&resourceVersionMatch=Exact"));
  });
  EXPECT_EQ(zero.code(), 422);
  auto opts = listOptionsFrom(makeRequest(
      "GET", "/api/v1/pods?resourceVersion=7&resourceVersionMatch=NotOlderThan&limit=2"));
  EXPECT_EQ(opts.limit, 2);
  EXPECT_EQ(opts.resourceVersion, "7");
}

TEST(RequestOptions, ListRefusesSendInitialEvents) {
  auto e =
      errorOf([] { listOptionsFrom(makeRequest("GET", "/api/v1/pods?sendInitialEvents=true")); });
  EXPECT_STREQ(e.what(),
               "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: "
               "sendInitialEvents is forbidden for list");
}

TEST(RequestOptions, WatchNeedsNotOlderThanWithInitialEvents) {
  auto e = errorOf(
      [] { watchOptionsFrom(makeRequest("GET", "/api/v1/pods?watch=1&sendInitialEvents=true")); });
  EXPECT_EQ(e.code(), 422);
  EXPECT_NE(std::string(e.what()).find(
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
            std::string::npos);
  auto w = watchOptionsFrom(makeRequest(
      "GET",
      "/api/v1/"
      "pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=9"));
  EXPECT_TRUE(w.sendInitialEvents);
  EXPECT_EQ(w.timeoutSeconds, 9);
  EXPECT_EQ(errorOf([] {
              watchOptionsFrom(makeRequest("GET", "/api/v1/pods?watch=1&timeoutSeconds=x"));
            }).code(),
            400);
}

TEST(RequestOptions, DryRunAcceptsOnlyAll) {
  EXPECT_TRUE(
      requestContextFrom(makeRequest("POST", "/api/v1/namespaces/a/pods?dryRun=All")).dryRun);
  EXPECT_FALSE(requestContextFrom(makeRequest("POST", "/api/v1/namespaces/a/pods")).dryRun);
  auto e = errorOf(
      [] { requestContextFrom(makeRequest("POST", "/api/v1/namespaces/a/pods?dryRun=Some")); });
  EXPECT_EQ(e.code(), 422);
  EXPECT_STREQ(e.what(),
               "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: "
               "[]string{\"Some\"}: supported values: \"All\"");
  auto put = errorOf(
      [] { requestContextFrom(makeRequest("PUT", "/api/v1/namespaces/a/pods/p?dryRun=x")); });
  EXPECT_EQ(put.toStatus().at("details").at("kind"), "UpdateOptions");
}

TEST(RequestOptions, FieldValidationAndFieldManagerAreChecked) {
  auto ctx = requestContextFrom(
      makeRequest("POST", "/api/v1/namespaces/a/pods?fieldValidation=Strict&fieldManager=me"));
  EXPECT_EQ(ctx.fieldValidation, "Strict");
  EXPECT_EQ(ctx.fieldManager, "me");
  EXPECT_EQ(requestContextFrom(makeRequest("POST", "/api/v1/namespaces/a/pods")).fieldValidation,
            "Warn");
  auto bad = errorOf([] {
    requestContextFrom(makeRequest("POST", "/api/v1/namespaces/a/pods?fieldValidation=Loose"));
  });
  EXPECT_STREQ(bad.what(),
               "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported "
               "value: \"Loose\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
  auto longName = errorOf([] {
    requestContextFrom(
        makeRequest("POST", "/api/v1/namespaces/a/pods?fieldManager=" + std::string(129, 'm')));
  });
  EXPECT_STREQ(longName.what(),
               "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: "
               "may not be more than 128 bytes");
  // A GET carries no write options, so nothing is validated.
  EXPECT_NO_THROW(requestContextFrom(makeRequest("GET", "/api/v1/pods?fieldValidation=Loose")));
}

TEST(RequestOptions, ApplyPatchNeedsAFieldManagerAndOthersRefuseForce) {
  auto apply = makeRequest("PATCH", "/api/v1/namespaces/a/configmaps/c");
  apply.headers["content-type"] = "application/apply-patch+yaml";
  auto e = errorOf([&] { requestContextFrom(apply); });
  EXPECT_STREQ(e.what(),
               "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
               "is required for apply patch");
  auto merge = makeRequest("PATCH", "/api/v1/namespaces/a/configmaps/c?force=true");
  merge.headers["content-type"] = "application/merge-patch+json";
  auto f = errorOf([&] { requestContextFrom(merge); });
  EXPECT_STREQ(f.what(),
               "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
               "specified for non-apply patch");
}

TEST(RequestOptions, DeleteOptionsFromQueryAndBody) {
  RequestContext ctx;
  auto req = makeRequest("DELETE", "/api/v1/namespaces/a/pods/p?gracePeriodSeconds=0&dryRun=All");
  req.headers["content-type"] = "application/json";
  req.body = R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"})";
  auto o = deleteOptionsFrom(req, ctx);
  EXPECT_EQ(o.gracePeriodSeconds, 0);
  EXPECT_EQ(o.propagationPolicy, "Foreground");
  EXPECT_TRUE(ctx.dryRun);
  auto bad = errorOf([&] {
    RequestContext c;
    deleteOptionsFrom(makeRequest("DELETE", "/api/v1/namespaces/a/pods/p?propagationPolicy=Later"),
                      c);
  });
  EXPECT_STREQ(bad.what(),
               "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
               "value: \"Later\": supported values: \"Foreground\", \"Background\", "
               "\"Orphan\", \"nil\"");
  auto grace = errorOf([&] {
    RequestContext c;
    deleteOptionsFrom(makeRequest("DELETE", "/api/v1/namespaces/a/pods/p?gracePeriodSeconds=soon"),
                      c);
  });
  EXPECT_EQ(grace.code(), 400);
}

}  // namespace
}  // namespace skiff::apiserver
