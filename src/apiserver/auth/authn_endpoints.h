// The authentication API the server answers itself (nothing is stored):
//   POST /api/v1/namespaces/NS/serviceaccounts/NAME/token  TokenRequest (kubectl create token)
//   POST /apis/authentication.k8s.io/v1/tokenreviews        TokenReview
//   POST /apis/authentication.k8s.io/v1/selfsubjectreviews  SelfSubjectReview (auth whoami)
//   GET  /.well-known/openid-configuration, /openid/v1/jwks ServiceAccount issuer discovery
#pragma once

#include <string>

#include "apiserver/auth/authenticator.h"
#include "apiserver/request_info.h"
#include "net/http_types.h"

namespace skiff::apiserver {
class ResourceStore;
}

namespace skiff::apiserver::auth {

HttpResponse handleTokenRequest(ResourceStore& store, const api::ResourceRegistry& registry,
                                const ServiceAccountTokens& tokens, const RequestInfo& ri,
                                HttpRequest& req);
HttpResponse handleTokenReview(const RequestAuthenticator& authenticator, HttpRequest& req);
HttpResponse handleSelfSubjectReview(const UserInfo& user, HttpRequest& req);

// The UserInfo object of TokenReview and SelfSubjectReview (username, uid, groups, extra;
// empty fields left out as upstream's omitempty does).
boost::json::object userInfoJson(const UserInfo& user);

HttpResponse openIdConfiguration(const ServiceAccountTokens& tokens, const std::string& jwksUri);
HttpResponse openIdKeySet(const ServiceAccountTokens& tokens);

}  // namespace skiff::apiserver::auth
