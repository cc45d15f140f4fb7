#include "kubelet/token_manager.h"

#include <boost/json.hpp>
#include <random>
#include <stdexcept>

#include "client/rest_client.h"
#include "common/ids.h"
#include "common/log.h"

namespace skiff::kubelet {

namespace {
constexpr std::chrono::hours kMaxTokenAge{24};
constexpr int kMaxJitterSeconds = 10;
}  // namespace

IssuedToken requestServiceAccountToken(client::RestClient& client, const TokenRequestSpec& spec) {
  namespace json = boost::json;
  json::array audiences;
  for (const auto& a : spec.audiences) audiences.emplace_back(a);
  json::object body{{"apiVersion", "authentication.k8s.io/v1"},
                    {"kind", "TokenRequest"},
                    {"spec", json::object{{"audiences", std::move(audiences)},
                                          {"expirationSeconds", spec.expirationSeconds},
                                          {"boundObjectRef", json::object{{"apiVersion", "v1"},
                                                                          {"kind", "Pod"},
                                                                          {"name", spec.podName},
                                                                          {"uid", spec.podUid}}}}}};
  json::object answer = client.request(
      "POST",
      "/api/v1/namespaces/" + spec.ns + "/serviceaccounts/" + spec.serviceAccount + "/token",
      json::serialize(body));
  IssuedToken out;
  const json::object* status = answer.contains("status") && answer.at("status").is_object()
                                   ? &answer.at("status").as_object()
                                   : nullptr;
  const json::value* token = status ? status->if_contains("token") : nullptr;
  const json::value* expires = status ? status->if_contains("expirationTimestamp") : nullptr;
  if (!token || !token->is_string() || !expires || !expires->is_string() ||
      !parseTime(std::string(expires->as_string()), out.expiresAt))
    throw std::runtime_error("the TokenRequest answer has no token or expiration");
  out.token = std::string(token->as_string());
  out.expirationSeconds = spec.expirationSeconds;
  if (const json::value* s = answer.contains("spec") && answer.at("spec").is_object()
                                 ? answer.at("spec").as_object().if_contains("expirationSeconds")
                                 : nullptr;
      s && s->is_number())
    out.expirationSeconds = s->to_number<int64_t>();
  return out;
}

bool tokenRequiresRefresh(const IssuedToken& token, std::chrono::system_clock::time_point now,
                          std::chrono::seconds jitter) {
  const std::chrono::seconds lifetime(token.expirationSeconds);
  const auto issuedAt = token.expiresAt - lifetime;
  if (now > issuedAt + kMaxTokenAge - jitter) return true;
  return now > token.expiresAt - lifetime * 20 / 100 - jitter;
}

std::chrono::seconds TokenManager::randomJitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::chrono::seconds(std::uniform_int_distribution<int>(0, kMaxJitterSeconds - 1)(rng));
}

TokenManager::TokenManager(TokenRequester request, Now now,
                           std::function<std::chrono::seconds()> jitter)
    : request_(std::move(request)), now_(std::move(now)), jitter_(std::move(jitter)) {}

std::string TokenManager::keyOf(const TokenRequestSpec& spec) {
  std::string key = spec.ns + "/" + spec.serviceAccount + "/" + spec.podName + "/" + spec.podUid +
                    "/" + std::to_string(spec.expirationSeconds);
  for (const auto& a : spec.audiences) key += "/" + a;
  return key;
}

std::string TokenManager::token(const TokenRequestSpec& spec) {
  const std::string key = keyOf(spec);
  std::optional<IssuedToken> cached;
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(key); it != tokens_.end()) cached = it->second;
  }
  const auto now = now_();
  if (cached && !tokenRequiresRefresh(*cached, now, jitter_())) return cached->token;
  if (!request_) throw std::runtime_error("no API client to request a service account token");
  try {
    IssuedToken fresh = request_(spec);
    if (fresh.expirationSeconds <= 0) fresh.expirationSeconds = spec.expirationSeconds;
    std::lock_guard lock(mu_);
    tokens_[key] = fresh;
    return fresh.token;
  } catch (const std::exception& e) {
    // Keep serving a token that still works; the next pod sync asks again.
    if (cached && now < cached->expiresAt) {
      SKIFF_LOG_WARN(
          "kubelet token refresh failed, keeping the current token sa={}/{} error=\"{}\"", spec.ns,
          spec.serviceAccount, e.what());
      return cached->token;
    }
    throw std::runtime_error("failed to fetch token: " + std::string(e.what()));
  }
}

void TokenManager::forgetPod(const std::string& podUid) {
  const auto now = now_();
  std::lock_guard lock(mu_);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    const std::string& key = it->first;
    // keyOf: ns/sa/podName/podUid/... (uids hold no '/').
    bool ofPod = !podUid.empty() && key.find("/" + podUid + "/") != std::string::npos;
    if (ofPod || now > it->second.expiresAt)
      it = tokens_.erase(it);
    else
      ++it;
  }
}

size_t TokenManager::cached() const {
  std::lock_guard lock(mu_);
  return tokens_.size();
}

}  // namespace skiff::kubelet
