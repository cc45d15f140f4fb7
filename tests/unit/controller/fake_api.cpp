#include "unit/controller/fake_api.h"

#include <boost/url/parse.hpp>

#include "api/json_access.h"
#include "api/json_patch.h"
#include "api/label_selector.h"
#include "api/merge_patch.h"
#include "api/openapi.h"
#include "api/strategic_merge_patch.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::controller::testing {

namespace json = boost::json;

std::string Action::summary() const {
  return verb + " " + resource + (subresource.empty() ? "" : "/" + subresource);
}

namespace {

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string queryParam(std::string_view query, std::string_view name) {
  auto url = boost::urls::parse_relative_ref("?" + std::string(query));
  if (!url) return "";
  auto it = url->params().find(name);
  return it == url->params().end() ? "" : std::string((*it).value);
}

// Fills verb-independent parts of `a` from "/api/v1/..." or "/apis/G/V/...". Returns false
// for anything that is not a resource path.
bool parseTarget(const std::string& path, Action& a) {
  auto segs = splitPath(path);
  size_t i;
  if (segs.size() >= 2 && segs[0] == "api") {
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    a.group = segs[1];
    i = 3;
  } else {
    return false;
  }
  std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
  // namespaces/NS/<resource>...: but namespaces/NAME/status|finalize is the namespace itself.
  bool namespacedPath = rest.size() >= 3 && rest[0] == "namespaces" &&
                        !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"));
  if (namespacedPath) {
    a.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty()) return false;
  a.resource = rest[0];
  if (rest.size() > 1) a.name = rest[1];
  if (rest.size() > 2) a.subresource = rest[2];
  return true;
}

client::HttpResult jsonResult(int status, const json::object& obj) {
  return client::HttpResult{status, "application/json", json::serialize(obj), {}};
}

client::HttpResult errorResult(const ApiError& e) { return jsonResult(e.code(), e.toStatus()); }

std::string keyOf(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string groupOfApiVersion(const json::object& obj) {
  auto av = api::stringAt(obj, {"apiVersion"});
  auto slash = av.find('/');
  return slash == std::string::npos ? "" : av.substr(0, slash);
}

}  // namespace

void FakeApi::stamp(json::object& obj) {
  auto& meta = api::ensureObject(obj, {"metadata"});
  if (api::stringAt(obj, {"metadata", "uid"}).empty()) meta["uid"] = newUid();
  if (api::stringAt(obj, {"metadata", "creationTimestamp"}).empty())
    meta["creationTimestamp"] = formatTime(clock_.now());
  meta["resourceVersion"] = std::to_string(++resourceVersion_);
}

void FakeApi::seed(const std::string& resource, json::object obj) {
  std::lock_guard lock(mu_);
  stamp(obj);
  objects_[resource][keyOf(api::stringAt(obj, {"metadata", "namespace"}),
                           api::stringAt(obj, {"metadata", "name"}))] = std::move(obj);
}

void FakeApi::erase(const std::string& resource, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto r = objects_.find(resource); r != objects_.end()) r->second.erase(keyOf(ns, name));
}

std::optional<json::object> FakeApi::object(const std::string& resource, const std::string& ns,
                                            const std::string& name) const {
  std::lock_guard lock(mu_);
  auto r = objects_.find(resource);
  if (r == objects_.end()) return std::nullopt;
  auto it = r->second.find(keyOf(ns, name));
  if (it == r->second.end()) return std::nullopt;
  return it->second;
}

std::vector<json::object> FakeApi::objects(const std::string& resource,
                                           const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<json::object> out;
  if (auto r = objects_.find(resource); r != objects_.end())
    for (const auto& [key, obj] : r->second)
      if (ns.empty() || api::stringAt(obj, {"metadata", "namespace"}) == ns) out.push_back(obj);
  return out;
}

std::vector<Action> FakeApi::actions() const {
  std::lock_guard lock(mu_);
  return actions_;
}

std::vector<Action> FakeApi::writes() const {
  std::vector<Action> out;
  for (auto& a : actions())
    if (a.verb != "get" && a.verb != "list" && a.verb != "watch" && a.resource != "events")
      out.push_back(a);
  return out;
}

std::vector<std::string> FakeApi::writeSummaries() const {
  std::vector<std::string> out;
  for (auto& a : writes()) out.push_back(a.summary());
  return out;
}

std::vector<std::string> FakeApi::eventReasons() const {
  std::vector<std::string> out;
  for (auto& a : actions())
    if (a.verb == "create" && a.resource == "events" && a.body.is_object())
      out.push_back(api::stringAt(a.object(), {"reason"}));
  return out;
}

void FakeApi::clearActions() {
  std::lock_guard lock(mu_);
  actions_.clear();
}

void FakeApi::fail(const std::string& verb, const std::string& resource, int code,
                   const std::string& reason, int times) {
  std::lock_guard lock(mu_);
  failures_.push_back({verb, resource, code, reason, times});
}

std::optional<client::HttpResult> FakeApi::injectedFailure(const Action& a) {
  std::string res = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if ((it->verb != "*" && it->verb != a.verb) || (it->resource != "*" && it->resource != res))
      continue;
    ApiError e(it->code, it->reason.empty() ? "InternalError" : it->reason,
               "injected failure of " + a.summary());
    if (it->times > 0 && --it->times == 0) failures_.erase(it);
    return errorResult(e);
  }
  return std::nullopt;
}

client::HttpResult FakeApi::request(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& contentType) {
  Action a;
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  if (!parseTarget(path, a))
    return errorResult(ApiError(404, "NotFound", "fake: no such path " + path));
  if (method == "GET")
    a.verb = a.name.empty() ? "list" : "get";
  else if (method == "POST")
    a.verb = "create";
  else if (method == "PUT")
    a.verb = "update";
  else if (method == "PATCH")
    a.verb = "patch";
  else if (method == "DELETE")
    a.verb = "delete";
  if (method == "POST" && !a.name.empty() && a.subresource.empty()) {
    // POST to a subresource of a named object (pods/NAME/binding, eviction).
    a.subresource = a.name;
    a.name.clear();
  }
  if (!body.empty()) {
    boost::system::error_code ec;
    a.body = json::parse(body, ec);
    if (ec) return errorResult(ApiError(400, "BadRequest", "fake: body is not JSON"));
  }
  if (a.verb == "patch") {
    if (contentType.find("strategic") != std::string::npos)
      a.patchType = "strategic";
    else if (contentType.find("json-patch") != std::string::npos)
      a.patchType = "json";
    else
      a.patchType = "merge";
  }
  std::vector<std::pair<std::string, json::object>> changes;  // type, object
  client::HttpResult result;
  {
    std::lock_guard lock(mu_);
    if (auto failed = injectedFailure(a)) {
      actions_.push_back(a);
      return *failed;
    }
    if (a.verb == "list") {
      auto selector = api::LabelSelector::parse(queryParam(query, "labelSelector"));
      json::array items;
      if (auto r = objects_.find(a.resource); r != objects_.end())
        for (const auto& [key, obj] : r->second)
          if ((a.ns.empty() || api::stringAt(obj, {"metadata", "namespace"}) == a.ns) &&
              selector.matches(api::objectAt(obj, {"metadata", "labels"})))
            items.push_back(obj);
      actions_.push_back(a);
      return jsonResult(
          200, json::object{{"kind", "List"},
                            {"apiVersion", "v1"},
                            {"metadata", {{"resourceVersion", std::to_string(resourceVersion_)}}},
                            {"items", std::move(items)}});
    }
    try {
      result = handle(a, contentType, changes);
    } catch (const ApiError& e) {
      result = errorResult(e);
    }
    actions_.push_back(a);
  }
  if (observer)
    for (auto& [type, obj] : changes) observer(a.group, a.resource, type, obj);
  return result;
}

client::HttpResult FakeApi::handle(Action& a, const std::string&,
                                   std::vector<std::pair<std::string, json::object>>& changes) {
  auto& objs = objects_[a.resource];
  auto notFound = [&] {
    return ApiError(404, "NotFound", a.resource + " \"" + a.name + "\" not found");
  };
  if (a.verb == "get") {
    auto it = objs.find(keyOf(a.ns, a.name));
    if (it == objs.end()) throw notFound();
    return jsonResult(200, it->second);
  }
  if (a.verb == "create") {
    if (!a.subresource.empty())
      return jsonResult(201, a.body.is_object() ? a.body.as_object() : json::object{});
    json::object obj = a.body.as_object();
    auto& meta = api::ensureObject(obj, {"metadata"});
    if (api::stringAt(obj, {"metadata", "name"}).empty())
      meta["name"] = api::stringAt(obj, {"metadata", "generateName"}) + "fake" +
                     std::to_string(++nameCounter_);
    if (!a.ns.empty()) meta["namespace"] = a.ns;
    a.name = api::stringAt(obj, {"metadata", "name"});
    auto key = keyOf(a.ns, a.name);
    if (objs.count(key))
      throw ApiError(409, "AlreadyExists", a.resource + " \"" + a.name + "\" already exists");
    stamp(obj);
    objs[key] = obj;
    changes.emplace_back("ADDED", obj);
    return jsonResult(201, obj);
  }
  if (a.verb == "delete" && a.name.empty()) {
    // deletecollection: everything of the resource in the namespace (finalizers still hold).
    a.verb = "deletecollection";
    for (auto i = objs.begin(); i != objs.end();) {
      if (!a.ns.empty() && api::stringAt(i->second, {"metadata", "namespace"}) != a.ns) {
        ++i;
        continue;
      }
      auto* fin = api::arrayAt(i->second, {"metadata", "finalizers"});
      if (fin && !fin->empty()) {
        if (api::stringAt(i->second, {"metadata", "deletionTimestamp"}).empty()) {
          api::ensureObject(i->second, {"metadata"})["deletionTimestamp"] =
              formatTime(clock_.now());
          stamp(i->second);
          changes.emplace_back("MODIFIED", i->second);
        }
        ++i;
        continue;
      }
      changes.emplace_back("DELETED", i->second);
      i = objs.erase(i);
    }
    return jsonResult(
        200, json::object{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"}});
  }
  auto it = objs.find(keyOf(a.ns, a.name));
  if (it == objs.end()) throw notFound();
  json::object& current = it->second;
  if (a.verb == "update") {
    json::object obj = a.body.as_object();
    auto want = api::stringAt(obj, {"metadata", "resourceVersion"});
    if (!want.empty() && want != api::stringAt(current, {"metadata", "resourceVersion"}))
      throw ApiError(409, "Conflict",
                     "Operation cannot be fulfilled on " + a.resource + " \"" + a.name +
                         "\": the object has been modified; please apply your changes to the "
                         "latest version and try again");
    if (!a.subresource.empty()) {
      // A status write changes status only; other subresources are taken whole.
      if (a.subresource == "status") {
        json::object merged = current;
        if (auto* st = obj.if_contains("status")) merged["status"] = *st;
        obj = std::move(merged);
      }
    }
    api::ensureObject(obj, {"metadata"})["uid"] = api::stringAt(current, {"metadata", "uid"});
    stamp(obj);
    current = obj;
    changes.emplace_back("MODIFIED", obj);
    return jsonResult(200, obj);
  }
  if (a.verb == "patch") {
    json::value patched;
    if (a.patchType == "json") {
      patched = api::applyJsonPatch(current, a.body);
    } else if (a.patchType == "strategic") {
      auto def = api::OpenApi::instance().definitionFor(
          groupOfApiVersion(current),
          api::stringAt(current, {"apiVersion"})
              .substr(api::stringAt(current, {"apiVersion"}).find('/') + 1),
          api::stringAt(current, {"kind"}));
      api::PatchSchema schema =
          def ? api::PatchSchema(&api::OpenApi::instance().definitions(), *def)
              : api::PatchSchema();
      patched = api::applyStrategicMergePatch(current, a.body, schema);
    } else {
      patched = api::applyMergePatch(current, a.body);
    }
    json::object obj = patched.as_object();
    stamp(obj);
    current = obj;
    changes.emplace_back("MODIFIED", obj);
    return jsonResult(200, obj);
  }
  if (a.verb == "delete") {
    json::object obj = current;
    auto* fin = api::arrayAt(obj, {"metadata", "finalizers"});
    if (fin && !fin->empty()) {
      // Finalizers hold the object: it is only marked, as the real server does.
      if (api::stringAt(obj, {"metadata", "deletionTimestamp"}).empty()) {
        api::ensureObject(obj, {"metadata"})["deletionTimestamp"] = formatTime(clock_.now());
        stamp(obj);
        current = obj;
        changes.emplace_back("MODIFIED", obj);
      }
      return jsonResult(200, obj);
    }
    objs.erase(it);
    changes.emplace_back("DELETED", obj);
    return jsonResult(200, obj);
  }
  throw ApiError(405, "MethodNotAllowed", "fake: " + a.verb + " not supported");
}

client::HttpResult FakeApi::stream(const std::string& target,
                                   const std::function<void(std::string_view)>&,
                                   client::StreamAbort&) {
  // Tests fill informers directly; nothing watches.
  return errorResult(ApiError(405, "MethodNotAllowed", "fake: no streams (" + target + ")"));
}

client::HttpResult FakeApi::watch(const std::string& target, const EventHandler&,
                                  client::StreamAbort&) {
  return errorResult(ApiError(405, "MethodNotAllowed", "fake: no watches (" + target + ")"));
}

}  // namespace skiff::controller::testing
