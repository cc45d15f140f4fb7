#include "apiserver/auth/authn_endpoints.h"

#include <boost/json.hpp>
#include <chrono>

#include "apiserver/content.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::apiserver::auth {

namespace json = boost::json;

namespace {

constexpr int64_t kMinExpirationSeconds = 600;           // 10 minutes
constexpr int64_t kMaxExpirationSeconds = 4294967296LL;  // 2^32

const json::object* objectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
std::string stringAt(const json::object* o, std::string_view key) {
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

json::object decodeReview(HttpRequest& req, const char* kind) {
  json::value body = decodeRequestBody(req);
  if (!body.is_object()) throw badRequest(std::string("the ") + kind + " must be an object");
  json::object& o = body.as_object();
  const std::string k = stringAt(&o, "kind"), v = stringAt(&o, "apiVersion");
  if ((!k.empty() && k != kind) || (!v.empty() && v != "authentication.k8s.io/v1"))
    throw badRequest(
        "the body of the request was in an unknown format - accepted media types "
        "include: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf");
  return std::move(o);
}

std::vector<std::string> stringList(const json::object* o, std::string_view key) {
  std::vector<std::string> out;
  if (!o) return out;
  const json::value* v = o->if_contains(key);
  if (v && v->is_array())
    for (const auto& item : v->as_array())
      if (item.is_string()) out.emplace_back(item.as_string());
  return out;
}

json::array toArray(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

std::string nowTime() { return formatTime(std::chrono::system_clock::now()); }

}  // namespace

json::object userInfoJson(const UserInfo& user) {
  json::object o;
  if (!user.user.empty()) o["username"] = user.user;
  if (!user.uid.empty()) o["uid"] = user.uid;
  if (!user.groups.empty()) o["groups"] = toArray(user.groups);
  if (!user.extra.empty()) {
    json::object extra;
    for (const auto& [k, v] : user.extra) extra[k] = toArray(v);
    o["extra"] = std::move(extra);
  }
  return o;
}

HttpResponse handleTokenRequest(ResourceStore& store, const api::ResourceRegistry& registry,
                                const ServiceAccountTokens& tokens, const RequestInfo& ri,
                                HttpRequest& req) {
  if (req.method != "POST")
    throw methodNotSupported("serviceaccounts/token", req.method == "GET" ? "get" : req.method);
  const json::object body = decodeReview(req, "TokenRequest");
  const std::string& ns = ri.namespaceName;
  const std::string& name = ri.name;

  // Upstream's order: metadata checks, the ServiceAccount, static validation, the bound object.
  json::object meta;
  if (const json::object* m = objectAt(body, "metadata")) meta = *m;
  const std::string metaName = stringAt(&meta, "name"), metaNs = stringAt(&meta, "namespace");
  if (!metaName.empty() && metaName != name)
    throw invalid(
        "TokenRequest", "authentication.k8s.io", name,
        {{"FieldValueInvalid",
          "Invalid value: \"" + metaName + "\": must match the service account name if specified",
          "metadata.name"}});
  if (!metaNs.empty() && metaNs != ns)
    throw invalid("TokenRequest", "authentication.k8s.io", name,
                  {{"FieldValueInvalid",
                    "Invalid value: \"" + metaNs +
                        "\": must match the service account namespace if specified",
                    "metadata.namespace"}});
  ObjectPtr sa = store.getShared(*ri.info, ns, name);  // 404 serviceaccounts "NAME" not found

  json::object spec;
  if (const json::object* s = objectAt(body, "spec")) spec = *s;
  // Defaults (authentication/v1): the API audiences and one hour.
  std::vector<std::string> audiences = stringList(&spec, "audiences");
  if (audiences.empty()) audiences = tokens.apiAudiences();
  int64_t expiration = 3600;
  if (const json::value* e = spec.if_contains("expirationSeconds"); e && !e->is_null()) {
    if (!e->is_int64() && !e->is_uint64())
      throw badRequest("spec.expirationSeconds must be an integer");
    expiration = e->is_int64() ? e->as_int64() : static_cast<int64_t>(e->as_uint64());
  }
  std::vector<StatusCause> causes;
  if (expiration < kMinExpirationSeconds)
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: " + std::to_string(expiration) +
                          ": may not specify a duration less than 10 minutes",
                      "spec.expirationSeconds"});
  if (expiration > kMaxExpirationSeconds)
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: " + std::to_string(expiration) +
                          ": may not specify a duration larger than 2^32 seconds",
                      "spec.expirationSeconds"});
  // Upstream names no object in this error (its NewInvalid gets an empty name).
  if (!causes.empty()) throw invalid("TokenRequest", "authentication.k8s.io", "", causes);

  TokenClaimsInput input;
  input.namespace_ = ns;
  input.serviceAccountName = name;
  input.serviceAccountUid = stringAt(objectAt(*sa, "metadata"), "uid");
  input.audiences = audiences;
  input.expirationSeconds = expiration;

  if (const json::object* ref = objectAt(spec, "boundObjectRef")) {
    const std::string kind = stringAt(ref, "kind"), apiVersion = stringAt(ref, "apiVersion");
    const std::string refName = stringAt(ref, "name"), refUid = stringAt(ref, "uid");
    const size_t slash = apiVersion.find('/');
    const std::string group = slash == std::string::npos ? "" : apiVersion.substr(0, slash);
    const std::string version =
        slash == std::string::npos ? apiVersion : apiVersion.substr(slash + 1);
    if (!group.empty() || (kind != "Pod" && kind != "Secret"))
      throw badRequest("cannot bind token to object of type " + group + "/" + version +
                       ", Kind=" + kind);
    const api::ResourceInfo* boundInfo =
        registry.find("", "v1", kind == "Pod" ? "pods" : "secrets");
    ObjectPtr bound = store.getShared(*boundInfo, ns, refName);  // 404 when missing
    if (kind == "Pod") {
      std::string podSa = stringAt(objectAt(*bound, "spec"), "serviceAccountName");
      if (podSa.empty()) podSa = "default";  // what ServiceAccount admission would have set
      if (podSa != name)
        throw badRequest("cannot bind token for serviceaccount \"" + name +
                         "\" to pod running with different serviceaccount name.");
    }
    const std::string uid = stringAt(objectAt(*bound, "metadata"), "uid");
    if (!refUid.empty() && refUid != uid)
      throw conflict(kind, refName,
                     "the UID in the bound object reference (" + refUid +
                         ") does not match the UID in record. The object might have been "
                         "deleted and then recreated");
    input.bound = BoundObject{kind, refName, uid};
  }

  auto issued = tokens.issue(input);
  meta["name"] = name;
  meta["namespace"] = ns;
  meta["creationTimestamp"] = formatTime(
      std::chrono::system_clock::time_point(std::chrono::seconds(issued.expiresAt - expiration)));
  spec["audiences"] = toArray(audiences);
  spec["expirationSeconds"] = expiration;
  if (!spec.contains("boundObjectRef")) spec["boundObjectRef"] = nullptr;
  json::object answer{{"kind", "TokenRequest"},
                      {"apiVersion", "authentication.k8s.io/v1"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)},
                      {"status", json::object{{"token", issued.token},
                                              {"expirationTimestamp",
                                               formatTime(std::chrono::system_clock::time_point(
                                                   std::chrono::seconds(issued.expiresAt)))}}}};
  return objectResponse(201, answer, negotiate(req));
}

HttpResponse handleTokenReview(const RequestAuthenticator& authenticator, HttpRequest& req) {
  json::object review = decodeReview(req, "TokenReview");
  json::object spec;
  if (const json::object* s = objectAt(review, "spec")) spec = *s;
  const std::string token = stringAt(&spec, "token");
  if (token.empty()) throw badRequest("token is required for TokenReview in authentication");
  std::vector<std::string> audiences = stringList(&spec, "audiences");
  TokenResult r = authenticator.authenticateToken(token, audiences);
  json::object status;
  status["authenticated"] = r.outcome == TokenResult::Authenticated;
  if (r.outcome == TokenResult::Authenticated) {
    json::object user = userInfoJson(*r.user);
    if (!user.contains("extra") && r.user->extra.empty()) user["extra"] = json::object{};
    status["user"] = std::move(user);
    status["audiences"] = toArray(r.audiences);
  } else {
    status["user"] = json::object{};
    if (!r.error.empty()) status["error"] = r.error;
  }
  json::object meta;
  meta["creationTimestamp"] = nullptr;
  json::object out{{"kind", "TokenReview"},
                   {"apiVersion", "authentication.k8s.io/v1"},
                   {"metadata", std::move(meta)},
                   {"spec", std::move(spec)},
                   {"status", std::move(status)}};
  return objectResponse(201, out, negotiate(req));
}

HttpResponse handleSelfSubjectReview(const UserInfo& user, HttpRequest& req) {
  decodeReview(req, "SelfSubjectReview");
  json::object out{{"kind", "SelfSubjectReview"},
                   {"apiVersion", "authentication.k8s.io/v1"},
                   {"metadata", json::object{{"creationTimestamp", nowTime()}}},
                   {"status", json::object{{"userInfo", userInfoJson(user)}}}};
  return objectResponse(201, out, negotiate(req));
}

HttpResponse openIdConfiguration(const ServiceAccountTokens& tokens, const std::string& jwksUri) {
  json::object doc{{"issuer", tokens.issuer()},
                   {"jwks_uri", jwksUri},
                   {"response_types_supported", json::array{"id_token"}},
                   {"subject_types_supported", json::array{"public"}},
                   {"id_token_signing_alg_values_supported", json::array{"ES256"}}};
  HttpResponse res;
  res.contentType = "application/json";
  res.body = json::serialize(doc);
  res.headers.emplace_back("Cache-Control", "public, max-age=3600");
  return res;
}

HttpResponse openIdKeySet(const ServiceAccountTokens& tokens) {
  HttpResponse res;
  res.contentType = "application/jwk-set+json";
  res.body = json::serialize(json::object{{"keys", json::array{tokens.key().publicJwk()}}});
  res.headers.emplace_back("Cache-Control", "public, max-age=3600");
  return res;
}

}  // namespace skiff::apiserver::auth
