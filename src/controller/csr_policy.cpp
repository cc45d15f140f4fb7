#include "controller/csr_policy.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "api/json_access.h"
#include "common/base64.h"

namespace skiff::controller::csr {

namespace json = boost::json;

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Go's %v of a []string: "[a b c]".
std::string goList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

// Every usage within `allowed` and every one of `required` present.
bool usagesFit(const std::vector<std::string>& usages, const std::set<std::string>& allowed,
               const std::vector<std::string>& required) {
  for (const auto& u : usages)
    if (!allowed.count(u)) return false;
  for (const auto& r : required)
    if (!has(usages, r)) return false;
  return true;
}

std::string nodeSubjectError(const CsrSubject& s) {
  if (s.organizations != std::vector<std::string>{"system:nodes"})
    return "subject organization is not system:nodes";
  if (s.commonName.rfind("system:node:", 0) != 0)
    return "subject common name does not begin with system:node:";
  return "";
}

}  // namespace

Request readRequest(const json::object& obj) {
  Request r;
  r.name = api::stringAt(obj, {"metadata", "name"});
  r.signerName = api::stringAt(obj, {"spec", "signerName"});
  r.username = api::stringAt(obj, {"spec", "username"});
  for (const auto& g : api::arrayOrEmpty(obj, {"spec", "groups"}))
    if (g.is_string()) r.groups.emplace_back(g.as_string());
  for (const auto& u : api::arrayOrEmpty(obj, {"spec", "usages"}))
    if (u.is_string()) r.usages.emplace_back(u.as_string());
  if (const json::value* e = api::objectOrEmpty(obj, {"spec"}).if_contains("expirationSeconds");
      e && e->is_number())
    r.expirationSeconds = e->to_number<int64_t>();
  r.requestPem = base64Decode(api::stringAt(obj, {"spec", "request"})).value_or("");
  for (const auto& c : api::arrayOrEmpty(obj, {"status", "conditions"})) {
    if (!c.is_object()) continue;
    std::string type = api::stringAt(c.as_object(), {"type"});
    r.approved |= type == "Approved";
    r.denied |= type == "Denied";
    r.failed |= type == "Failed";
  }
  r.issued = !api::stringAt(obj, {"status", "certificate"}).empty();
  return r;
}

std::string kubeletClientError(const CsrSubject& s, const std::vector<std::string>& usages) {
  if (auto e = nodeSubjectError(s); !e.empty()) return e;
  if (!s.dnsNames.empty()) return "DNS subjectAltNames are not allowed";
  if (!s.emailAddresses.empty()) return "Email subjectAltNames are not allowed";
  if (!s.ipAddresses.empty()) return "IP subjectAltNames are not allowed";
  if (!s.uris.empty()) return "URI subjectAltNames are not allowed";
  if (!usagesFit(usages, {"key encipherment", "digital signature", "client auth"},
                 {"digital signature", "client auth"}))
    return "usages did not match " +
           goList({"key encipherment", "digital signature", "client auth"});
  return "";
}

std::string kubeletServingError(const CsrSubject& s, const std::vector<std::string>& usages) {
  if (auto e = nodeSubjectError(s); !e.empty()) return e;
  if (s.dnsNames.empty() && s.ipAddresses.empty()) return "DNS or IP subjectAltName is required";
  if (!s.emailAddresses.empty()) return "Email subjectAltNames are not allowed";
  if (!s.uris.empty()) return "URI subjectAltNames are not allowed";
  if (!usagesFit(usages, {"key encipherment", "digital signature", "server auth"},
                 {"digital signature", "server auth"}))
    return "usages did not match " +
           goList({"key encipherment", "digital signature", "server auth"});
  return "";
}

std::string apiserverClientError(const std::vector<std::string>& usages) {
  for (const auto& u : usages)
    if (u != "digital signature" && u != "key encipherment" && u != "client auth")
      return "invalid usage for client certificate: " + u;
  return "";
}

bool isClusterSigner(const std::string& signerName) {
  return signerName == kApiserverClient || signerName == kKubeletClient ||
         signerName == kKubeletServing;
}

std::string signerConstraintError(const std::string& signerName, const CsrSubject& subject,
                                  const std::vector<std::string>& usages) {
  if (signerName == kKubeletClient) return kubeletClientError(subject, usages);
  if (signerName == kKubeletServing) return kubeletServingError(subject, usages);
  if (signerName == kApiserverClient) {
    // CertificateSubjectRestriction refuses these at create; the signer checks again.
    if (has(subject.organizations, "system:masters"))
      return "use of kubernetes.io/kube-apiserver-client signer with system:masters group is "
             "not allowed";
    return apiserverClientError(usages);
  }
  return "";
}

int64_t issuedDuration(const std::optional<int64_t>& expirationSeconds, int64_t maxSeconds) {
  if (!expirationSeconds) return maxSeconds;
  return std::min(*expirationSeconds, maxSeconds);
}

std::string kubeletServingAutoApproveError(const Request& request, const CsrSubject& subject,
                                           const std::vector<std::string>& nodeAddresses) {
  if (request.signerName != kKubeletServing) return "not a kubelet serving request";
  if (request.username.rfind("system:node:", 0) != 0 || !has(request.groups, "system:nodes"))
    return "the requester is not a node";
  if (subject.commonName != request.username) return "the subject is not the requesting node";
  if (auto e = kubeletServingError(subject, request.usages); !e.empty()) return e;
  const std::string node = request.username.substr(std::string("system:node:").size());
  for (const auto& d : subject.dnsNames)
    if (d != node && !has(nodeAddresses, d)) return "DNS name " + d + " is not the node's";
  for (const auto& ip : subject.ipAddresses)
    if (!has(nodeAddresses, ip)) return "IP address " + ip + " is not one of the node's addresses";
  return "";
}

}  // namespace skiff::controller::csr
