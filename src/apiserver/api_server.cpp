#include "apiserver/api_server.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/json_indent.h"
#include "api/openapi.h"
#include "api/resource_registry.h"
#include "apiserver/admission.h"
#include "apiserver/aggregator.h"
#include "apiserver/audit.h"
#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/authn_endpoints.h"
#include "apiserver/auth/authorization.h"
#include "apiserver/auth/bootstrap_policy.h"
#include "apiserver/auth/cluster_info.h"
#include "apiserver/auth/impersonation.h"
#include "apiserver/auth/request_attributes.h"
#include "apiserver/auth/service_account_key.h"
#include "apiserver/auth/token_file.h"
#include "apiserver/content.h"
#include "apiserver/crd_controller.h"
#include "apiserver/crd_openapi.h"
#include "apiserver/discovery.h"
#include "apiserver/endpoint_reconciler.h"
#include "apiserver/hardening.h"
#include "apiserver/inflight_limiter.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/metrics_api.h"
#include "apiserver/openapi_v2_proto.h"
#include "apiserver/request_info.h"
#include "apiserver/request_metrics.h"
#include "apiserver/resource_handler.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/component_pki.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pki.h"
#include "net/http_server.h"
#include "storage/metered_store.h"

namespace skiff::apiserver {

namespace {
// The --pod-security-* flags as the admission's options; a bad level or version stops start.
podsecurity::Options podSecurityOptions(const ApiServerOptions& o) {
  podsecurity::Options out;
  auto mode = [](const std::string& flag, const std::string& level, const std::string& version) {
    auto l = podsecurity::parseLevel(level);
    if (!l)
      throw std::runtime_error("--pod-security-default-" + flag + "=" + level +
                               ": must be one of privileged, baseline, restricted");
    auto v = podsecurity::parseVersion(version);
    if (!v)
      throw std::runtime_error("--pod-security-default-" + flag + "-version=" + version +
                               ": must be \"latest\" or \"v1.x\"");
    return podsecurity::LevelVersion{*l, *v};
  };
  out.defaults.enforce = mode("enforce", o.podSecurityEnforce, o.podSecurityEnforceVersion);
  out.defaults.audit = mode("audit", o.podSecurityAudit, o.podSecurityAuditVersion);
  out.defaults.warn = mode("warn", o.podSecurityWarn, o.podSecurityWarnVersion);
  for (const auto& ns : o.podSecurityExemptNamespaces)
    if (!ns.empty()) out.exemptNamespaces.insert(ns);
  return out;
}
}  // namespace

namespace json = boost::json;
namespace fs = std::filesystem;

struct ApiServer::Impl {
  ApiServerOptions options;
  storage::StorePtr store;
  std::unique_ptr<CacheHub> caches;
  std::unique_ptr<Admission> admission;
  std::unique_ptr<ResourceStore> resources;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<KubeletProxy> kubelets;  // pods/log|exec|attach|portforward, nodes/proxy
  std::vector<MetricsCollectorHandle>
      storageObjects;                      // apiserver_storage_objects etc. while this server lives
  std::unique_ptr<Aggregator> aggregator;  // APIServices: local ones, proxying, availability
  std::unique_ptr<CrdController> crds;     // CustomResourceDefinitions: serving, status, cleanup
  std::unique_ptr<MetricsApi> metricsApi;  // metrics.k8s.io and its scraper; null when disabled
  // Built-in resources, and custom ones while their CRDs exist.
  std::unique_ptr<api::ResourceRegistry> ownRegistry = api::ResourceRegistry::withBuiltins();
  api::ResourceRegistry& registry = *ownRegistry;
  CustomOpenApi customOpenApi{registry};      // /openapi/v3 of custom resources
  std::unique_ptr<DataDirLock> dataDirLock;   // hardening.h: one server per data dir
  std::unique_ptr<InflightLimiter> inflight;  // --max-(mutating-)requests-inflight
  // Authentication and authorization (apiserver/auth/); null until start(), and a server
  // that was never started serves no requests from the network.
  std::unique_ptr<auth::ServiceAccountTokens> serviceAccountTokens;
  std::unique_ptr<auth::RequestAuthenticator> authenticator;
  std::unique_ptr<Authorizer> authorizer;
  std::string jwksUri;
  std::optional<ServerPki> pki;      // with TLS: the CA and certificates under DATA_DIR/tls
  std::string serverUrl;             // https://host:port, what kubeconfigs point at
  std::unique_ptr<Auditor> auditor;  // --audit-policy-file and --audit-log-path; null: none

  // A request beyond its in-flight limit is still served when its credentials (a bearer
  // token: the limiter runs before authentication and sees only a client certificate) are
  // those of system:masters, which upstream never throttles, or do not authenticate at all
  // (upstream authenticates first: a 401, not a 429).
  bool passesLimitByCredentials(const HttpRequest& req) {
    if (!authenticator || req.header("authorization").empty()) return false;
    try {
      auto user = authenticator->authenticate(req);
      for (const auto& g : user->groups)
        if (g == "system:masters") return true;
      return false;
    } catch (const ApiError&) {
      return true;
    }
  }
  // Settles req.client (who is asking, after impersonation) and refuses what that user may
  // not do: 401 for a refused token, 403 from the authorizer chain.
  // With auditing on, `audit` receives the request's record when the policy records it
  // (RequestReceived is written here, after authentication, as upstream does).
  void authenticateAndAuthorize(HttpRequest& req, std::shared_ptr<AuditEvent>& audit,
                                const std::string& auditId);
  void auditResponse(AuditEvent& audit, const HttpRequest& req, HttpResponse& res,
                     std::shared_ptr<AuditEvent> shared);
  void auditFailure(AuditEvent& audit, const ApiError& e);
  void auditFailedAuthentication(const HttpRequest& req, const std::string& auditId);
  void startAuth(const std::string& tlsDir);
  // The object under (core resource, namespace, name) in the watch cache, or null.
  ObjectPtr cachedObject(const std::string& resource, const std::string& ns,
                         const std::string& name);
  // The caches tokens are checked against on every request (a token's ServiceAccount, its
  // bound Pod or Secret), resolved once by startAuth.
  struct TokenObjectCache {
    std::string resource, prefix;
    ResourceCache* cache;
  };
  std::vector<TokenObjectCache> tokenObjectCaches;

  HttpResponse route(HttpRequest& req, const std::optional<RequestInfo>& resource);
  // Group-versions discovery lists besides the registry's: APIServices with a service, and
  // metrics.k8s.io when served here.
  std::vector<AggregatedVersion> extraVersions() const {
    auto extra = aggregator ? aggregator->discoveryVersions() : std::vector<AggregatedVersion>{};
    // An APIService with a service for metrics.k8s.io (a metrics-server installed over ours)
    // is proxied before our route: then only it is listed.
    const bool proxied = std::any_of(extra.begin(), extra.end(), [](const AggregatedVersion& v) {
      return v.group == MetricsApi::kGroup && v.version == MetricsApi::kVersion;
    });
    if (metricsApi && !proxied) extra.push_back(MetricsApi::discoveryVersion());
    return extra;
  }
  HttpResponse nonResource(HttpRequest& req, bool& handled);
  void bootstrap();
};

namespace {

HttpResponse jsonResponse(const json::object& obj,
                          const std::string& contentType = "application/json") {
  HttpResponse res;
  res.contentType = contentType;
  res.body = json::serialize(obj);
  res.apiObject = true;
  return res;
}

HttpResponse textResponse(std::string body, std::string contentType = "text/plain; charset=utf-8") {
  HttpResponse res;
  res.contentType = std::move(contentType);
  res.body = std::move(body);
  return res;
}

// An aggregated discovery document in the negotiated version, typed in its Content-Type.
HttpResponse aggregatedResponse(json::object doc, DiscoveryFormat format) {
  HttpResponse res = jsonResponse(doc, aggregatedDiscoveryContentType(format));
  res.headers.emplace_back("Vary", "Accept");
  return res;
}

ApiError pathNotFound() {
  return ApiError(404, "NotFound", "the server could not find the requested resource");
}

// One event loop per core. (With a watch-hub thread parsing every write, one loop on 2 cores
// measured faster than two; with writes handing their objects to the watch cache inline,
// two loops are faster: bench/README.md, scheduler_perf 2026-12-04.)
int defaultHttpThreads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

HttpResponse ApiServer::Impl::nonResource(HttpRequest& req, bool& handled) {
  handled = true;
  const std::string& p = req.path;
  if (p == "/version" || p == "/version/") {
    // Upstream writes /version as indented JSON without a trailing newline.
    return textResponse(api::indentedJson(json::object{{"major", "1"},
                                                       {"minor", "32"},
                                                       {"gitVersion", "v1.32.0-skiff"},
                                                       {"gitCommit", "skiff"},
                                                       {"gitTreeState", "clean"},
                                                       {"buildDate", "2026-11-27T00:00:00Z"},
                                                       {"goVersion", "none (C++20)"},
                                                       {"compiler", "gcc"},
                                                       {"platform", "linux/amd64"}}),
                        "application/json");
  }
  if (p == "/healthz" || p == "/livez" || p == "/readyz" || p.starts_with("/healthz/") ||
      p.starts_with("/livez/") || p.starts_with("/readyz/"))
    return textResponse("ok");
  if (p == "/.well-known/openid-configuration" && serviceAccountTokens)
    return auth::openIdConfiguration(*serviceAccountTokens, jwksUri);
  if (p == "/openid/v1/jwks" && serviceAccountTokens)
    return auth::openIdKeySet(*serviceAccountTokens);
  if (p == "/metrics")
    return textResponse(Metrics::global().render(), "text/plain; version=0.0.4; charset=utf-8");
  if (p == "/api" || p == "/api/") {
    DiscoveryFormat format = negotiateDiscovery(req.header("accept"));
    if (format != DiscoveryFormat::Legacy)
      return aggregatedResponse(aggregatedDiscovery(registry, true, format), format);
    return jsonResponse(apiVersions(options.listen));
  }
  if (p == "/apis" || p == "/apis/") {
    DiscoveryFormat format = negotiateDiscovery(req.header("accept"));
    auto extra = extraVersions();
    if (format != DiscoveryFormat::Legacy)
      return aggregatedResponse(aggregatedDiscovery(registry, false, format, extra), format);
    return jsonResponse(apiGroupList(registry, extra));
  }
  if (p == "/api/v1" || p == "/api/v1/") {
    return jsonResponse(*apiResourceList(registry, "", "v1"));
  }
  if (p.starts_with("/apis/")) {
    std::string rest = p.substr(6);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto slash = rest.find('/');
    if (slash == std::string::npos) {
      auto extra = extraVersions();
      if (auto group = apiGroup(registry, rest, extra)) return jsonResponse(*group);
      throw pathNotFound();
    }
    if (rest.find('/', slash + 1) == std::string::npos) {
      if (auto list = apiResourceList(registry, rest.substr(0, slash), rest.substr(slash + 1)))
        return jsonResponse(*list);
      throw pathNotFound();
    }
  }
  const auto& openapi = api::OpenApi::instance();
  if (p == "/openapi/v2" || p == "/swagger.json") {
    const std::string accept = req.header("accept");
    const size_t proto = accept.find("com.github.proto-openapi.spec.v2");
    const size_t jsonAt = std::min(accept.find("json"), accept.find("*/*"));
    // The protobuf form when asked for before JSON (kubectl 1.27/1.28 ask for it alone).
    if (p == "/openapi/v2" && proto != std::string::npos && proto < jsonAt)
      return textResponse(openApiV2Protobuf(), kOpenApiV2ProtobufContentType);
    if (jsonAt == std::string::npos && !accept.empty())
      throw notAcceptable("only application/json and protobuf are served for /openapi/v2");
    return textResponse(openapi.v2Json(), "application/json");
  }
  if (p == "/openapi/v3" || p == "/openapi/v3/") {
    std::string root = customOpenApi.root(openapi.v3RootJson());
    return textResponse(aggregator ? aggregator->openApiV3Root(root) : root, "application/json");
  }
  if (p.starts_with("/openapi/v3/")) {
    if (auto doc = customOpenApi.document(p.substr(12))) {
      HttpResponse res = textResponse(doc->json, "application/json");
      res.headers.emplace_back("Etag", "\"" + doc->hash + "\"");
      return res;
    }
    if (const std::string* doc = openapi.v3GroupVersionJson(p.substr(12))) {
      HttpResponse res = textResponse(*doc, "application/json");
      res.headers.emplace_back("Etag", "\"" + openapi.v3Hash(p.substr(12)) + "\"");
      return res;
    }
    throw pathNotFound();
  }
  handled = false;
  return {};
}

ObjectPtr ApiServer::Impl::cachedObject(const std::string& resource, const std::string& ns,
                                        const std::string& name) {
  for (const auto& known : tokenObjectCaches)
    if (known.resource == resource) {
      std::string key;
      key.reserve(known.prefix.size() + ns.size() + 1 + name.size());
      key.append(known.prefix).append(ns).append(1, '/').append(name);
      return known.cache->get(key);
    }
  const api::ResourceInfo* info = registry.find("", "v1", resource);
  if (!info || !resources) return nullptr;
  return caches->cachedLatest(resources->key(*info, ns, name));
}

void ApiServer::Impl::startAuth(const std::string& tlsDir) {
  for (const char* resource : {"serviceaccounts", "pods", "secrets"})
    if (const api::ResourceInfo* info = registry.find("", "v1", resource)) {
      const std::string prefix = info->storagePrefix();
      tokenObjectCaches.push_back({resource, prefix, &caches->cacheFor(prefix)});
    }
  auth::AuthenticatorConfig config;
  config.lookup = [this](const std::string& resource, const std::string& ns,
                         const std::string& name) { return cachedObject(resource, ns, name); };
  config.plainHttp = !options.tls;
  if (!options.tokenAuthFile.empty())
    config.staticTokens =
        auth::parseTokenFile(readFile(options.tokenAuthFile), options.tokenAuthFile);
  serviceAccountTokens = std::make_unique<auth::ServiceAccountTokens>(
      auth::ensureServiceAccountKey(tlsDir), options.serviceAccountIssuer,
      std::vector<std::string>{options.serviceAccountIssuer}, config.lookup);
  config.serviceAccounts = serviceAccountTokens.get();
  authenticator = std::make_unique<auth::RequestAuthenticator>(std::move(config));
  authorizer = auth::makeAuthorizerChain(options.authorizationModes, *caches);
  if (!options.tls)
    SKIFF_LOG_WARN(
        "serving plain HTTP (--disable-tls): requests without credentials act as "
        "system:unsecured in system:masters, like upstream's old insecure port. Benchmarks only");
}

namespace {

// Upstream's SourceIPs: X-Forwarded-For's, X-Real-Ip, then the connection's peer.
std::vector<std::string> sourceIps(const HttpRequest& req) {
  std::vector<std::string> ips;
  auto add = [&](std::string ip) {
    while (!ip.empty() && ip.front() == ' ') ip.erase(0, 1);
    while (!ip.empty() && ip.back() == ' ') ip.pop_back();
    if (!ip.empty() && std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(ip);
  };
  std::string fwd = req.header("x-forwarded-for");
  for (size_t start = 0; !fwd.empty() && start <= fwd.size();) {
    size_t comma = fwd.find(',', start);
    if (comma == std::string::npos) comma = fwd.size();
    add(fwd.substr(start, comma - start));
    start = comma + 1;
  }
  add(req.header("x-real-ip"));
  std::string remote = req.remoteAddress;
  // The in-process endpoint (controllers, scheduler) stands for upstream's loopback client.
  if (remote == "in-process") remote = "127.0.0.1:0";
  if (auto colon = remote.rfind(':'); colon != std::string::npos) remote.resize(colon);
  if (remote.size() > 2 && remote.front() == '[') remote = remote.substr(1, remote.size() - 2);
  add(remote);
  return ips;
}

// A request or response body as JSON for the audit log, whatever its encoding (kubectl's typed
// clients send protobuf); nullopt when it cannot be decoded.
std::optional<json::value> auditDecoded(const std::string& body, const std::string& contentType,
                                        bool omitManagedFields) {
  if (body.empty()) return std::nullopt;
  std::string media = mediaType(contentType);
  if (media.empty() || media.find("json") != std::string::npos)
    return auditBody(body, omitManagedFields);
  HttpRequest fake;
  fake.method = "POST";
  fake.headers["content-type"] = contentType;
  fake.body = body;
  try {
    json::value v = decodeRequestBody(fake);
    return auditBody(json::serialize(v), omitManagedFields);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::shared_ptr<AuditEvent> startAudit(const Auditor& auditor, const HttpRequest& req,
                                       const AuthorizationAttributes& attrs) {
  AuditDecision decision = evaluateAuditPolicy(auditor.policy(), attrs);
  auto ev = std::make_shared<AuditEvent>();
  ev->decision = std::move(decision);
  ev->received = std::chrono::system_clock::now();
  ev->requestUri = req.target;
  ev->verb = attrs.verb;
  ev->user = attrs.user ? *attrs.user : UserInfo{};
  ev->sourceIps = sourceIps(req);
  ev->userAgent = req.header("user-agent");
  ev->resourceRequest = attrs.resourceRequest;
  ev->resource = attrs.resource;
  ev->namespace_ = attrs.namespace_;
  ev->name = attrs.name;
  ev->apiGroup = attrs.apiGroup;
  ev->apiVersion = attrs.apiVersion;
  ev->subresource = attrs.subresource;
  // Bodies belong to resource requests only (upstream: levels beyond Metadata do not apply to
  // non-resource URLs).
  if (ev->decision.level >= AuditLevel::Metadata && ev->resourceRequest && !req.body.empty()) {
    // As upstream: the request object completes objectRef (name of a create, uid and
    // resourceVersion of an update) at every level, and is logged from Request on.
    if (auto body =
            auditDecoded(req.body, req.header("content-type"), ev->decision.omitManagedFields)) {
      if (auto* md = body->is_object() ? body->as_object().if_contains("metadata") : nullptr;
          md && md->is_object() && ev->resourceRequest) {
        auto str = [&](const char* k) {
          auto* v = md->as_object().if_contains(k);
          return v && v->is_string() ? std::string(v->as_string()) : std::string();
        };
        if (ev->namespace_.empty()) ev->namespace_ = str("namespace");
        if (ev->name.empty()) ev->name = str("name");
        ev->uid = str("uid");
        ev->resourceVersion = str("resourceVersion");
      }
      if (ev->decision.level >= AuditLevel::Request) ev->requestObject = std::move(body);
    }
  }
  return ev;
}

}  // namespace

void ApiServer::Impl::authenticateAndAuthorize(HttpRequest& req, std::shared_ptr<AuditEvent>& audit,
                                               const std::string& auditId) {
  if (!authenticator) return;
  std::shared_ptr<const UserInfo> user;
  try {
    user = authenticator->authenticate(req);
  } catch (const ApiError& e) {
    if (auditor && e.code() == 401) auditFailedAuthentication(req, auditId);
    throw;
  }
  if (auditor) {
    AuthorizationAttributes original = auth::requestAttributes(req, *user);
    audit = startAudit(*auditor, req, original);
    audit->auditId = auditId;
    auditor->emit(*audit, "RequestReceived");
  }
  if (auto acting = auth::impersonate(req, *user, *authorizer)) {
    if (audit) audit->impersonatedUser = *acting;
    user = std::make_shared<const UserInfo>(std::move(*acting));
  }
  req.client = std::move(user);
  AuthorizationAttributes attributes = auth::requestAttributes(req, *req.client);
  AuthorizationResult result = authorizer->authorize(attributes);
  const bool allowed = result.decision == Decision::Allow;
  if (audit) {
    audit->annotations.emplace_back("authorization.k8s.io/decision", allowed ? "allow" : "forbid");
    audit->annotations.emplace_back("authorization.k8s.io/reason", result.reason);
  }
  if (!allowed) throw auth::forbiddenError(attributes, result.reason);
}

// Upstream's failed-authentication audit: one ResponseStarted event without a user, whose
// status names the credentials that were tried.
void ApiServer::Impl::auditFailedAuthentication(const HttpRequest& req,
                                                const std::string& auditId) {
  auto ev = startAudit(*auditor, req, auth::requestAttributes(req, UserInfo{}));
  if (ev->decision.level == AuditLevel::None) return;
  ev->auditId = auditId;
  std::vector<std::string> tried;
  std::string authorization = req.header("authorization");
  auto scheme = authorization.substr(0, authorization.find(' '));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "basic") tried.push_back("basic");
  if (scheme == "bearer" && authorization.find_first_not_of(' ', 6) != std::string::npos)
    tried.push_back("bearer");
  std::string message = "Authentication failed, no credentials provided";
  for (size_t i = 0; i < tried.size(); ++i)
    message = (i ? message + ", " : std::string("Authentication failed, attempted: ")) + tried[i];
  ev->responseStatus =
      json::object{{"metadata", json::object{}}, {"message", message}, {"code", 401}};
  auditor->emit(*ev, "ResponseStarted");
}

void ApiServer::Impl::auditResponse(AuditEvent& audit, const HttpRequest& req, HttpResponse& res,
                                    std::shared_ptr<AuditEvent> shared) {
  (void)req;
  res.headers.emplace_back("Audit-Id", audit.auditId);
  if (audit.decision.level == AuditLevel::None) return;
  audit.responseStatus = json::object{{"metadata", json::object{}}, {"code", res.status}};
  if (res.status >= 400 && res.apiObject)
    if (auto status = auditBody(res.body, false); status && status->is_object()) {
      json::object rs{{"metadata", json::object{}}};
      const auto& so = status->as_object();
      for (const char* k : {"status", "message", "reason", "details"})
        if (auto* v = so.if_contains(k)) rs[k] = *v;
      rs["code"] = res.status;
      audit.responseStatus = std::move(rs);
    }
  if (res.stream) {
    // A watch: ResponseStarted now, ResponseComplete when the stream ends.
    auditor->emit(audit, "ResponseStarted");
    res.stream = auditedStream(std::move(res.stream), std::move(shared), *auditor);
    return;
  }
  if (res.status == 101) {
    auditor->emit(audit, "ResponseStarted");
  } else if (audit.decision.level >= AuditLevel::RequestResponse && audit.resourceRequest) {
    audit.responseObject =
        auditDecoded(res.body, res.contentType, audit.decision.omitManagedFields);
  }
  auditor->emit(audit, "ResponseComplete");
}

void ApiServer::Impl::auditFailure(AuditEvent& audit, const ApiError& e) {
  if (audit.decision.level == AuditLevel::None) return;
  json::object status = e.toStatus();
  json::object rs{{"metadata", json::object{}}};
  for (const char* k : {"status", "message", "reason", "details"})
    if (auto* v = status.if_contains(k)) rs[k] = *v;
  rs["code"] = e.code();
  audit.responseStatus = rs;
  if (audit.decision.level >= AuditLevel::RequestResponse && audit.resourceRequest)
    audit.responseObject = status;
  auditor->emit(audit, "ResponseComplete");
}

HttpResponse ApiServer::Impl::route(HttpRequest& req, const std::optional<RequestInfo>& ri) {
  // /apis/<group>/<version>[/...] of an APIService with a service: its extension server's.
  if (aggregator && aggregator->proxies(req.path)) return aggregator->proxy(req);
  // metrics.k8s.io, served here (metrics_api.h) under its local APIService.
  if (metricsApi && MetricsApi::serves(req.path)) return metricsApi->handle(req);
  bool handled = false;
  HttpResponse res = nonResource(req, handled);
  if (handled) {
    if (req.method != "GET" && req.method != "HEAD")
      throw ApiError(405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
    return res;
  }
  // Before the generic parser: nodes/proxy paths go on past the subresource.
  if (auto np = parseNodeProxyPath(req.target)) return kubelets->nodeProxy(*resources, *np, req);
  if (!ri) throw pathNotFound();
  if (ri->info && serviceAccountTokens) {
    if (ri->info->group.empty() && ri->info->plural == "serviceaccounts" &&
        ri->subresource == "token" && !ri->name.empty() && !ri->namespaceName.empty())
      return auth::handleTokenRequest(*resources, registry, *serviceAccountTokens, *ri, req);
    if (ri->info->group == "authentication.k8s.io" && ri->name.empty()) {
      if (!ri->namespaceName.empty()) throw pathNotFound();  // cluster-scoped reviews
      if (req.method != "POST")
        throw methodNotSupported(ri->info->qualifiedResource(),
                                 req.method == "GET" ? "list" : req.method);
      if (ri->info->plural == "tokenreviews") return auth::handleTokenReview(*authenticator, req);
      if (ri->info->plural == "selfsubjectreviews")
        return auth::handleSelfSubjectReview(req.identity(), req);
    }
  }
  if (ri->info && ri->info->group.empty() && ri->info->plural == "pods") {
    if (ri->subresource == "log") return kubelets->podLog(*resources, *ri, req);
    if (ri->subresource == "exec" || ri->subresource == "attach" ||
        ri->subresource == "portforward")
      return kubelets->podStream(*resources, *ri, req);
  }
  return handleResourceRequest(*resources, *ri, req);
}

void ApiServer::Impl::bootstrap() {
  RequestContext ctx;
  const auto* namespaces = registry.find("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    try {
      resources->create(
          *namespaces, "",
          json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}},
          ctx);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
    }
  }
  caches->syncWithStore();
  const auto* services = registry.find("", "v1", "services");
  try {
    resources->create(
        *services, "default",
        json::object{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata",
                      {{"name", "kubernetes"},
                       {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                     {"spec",
                      {{"clusterIP", "10.43.0.1"},
                       {"ports", json::array{json::object{{"name", "https"},
                                                          {"port", 443},
                                                          {"protocol", "TCP"},
                                                          {"targetPort", 6443}}}}}}},
        ctx);
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;
  }
  rbac::reconcileBootstrapPolicy(*resources, registry);
}

ApiServer::ApiServer(ApiServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  auto& o = impl_->options;
  impl_->dataDirLock = prepareDataDir(o.dataDir);  // 0700, locked, file modes fixed
  impl_->inflight =
      std::make_unique<InflightLimiter>(o.maxRequestsInflight, o.maxMutatingRequestsInflight);
  if (o.storage == "memory") {
    impl_->store = storage::openMemoryStore();
  } else if (o.storage == "sqlite") {
    storage::SqliteOptions so;
    so.path = (fs::path(o.dataDir) / "state.db").string();
    impl_->store = storage::openSqliteStore(so);
  } else {
    throw std::runtime_error("unknown --storage " + o.storage + " (want sqlite or memory)");
  }
  impl_->store = encryptAtRest(std::move(impl_->store), o);     // EncryptionConfiguration
  impl_->store = storage::meterStore(std::move(impl_->store));  // etcd_request_duration_seconds
  impl_->caches = std::make_unique<CacheHub>(*impl_->store);
  for (const auto& r : impl_->registry.all()) impl_->caches->cacheFor(r.storagePrefix());
  impl_->caches->start();
  impl_->storageObjects = registerStorageObjects(*impl_->caches, impl_->registry);
  AdmissionOptions admissionOptions;
  admissionOptions.defaultNotReadyTolerationSeconds =
      impl_->options.defaultNotReadyTolerationSeconds;
  admissionOptions.defaultUnreachableTolerationSeconds =
      impl_->options.defaultUnreachableTolerationSeconds;
  admissionOptions.podSecurity = podSecurityOptions(impl_->options);
  auto pluginOn = [&](const char* name) {
    return std::find(o.disableAdmissionPlugins.begin(), o.disableAdmissionPlugins.end(), name) ==
           o.disableAdmissionPlugins.end();
  };
  admissionOptions.serviceAccount = pluginOn("ServiceAccount");
  admissionOptions.defaultStorageClass = pluginOn("DefaultStorageClass");
  admissionOptions.storageObjectInUseProtection = pluginOn("StorageObjectInUseProtection");
  admissionOptions.persistentVolumeClaimResize = pluginOn("PersistentVolumeClaimResize");
  impl_->admission = std::make_unique<Admission>(*impl_->caches, admissionOptions);
  impl_->resources =
      std::make_unique<ResourceStore>(*impl_->store, *impl_->caches, *impl_->admission);
  api::OpenApi::instance();  // parse once up front, not on the first kubectl request
  impl_->bootstrap();
  impl_->startAuth((fs::path(o.dataDir) / "tls").string());
  if (!o.auditPolicyFile.empty() && !o.auditLog.path.empty()) {
    // As upstream: without a policy file, or without a backend, nothing is audited.
    impl_->auditor =
        std::make_unique<Auditor>(parseAuditPolicy(readFile(o.auditPolicyFile)), o.auditLog);
  } else if (!o.auditPolicyFile.empty() || !o.auditLog.path.empty()) {
    SKIFF_LOG_WARN("audit logging needs both --audit-policy-file and --audit-log-path: off");
  }
  impl_->aggregator = std::make_unique<Aggregator>(*impl_->resources, impl_->registry);
  if (o.metricsApi)
    impl_->aggregator->addLocalGroupVersion(MetricsApi::kGroup, MetricsApi::kVersion, {100, 100});
  impl_->aggregator->registerLocalApiServices();
  impl_->aggregator->start();
  impl_->crds = std::make_unique<CrdController>(*impl_->resources, impl_->registry);
  impl_->crds->start();

  std::string host = o.listen.substr(0, o.listen.rfind(':'));
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";

  HttpServerOptions ho;
  ho.listen = o.listen;
  ho.threads = o.threads > 0 ? o.threads : defaultHttpThreads();
  ho.mayBlock = [&registry = impl_->registry,
                 agg = impl_->aggregator.get()](const HttpRequest& req) {
    return runsOffTheEventLoop(req, registry) || agg->proxies(req.path) ||
           MetricsApi::serves(req.path);
  };
  if (o.writeThreads > 0) {
    ho.waitsForCommit = [&registry = impl_->registry](const HttpRequest& req) {
      return waitsForCommit(req, registry);
    };
    ho.writeThreads = o.writeThreads;
  }
  if (impl_->inflight) {
    // Requests that leave their loop take their in-flight slot on arrival, so that those
    // waiting for a pool thread count against --max-(mutating-)requests-inflight (upstream
    // counts a request from when it enters the filter chain, not from when a thread serves it).
    ho.admit = [impl = impl_.get()](HttpRequest& req,
                                    std::shared_ptr<void>& hold) -> std::optional<HttpResponse> {
      const auto resource = parseResourcePath(req.path, impl->registry);
      auto slot =
          impl->inflight->admit(req, resource, [&] { return impl->passesLimitByCredentials(req); });
      if (!slot) {
        RequestMetrics metrics(req, resource);
        return tooManyRequestsResponse(metrics);  // inflight_limiter.h: 429
      }
      hold = std::make_shared<InflightLimiter::Slot>(std::move(*slot));
      return std::nullopt;
    };
  }
  std::optional<ServerPki>& pki = impl_->pki;
  if (o.tls) {
    // Like k3s: a CA and certificates created on first start, reused afterwards.
    std::vector<std::string> ips = {"127.0.0.1", "10.43.0.1"};
    if (host != "127.0.0.1") ips.push_back(host);
    char hostname[256] = {0};
    ::gethostname(hostname, sizeof hostname - 1);
    pki = ensureServerPki((fs::path(o.dataDir) / "tls").string(), ips,
                          {"localhost", hostname, "kubernetes", "kubernetes.default",
                           "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"});
    ho.tlsCertFile = pki->serverCert;
    ho.tlsKeyFile = pki->serverKey;
    ho.clientCaFile = pki->caCert;
  }
  KubeletClientOptions kubeletClient;
  if (pki) {
    // Kubelets are shown a certificate of its own (kube-apiserver-kubelet-client, no group),
    // not the admin's: a kubelet that captures it gains no cluster-admin.
    ComponentCredentials kubeletCert =
        ensureComponentCertificate(o.dataDir, *pki, kubeletClientIdentity());
    kubeletClient.clientCertFile = kubeletCert.certFile;
    kubeletClient.clientKeyFile = kubeletCert.keyFile;
  }
  // The destination guard's loopback exceptions: a server listening on loopback only (its
  // clients, nodes included, are on this machine), and the node this process runs.
  {
    std::string listenHost = o.listen.substr(0, o.listen.rfind(':'));
    if (listenHost.size() > 1 && listenHost.front() == '[')
      listenHost = listenHost.substr(1, listenHost.size() - 2);
    kubeletClient.allowLoopback =
        listenHost == "localhost" || listenHost == "::1" || listenHost.starts_with("127.");
    kubeletClient.localNodeName = o.localNodeName;
  }
  impl_->kubelets = std::make_unique<KubeletProxy>(kubeletClient);
  if (o.metricsApi) {
    MetricsApiOptions mo;
    mo.resolution = o.metricResolution;
    impl_->metricsApi = std::make_unique<MetricsApi>(*impl_->resources, *impl_->kubelets, mo);
    impl_->metricsApi->start();
  }
  impl_->http = std::make_unique<HttpServer>(ho, [this](HttpRequest& req) { return handle(req); });
  impl_->http->start();
  impl_->jwksUri = "https://" + host + ":" + std::to_string(port()) + "/openid/v1/jwks";
  {
    // endpoint_reconciler.h: pods reach this server through the `kubernetes` Service.
    std::string listenHost = o.listen.substr(0, o.listen.rfind(':'));
    if (listenHost.size() > 1 && listenHost.front() == '[')
      listenHost = listenHost.substr(1, listenHost.size() - 2);
    const std::string advertise =
        o.advertiseAddress.empty() ? defaultAdvertiseAddress(listenHost) : o.advertiseAddress;
    reconcileKubernetesEndpoints(*impl_->resources, impl_->registry, advertise, port());
  }

  // An admin kubeconfig pointing at this server.
  std::string server =
      std::string(o.tls ? "https://" : "http://") + host + ":" + std::to_string(port());
  impl_->serverUrl = server;
  std::string kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n";
  if (pki)
    kubeconfig += "    certificate-authority-data: " + base64Encode(readFile(pki->caCert)) + "\n";
  kubeconfig += "    server: " + server +
                "\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: admin\n"
                "current-context: skiff\nusers:\n- name: admin\n  user:\n";
  if (pki) {
    kubeconfig += "    client-certificate-data: " + base64Encode(readFile(pki->adminCert)) + "\n";
    kubeconfig += "    client-key-data: " + base64Encode(readFile(pki->adminKey)) + "\n";
  } else {
    kubeconfig += "    {}\n";
  }
  writeFileAtomic(kubeconfigPath(), kubeconfig, 0600);
  // kube-public/cluster-info for nodes joining with a bootstrap token (auth/cluster_info.h).
  if (pki)
    rbac::publishClusterInfo(*impl_->resources, impl_->registry, readFile(pki->caCert), server);
  // One kubeconfig per control-plane component (DATA_DIR/kubeconfigs), for separately run
  // `skiff scheduler`, `skiff controller-manager`, `skiff proxy`.
  if (pki)
    for (const auto& id : controlPlaneIdentities())
      ensureComponentKubeconfig(o.dataDir, *pki, id, server);
  SKIFF_LOG_INFO("apiserver serving address={} storage={} kubeconfig={}", server, o.storage,
                 kubeconfigPath());
}

void ApiServer::stop() {
  // exec/attach/port-forward tunnels first: their piping threads may wait on kubelets.
  if (impl_->kubelets) impl_->kubelets->closeTunnels();
  if (impl_->metricsApi) impl_->metricsApi->stop();
  if (impl_->http) impl_->http->stop();
  impl_->http.reset();
  if (impl_->aggregator) impl_->aggregator->stop();
  if (impl_->crds) impl_->crds->stop();
  impl_->dataDirLock.reset();
}

unsigned short ApiServer::port() const { return impl_->http ? impl_->http->port() : 0; }

std::string ApiServer::writeNodeKubeconfig(const std::string& nodeName) {
  if (!impl_->pki) return {};
  return ensureComponentKubeconfig(impl_->options.dataDir, *impl_->pki, nodeIdentity(nodeName),
                                   impl_->serverUrl);
}

std::string ApiServer::signLegacyServiceAccountToken(const std::string& ns,
                                                     const std::string& account,
                                                     const std::string& accountUid,
                                                     const std::string& secretName) const {
  if (!impl_->serviceAccountTokens) throw std::logic_error("the API server is not started");
  return impl_->serviceAccountTokens->issueLegacy(ns, account, accountUid, secretName);
}

std::string ApiServer::caPem() const { return impl_->pki ? readFile(impl_->pki->caCert) : ""; }

std::string ApiServer::kubeconfigPath() const {
  return (fs::path(impl_->options.dataDir) / "kubeconfig").string();
}

namespace {
// Moves admission's audit annotations (kAuditAnnotationHeader) from the response to `audit`.
void takeAuditAnnotations(HttpResponse& res, AuditEvent* audit) {
  std::erase_if(res.headers, [audit](const std::pair<std::string, std::string>& h) {
    if (h.first != kAuditAnnotationHeader) return false;
    if (audit) {
      auto eq = h.second.find('=');
      audit->annotations.emplace_back(h.second.substr(0, eq), h.second.substr(eq + 1));
    }
    return true;
  });
}
}  // namespace

HttpResponse ApiServer::handle(HttpRequest& req) {
  // The path is parsed once, for the metrics' labels and for routing.
  const auto resource = parseResourcePath(req.path, impl_->registry);
  RequestMetrics metrics(req, resource);  // request_metrics.h; unfinished: a 500
  // Admitted on arrival by the HTTP server (HttpServerOptions::admit above): the server holds
  // its slot until this returns.
  const bool admitted = net::takeAdmittedOnArrival();
  auto slot = impl_->inflight && !admitted
                  ? impl_->inflight->admit(req, resource,
                                           [&] { return impl_->passesLimitByCredentials(req); })
                  : InflightLimiter::Slot();
  if (!slot) return tooManyRequestsResponse(metrics);  // inflight_limiter.h: 429
  std::shared_ptr<AuditEvent> audit;                   // audit.h; set when auditing is on
  std::string auditId;
  if (impl_->auditor) {
    // Upstream keeps a client's Audit-ID header, else makes one.
    auditId = req.header("audit-id");
    if (auditId.empty()) auditId = newAuditId();
  }
  try {
    impl_->authenticateAndAuthorize(req, audit, auditId);
    HttpResponse res = impl_->route(req, resource);
    takeAuditAnnotations(res, audit.get());
    metrics.done(res);
    if (audit) {
      impl_->auditResponse(*audit, req, res, audit);
    } else if (impl_->auditor) {
      res.headers.emplace_back("Audit-Id", auditId);
    }
    return res;
  } catch (const ApiError& e) {
    metrics.failed(e.code());
    if (!impl_->auditor) throw;
    if (audit) impl_->auditFailure(*audit, e);
    // The Status, answered here so that it carries the Audit-Id header.
    HttpResponse res;
    res.status = e.code();
    res.body = json::serialize(e.toStatus());
    res.apiObject = true;
    res.headers.emplace_back("Audit-Id", auditId);
    if (e.retryAfterSeconds > 0)
      res.headers.emplace_back("Retry-After", std::to_string(e.retryAfterSeconds));
    return res;
  } catch (const std::exception& e) {
    if (audit && audit->decision.level != AuditLevel::None) {
      audit->responseStatus = json::object{{"metadata", json::object{}}, {"code", 500}};
      impl_->auditor->emit(*audit, "Panic");
    }
    throw;
  }
}

}  // namespace skiff::apiserver
