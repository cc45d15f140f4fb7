// Tokens controller (upstream's serviceaccount-token-controller), for the legacy
// ServiceAccount token Secrets that are created on request only (upstream ≥ 1.24): a Secret of
// type kubernetes.io/service-account-token annotated kubernetes.io/service-account.name gets
// data token (a non-expiring token of issuer kubernetes/serviceaccount naming the Secret),
// ca.crt and namespace, and the account's uid in kubernetes.io/service-account.uid. Such a
// Secret is deleted when its account is gone (or is another account of the same name).
// Signing needs the API server's key (ControllerOptions::signLegacyToken, set by
// `skiff server`); without it only the deletions run.
#include "common/api_error.h"
#include "common/base64.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

constexpr const char* kTokenType = "kubernetes.io/service-account-token";
constexpr const char* kNameAnnotation = "kubernetes.io/service-account.name";
constexpr const char* kUidAnnotation = "kubernetes.io/service-account.uid";

bool isTokenSecret(const json::object& secret) { return stringAt(secret, {"type"}) == kTokenType; }

class TokensController : public QueueController {
 public:
  explicit TokensController(ControllerContext& ctx)
      : QueueController(ctx, "serviceaccount-token", "serviceaccount-token-controller", 1),
        caPem_(ctx.options.rootCaPem),
        sign_(ctx.options.signLegacyToken),
        secrets_(ctx.informers.informer(client::resources::secrets)),
        accounts_(ctx.informers.informer(client::resources::serviceAccounts)) {
    if (!sign_)
      SKIFF_LOG_INFO(
          "serviceaccount-token controller: no signing key here (the API server's), legacy "
          "token Secrets are only cleaned up");
    auto onSecret = [this](const json::object& s) {
      if (isTokenSecret(s)) enqueue(s);
    };
    secrets_.addEventHandler({
        .onAdd = onSecret,
        .onUpdate = [onSecret](const json::object&, const json::object& s) { onSecret(s); },
    });
    // An account deleted or re-created under its name: its token Secrets are checked.
    auto onAccount = [this](const json::object& sa) { enqueueSecretsOf(sa); };
    accounts_.addEventHandler({
        .onUpdate = [onAccount](const json::object&, const json::object& sa) { onAccount(sa); },
        .onDelete = onAccount,
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto secret = secrets_.get(key);
    if (!secret || !isTokenSecret(*secret) || isBeingDeleted(*secret)) return;
    const std::string ns = namespaceOf(*secret), name = nameOf(*secret);
    const std::string accountName = stringAt(*secret, {"metadata", "annotations", kNameAnnotation});
    const std::string wantedUid = stringAt(*secret, {"metadata", "annotations", kUidAnnotation});
    auto account = currentAccount(ns, accountName);
    const std::string uid = account ? stringAt(*account, {"metadata", "uid"}) : std::string();
    if (!account || (!wantedUid.empty() && wantedUid != uid)) {
      SKIFF_LOG_INFO("serviceaccount-token: deleting secret={}/{} of missing account={}", ns, name,
                     accountName);
      try {
        client_.remove(client::resources::secrets, ns, name);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      return;
    }
    if (!sign_) return;
    const json::object* data = nullptr;
    if (auto* d = secret->if_contains("data"); d && d->is_object()) data = &d->as_object();
    auto has = [&](const char* k) {
      const json::value* v = data ? data->if_contains(k) : nullptr;
      return v && v->is_string() && !v->as_string().empty();
    };
    const bool needsCa = !caPem_.empty() && !has("ca.crt");
    if (has("token") && !needsCa && has("namespace") && wantedUid == uid) return;

    json::object updated = *secret;
    json::value& newData = updated["data"];
    if (!newData.is_object()) newData.emplace_object();
    json::object& d = newData.as_object();
    if (!has("token")) d["token"] = base64Encode(sign_(ns, accountName, uid, name));
    if (needsCa) d["ca.crt"] = base64Encode(caPem_);
    if (!has("namespace")) d["namespace"] = base64Encode(ns);
    json::value& annotations = updated["metadata"].as_object()["annotations"];
    if (!annotations.is_object()) annotations.emplace_object();
    annotations.as_object()[kUidAnnotation] = uid;
    try {
      client_.update(client::resources::secrets, ns, updated);
    } catch (const ApiError& e) {
      if (e.code() == 404) return;  // deleted meanwhile
      throw;                        // 409: retried with the newer Secret
    }
  }

 private:
  // The account from the cache; a miss is confirmed with the API server, as upstream does
  // before deleting anything (the cache may not have seen a new account yet).
  std::optional<json::object> currentAccount(const std::string& ns, const std::string& name) {
    if (name.empty()) return std::nullopt;
    if (auto sa = accounts_.get(makeKey(ns, name))) return *sa;
    try {
      return client_.get(client::resources::serviceAccounts, ns, name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return std::nullopt;
      throw;
    }
  }

  void enqueueSecretsOf(const json::object& account) {
    const std::string ns = namespaceOf(account), name = nameOf(account);
    for (const auto& s : secrets_.list())
      if (isTokenSecret(*s) && namespaceOf(*s) == ns &&
          stringAt(*s, {"metadata", "annotations", kNameAnnotation}) == name)
        enqueue(*s);
  }

  std::string caPem_;
  ControllerOptions::LegacyTokenSigner sign_;
  client::SharedInformer& secrets_;
  client::SharedInformer& accounts_;
};

ControllerRegistration reg("serviceaccount-token", [](ControllerContext& ctx) {
  return std::make_unique<TokensController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
