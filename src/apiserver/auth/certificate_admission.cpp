#include "apiserver/auth/certificate_admission.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/csr.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

constexpr const char* kGroup = "certificates.k8s.io";

bool isCsr(const api::ResourceInfo& info) {
  return info.group == kGroup && info.plural == "certificatesigningrequests";
}

bool inMasters(const UserInfo& user) {
  return std::find(user.groups.begin(), user.groups.end(), "system:masters") != user.groups.end();
}

bool allowed(const Authorizer& authz, const UserInfo& user, const std::string& verb,
             const std::string& name) {
  AuthorizationAttributes a;
  a.user = &user;
  a.verb = verb;
  a.resourceRequest = true;
  a.apiGroup = kGroup;
  a.apiVersion = "*";
  a.resource = "signers";
  a.name = name;
  return authz.authorize(a).decision == Decision::Allow;
}

std::string csrName(const json::object& obj) { return api::stringAt(obj, {"metadata", "name"}); }

}  // namespace

bool authorizedForSigner(const Authorizer& authz, const UserInfo& user, const std::string& verb,
                         const std::string& signerName) {
  if (inMasters(user)) return true;
  if (allowed(authz, user, verb, signerName)) return true;
  const size_t slash = signerName.find('/');
  return slash != std::string::npos &&
         allowed(authz, user, verb, signerName.substr(0, slash) + "/*");
}

void admitCertificateRequestCreate(const api::ResourceInfo& info, json::object& obj,
                                   const UserInfo* user) {
  if (!isCsr(info)) return;
  json::object& spec = api::ensureObject(obj, {"spec"});
  // Who asked is the server's to say, never the client's.
  for (const char* field : {"username", "uid", "groups", "extra"}) spec.erase(field);
  if (user) {
    if (!user->user.empty()) spec["username"] = user->user;
    if (!user->uid.empty()) spec["uid"] = user->uid;
    if (!user->groups.empty()) {
      json::array groups;
      for (const auto& g : user->groups) groups.emplace_back(g);
      spec["groups"] = std::move(groups);
    }
    if (!user->extra.empty()) {
      json::object extra;
      for (const auto& [k, values] : user->extra) {
        json::array v;
        for (const auto& x : values) v.emplace_back(x);
        extra[k] = std::move(v);
      }
      spec["extra"] = std::move(extra);
    }
  }
  // CertificateSubjectRestriction.
  if (api::stringAt(spec, {"signerName"}) != "kubernetes.io/kube-apiserver-client") return;
  const auto pem = base64Decode(api::stringAt(spec, {"request"}));
  if (!pem) return;  // validation reports it
  try {
    CsrSubject subject = parseCsr(*pem);
    if (std::find(subject.organizations.begin(), subject.organizations.end(), "system:masters") !=
        subject.organizations.end())
      throw forbidden(info.qualifiedResource(), csrName(obj),
                      "use of kubernetes.io/kube-apiserver-client signer with system:masters "
                      "group is not allowed");
  } catch (const std::invalid_argument&) {
    // A malformed request: validation answers it.
  }
}

void admitCertificateRequestUpdate(const Authorizer& authz, const api::ResourceInfo& info,
                                   const std::string& subresource, const json::object& obj,
                                   const json::object& old, const UserInfo* user) {
  if (!isCsr(info) || !user) return;
  const std::string signer = api::stringAt(old, {"spec", "signerName"});
  if (subresource == "approval") {
    if (!authorizedForSigner(authz, *user, "approve", signer))
      throw forbidden(info.qualifiedResource(), csrName(old),
                      "user not permitted to approve requests with signerName \"" + signer + "\"");
  } else if (subresource == "status") {
    if (api::stringAt(obj, {"status", "certificate"}) ==
        api::stringAt(old, {"status", "certificate"}))
      return;
    if (!authorizedForSigner(authz, *user, "sign", signer))
      throw forbidden(info.qualifiedResource(), csrName(old),
                      "user not permitted to sign requests with signerName \"" + signer + "\"");
  }
}

}  // namespace skiff::apiserver::rbac
