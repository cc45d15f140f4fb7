#include "client/rest_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "api/managed_fields_text.h"
#include "common/api_error.h"
#include "common/log.h"

namespace json = boost::json;

namespace skiff::client {
namespace {

std::string encode(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

const char* patchContentType(PatchType t) {
  switch (t) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::StrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

json::object parseObject(const HttpResult& res, const std::string& what) {
  if (res.body.empty()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (ec || !v.is_object())
    throw ApiError(500, "InternalError", what + ": server sent a body that is not a JSON object");
  return std::move(v.as_object());
}

}  // namespace

std::string Resource::path(const std::string& ns, const std::string& name,
                           const std::string& subresource) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (!ns.empty()) p += "/namespaces/" + encode(ns);
  p += "/" + resource;
  if (!name.empty()) p += "/" + encode(name);
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

std::string ListOptions::query() const {
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    q += (q.empty() ? "?" : "&") + std::string(k) + "=" + encode(v);
  };
  add("labelSelector", labelSelector);
  add("fieldSelector", fieldSelector);
  add("resourceVersion", resourceVersion);
  if (limit > 0) add("limit", std::to_string(limit));
  add("continue", continueToken);
  if (timeoutSeconds > 0) add("timeoutSeconds", std::to_string(timeoutSeconds));
  if (allowWatchBookmarks) add("allowWatchBookmarks", "true");
  return q;
}

void throwApiError(const HttpResult& res, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (!ec && v.is_object() && v.as_object().contains("kind") &&
      v.as_object().at("kind") == "Status") {
    const auto& s = v.as_object();
    auto str = [&](const json::object& o, const char* k) {
      auto* p = o.if_contains(k);
      return p && p->is_string() ? std::string(p->as_string()) : std::string();
    };
    int code = res.status;
    if (auto* c = s.if_contains("code"); c && c->is_int64()) code = static_cast<int>(c->as_int64());
    ApiError e(code, str(s, "reason"), str(s, "message"));
    if (auto* d = s.if_contains("details"); d && d->is_object()) {
      e.detailName = str(d->as_object(), "name");
      e.detailGroup = str(d->as_object(), "group");
      e.detailKind = str(d->as_object(), "kind");
      if (auto* ra = d->as_object().if_contains("retryAfterSeconds"); ra && ra->is_int64())
        e.retryAfterSeconds = static_cast<int>(ra->as_int64());
      if (auto* causes = d->as_object().if_contains("causes"); causes && causes->is_array())
        for (auto& c : causes->as_array())
          if (c.is_object())
            e.causes.push_back({str(c.as_object(), "reason"), str(c.as_object(), "message"),
                                str(c.as_object(), "field")});
    }
    throw e;
  }
  // Not a Status (e.g. a proxy in between): keep the status code, the body is the message.
  throw ApiError(res.status, res.status == 404 ? "NotFound" : "Unknown",
                 what + ": HTTP " + std::to_string(res.status) + ": " + res.body.substr(0, 512));
}

RestClient::RestClient(ClientConfig config)
    : config_(std::move(config)), transport_(std::make_unique<HttpTransport>(config_)) {}
RestClient::~RestClient() = default;

json::object RestClient::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& contentType) {
  auto res = exchange(method, target, body, contentType);
  return parseObject(res, method + " " + target);
}

void RestClient::send(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& contentType) {
  exchange(method, target, body, contentType);
}

HttpResult RestClient::exchange(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& contentType) {
  auto res = transport_->request(method, target, body, body.empty() ? "" : contentType);
  // Like client-go: a 429 that names a Retry-After is retried (at most 10 times), since the
  // server promised the request will be accepted later.
  for (int tries = 1; res.status == 429 && tries < 10; ++tries) {
    int seconds = 0;
    for (auto& [k, v] : res.headers)
      if (k == "Retry-After") seconds = std::atoi(v.c_str());
    if (seconds <= 0) break;
    SKIFF_LOG_DEBUG("client throttled, retrying method={} target={} after={}s", method, target,
                    seconds);
    std::this_thread::sleep_for(std::chrono::seconds(std::min(seconds, 60)));
    res = transport_->request(method, target, body, body.empty() ? "" : contentType);
  }
  if (res.status < 200 || res.status >= 300) throwApiError(res, method + " " + target);
  return res;
}

json::object RestClient::get(const Resource& r, const std::string& ns, const std::string& name) {
  return request("GET", r.path(ns, name));
}

json::object RestClient::list(const Resource& r, const std::string& ns,
                              const ListOptions& options) {
  return request("GET", r.path(ns) + options.query());
}

json::object RestClient::listAll(const Resource& r, const std::string& ns, ListOptions options,
                                 int64_t pageSize) {
  options.limit = pageSize;
  options.continueToken.clear();
  json::object all = list(r, ns, options);
  json::array items = all["items"].is_array() ? std::move(all["items"].as_array()) : json::array();
  for (;;) {
    auto& meta = all["metadata"];
    auto* cont = meta.is_object() ? meta.as_object().if_contains("continue") : nullptr;
    if (!cont || !cont->is_string() || cont->as_string().empty()) break;
    options.continueToken = std::string(cont->as_string());
    // Later pages are served at the first page's snapshot; resourceVersion must not be
    // combined with continue.
    options.resourceVersion.clear();
    json::object page = list(r, ns, options);
    if (auto* pi = page.if_contains("items"); pi && pi->is_array())
      for (auto& item : pi->as_array()) items.push_back(std::move(item));
    if (page["metadata"].is_object()) {
      auto& pm = page["metadata"].as_object();
      auto* next = pm.if_contains("continue");
      meta.as_object()["continue"] = next ? *next : json::value("");
    }
  }
  all["items"] = std::move(items);
  if (all["metadata"].is_object()) all["metadata"].as_object().erase("continue");
  return all;
}

json::object RestClient::create(const Resource& r, const std::string& ns, const json::object& obj) {
  return request("POST", r.path(ns), api::objectJson(obj));
}

json::object RestClient::update(const Resource& r, const std::string& ns, const json::object& obj) {
  return request("PUT", r.path(ns, metaString(obj, "name")), api::objectJson(obj));
}

json::object RestClient::updateStatus(const Resource& r, const std::string& ns,
                                      const json::object& obj) {
  return request("PUT", r.path(ns, metaString(obj, "name"), "status"), api::objectJson(obj));
}

json::object RestClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const json::value& body,
                               const std::string& subresource) {
  std::string target = r.path(ns, name, subresource);
  if (type == PatchType::Apply) target += "?fieldManager=" + encode(config_.userAgent);
  return request("PATCH", target, json::serialize(body), patchContentType(type));
}

void RestClient::patchNoResult(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const json::value& body,
                               const std::string& subresource) {
  std::string target = r.path(ns, name, subresource);
  if (type == PatchType::Apply) target += "?fieldManager=" + encode(config_.userAgent);
  send("PATCH", target, json::serialize(body), patchContentType(type));
}

json::object RestClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                                const json::object& deleteOptions) {
  return request("DELETE", r.path(ns, name),
                 deleteOptions.empty() ? "" : json::serialize(deleteOptions));
}

std::string metaString(const json::object& obj, const char* field) {
  auto* meta = obj.if_contains("metadata");
  if (!meta || !meta->is_object()) return {};
  auto* v = meta->as_object().if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string objectKey(const json::object& obj) {
  std::string ns = metaString(obj, "namespace");
  return ns.empty() ? metaString(obj, "name") : ns + "/" + metaString(obj, "name");
}

}  // namespace skiff::client
