// What the certificates.k8s.io controllers decide about a CertificateSigningRequest, as pure
// functions over the parsed request (unit-tested without a server):
//  - the signer constraints of the three kubernetes.io signers the cluster CA issues for
//    (upstream's ValidateKubeletClientCSR / ValidateKubeletServingCSR and the
//    kube-apiserver-client usage check); a violation fails the request with reason
//    SignerValidationFailure and this message;
//  - the issued duration (the request's expirationSeconds, capped by the signer's maximum);
//  - skiff's auto-approval policy for kubernetes.io/kubelet-serving (upstream leaves those to
//    an administrator): the requester is the node itself and every SAN names that node.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/csr.h"

namespace skiff::controller::csr {

inline constexpr const char* kApiserverClient = "kubernetes.io/kube-apiserver-client";
inline constexpr const char* kKubeletClient = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr const char* kKubeletServing = "kubernetes.io/kubelet-serving";

// The request as the controllers read it.
struct Request {
  std::string name, signerName, username;
  std::vector<std::string> groups, usages;
  std::optional<int64_t> expirationSeconds;
  std::string requestPem;  // decoded spec.request
  bool approved = false, denied = false, failed = false, issued = false;
};
// Reads a CertificateSigningRequest object (spec.request base64-decoded).
Request readRequest(const boost::json::object& csr);

// "" when the kubelet client request (O system:nodes only, CN system:node:..., no SANs,
// usages within key encipherment/digital signature/client auth with the last two) is well
// formed, else upstream's message.
std::string kubeletClientError(const CsrSubject& subject, const std::vector<std::string>& usages);
// The same for a kubelet serving request (a DNS or IP SAN required, server auth).
std::string kubeletServingError(const CsrSubject& subject, const std::vector<std::string>& usages);
// kubernetes.io/kube-apiserver-client: usages within digital signature/key encipherment/
// client auth.
std::string apiserverClientError(const std::vector<std::string>& usages);
// The constraint check of `signerName` ("" when it holds or the signer is not one of ours).
std::string signerConstraintError(const std::string& signerName, const CsrSubject& subject,
                                  const std::vector<std::string>& usages);
// Whether the cluster CA signs for this signer.
bool isClusterSigner(const std::string& signerName);

// Seconds the certificate is valid: expirationSeconds when set (at least 600, validation
// ensured it), never more than `maxSeconds`.
int64_t issuedDuration(const std::optional<int64_t>& expirationSeconds, int64_t maxSeconds);

// skiff's kubelet-serving auto-approval: the requester is system:node:NAME in system:nodes,
// the request is a valid serving request for CN system:node:NAME, and every DNS SAN is NAME
// or one of `nodeAddresses` (the Node's status.addresses) and every IP SAN is one of them.
// Returns "" to approve, else why not.
std::string kubeletServingAutoApproveError(const Request& request, const CsrSubject& subject,
                                           const std::vector<std::string>& nodeAddresses);

}  // namespace skiff::controller::csr
