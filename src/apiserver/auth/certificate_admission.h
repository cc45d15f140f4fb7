// certificates.k8s.io admission, as upstream's plugins and REST strategy:
//  - on create the requester's identity goes into spec.username/uid/groups/extra (what a
//    client sent there is replaced; upstream's csrStrategy.PrepareForCreate);
//  - CertificateSubjectRestriction: no kubernetes.io/kube-apiserver-client request for the
//    system:masters group;
//  - CertificateApproval: a write to /approval needs the `approve` verb on `signers` for
//    the request's signerName (or "<domain>/*") in group certificates.k8s.io;
//  - CertificateSigning: a /status write that changes status.certificate needs `sign`
//    there likewise.
// The checks ask the RBAC authorizer; system:masters pass, and so does the server's own
// write (user null).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "api/resource_registry.h"
#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::rbac {

// Is `user` allowed `verb` (approve, sign) for `signerName`? (upstream's
// IsAuthorizedForSignerName: the exact name, then the "<domain>/*" wildcard.)
bool authorizedForSigner(const Authorizer& authz, const UserInfo& user, const std::string& verb,
                         const std::string& signerName);

void admitCertificateRequestCreate(const api::ResourceInfo& info, boost::json::object& obj,
                                   const UserInfo* user);
void admitCertificateRequestUpdate(const Authorizer& authz, const api::ResourceInfo& info,
                                   const std::string& subresource, const boost::json::object& obj,
                                   const boost::json::object& old, const UserInfo* user);

}  // namespace skiff::apiserver::rbac
