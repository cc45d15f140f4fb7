// CertificateSigningRequest (upstream pkg/registry/certificates/certificates and
// pkg/apis/certificates/validation): a PEM PKCS#10 request for a signer, approved or denied
// through /approval, issued through /status. The requester's identity (spec.username,
// groups, ...) is set by admission from the request (apiserver/auth/certificate_admission.h).
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <set>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"
#include "common/base64.h"
#include "common/csr.h"

namespace skiff::api {

namespace validation {
namespace {

const std::set<std::string> kUsages = {"any",
                                       "cert sign",
                                       "client auth",
                                       "code signing",
                                       "content commitment",
                                       "crl sign",
                                       "data encipherment",
                                       "decipher only",
                                       "digital signature",
                                       "email protection",
                                       "encipher only",
                                       "ipsec end system",
                                       "ipsec tunnel",
                                       "ipsec user",
                                       "key agreement",
                                       "key encipherment",
                                       "microsoft sgc",
                                       "netscape sgc",
                                       "ocsp signing",
                                       "s/mime",
                                       "server auth",
                                       "signing",
                                       "timestamping"};

// Go's %#v of a []byte, as upstream's field.Invalid prints spec.request (cut short here: a
// request is hundreds of bytes).
std::string goBytes(const std::string& b) {
  std::string out = "[]byte{";
  char buf[8];
  for (size_t i = 0; i < b.size() && i < 32; ++i) {
    std::snprintf(buf, sizeof buf, "%s0x%02x", i ? ", " : "", static_cast<unsigned char>(b[i]));
    out += buf;
  }
  if (b.size() > 32) out += ", ...";
  return out + "}";
}

void validateSignerName(const std::string& path, const std::string& name, Errors& errs) {
  if (name.empty()) {
    errs.required(path, "signerName must be provided");
    return;
  }
  const size_t slash = name.find('/');
  if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) {
    errs.invalid(path, quote(name),
                 "must be a fully qualified domain and path of the form 'example.com/signer-name'");
    return;
  }
  const std::string domain = name.substr(0, slash), rest = name.substr(slash + 1);
  if (domain.size() > 253) errs.tooLong(path, 253);
  size_t labels = 0;
  for (size_t start = 0;; ++labels) {
    size_t dot = domain.find('.', start);
    std::string label = domain.substr(start, dot == std::string::npos ? dot : dot - start);
    auto bad = validateDns1123Label(label);
    if (!bad.empty()) {
      for (const auto& m : bad)
        errs.invalid(path, quote(domain), "validating label " + quote(label) + ": " + m);
      labels = 2;  // one report is enough, as upstream
      break;
    }
    if (dot == std::string::npos) {
      ++labels;
      break;
    }
    start = dot + 1;
  }
  if (labels < 2)
    errs.invalid(path, quote(domain),
                 "should be a domain with at least two segments separated by dots");
  for (size_t start = 0;;) {
    size_t dot = rest.find('.', start);
    std::string label = rest.substr(start, dot == std::string::npos ? dot : dot - start);
    auto bad = validateDns1123Subdomain(label);
    if (!bad.empty()) {
      for (const auto& m : bad)
        errs.invalid(path, quote(rest), "validating label " + quote(label) + ": " + m);
      break;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (name.size() > 253 + 253 + 63 + 1 + 1) errs.tooLong(path, 571);
}

// status.certificate: PEM CERTIFICATE blocks only (empty is fine).
std::string certificateError(const std::string& pem) {
  if (pem.empty()) return "";
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return "must contain at least one CERTIFICATE PEM block";
  for (size_t at = pem.find("-----BEGIN "); at != std::string::npos;
       at = pem.find("-----BEGIN ", at + 1)) {
    size_t end = pem.find("-----", at + 11);
    std::string label = pem.substr(at + 11, end == std::string::npos ? 0 : end - at - 11);
    if (label != "CERTIFICATE")
      return "only CERTIFICATE PEM blocks are allowed, found " + quote(label);
  }
  try {
    certificateInfo(pem);
  } catch (const std::exception&) {
    return "x509: malformed certificate";
  }
  return "";
}

std::vector<const json::object*> conditionsOf(const json::object& csr, const std::string& type) {
  std::vector<const json::object*> out;
  for (const auto& c : arr(obj(csr, "status"), "conditions"))
    if (c.is_object() && str(c.as_object(), "type") == type) out.push_back(&c.as_object());
  return out;
}

void validateConditions(const json::object& csr, Errors& errs) {
  std::set<std::string> seen;
  bool approved = false, denied = false;
  const auto& conds = arr(obj(csr, "status"), "conditions");
  for (size_t i = 0; i < conds.size(); ++i) {
    if (!conds[i].is_object()) continue;
    const auto& c = conds[i].as_object();
    const std::string p = index("status.conditions", i);
    const std::string type = str(c, "type"), status = str(c, "status");
    if (type.empty()) errs.required(child(p, "type"));
    const bool trueOnly = type == "Approved" || type == "Denied" || type == "Failed";
    if (status.empty())
      errs.required(child(p, "status"));
    else if (trueOnly && status != "True")
      errs.notSupported(child(p, "status"), quote(status), {"True"});
    else if (!trueOnly && status != "True" && status != "False" && status != "Unknown")
      errs.notSupported(child(p, "status"), quote(status), {"False", "True", "Unknown"});
    if ((type == "Approved" && denied) || (type == "Denied" && approved))
      errs.invalid(child(p, "type"), quote(type),
                   "Approved and Denied conditions are mutually exclusive");
    approved |= type == "Approved";
    denied |= type == "Denied";
    if (!seen.insert(type).second) errs.duplicate(child(p, "type"), quote(type));
  }
}

void validateCsr(const json::object& csr, Errors& errs) {
  const auto& spec = obj(csr, "spec");
  const std::string encoded = str(spec, "request");
  const std::string pem = base64Decode(encoded).value_or("");
  try {
    parseCsr(pem);
  } catch (const std::invalid_argument& e) {
    errs.invalid("spec.request", goBytes(pem), e.what());
  }
  const auto& usages = arr(spec, "usages");
  if (usages.empty()) errs.required("spec.usages", "usages must be provided");
  std::vector<std::string> supported(kUsages.begin(), kUsages.end());
  std::set<std::string> seen;
  for (size_t i = 0; i < usages.size(); ++i) {
    std::string u = usages[i].is_string() ? std::string(usages[i].as_string()) : "";
    if (!kUsages.count(u)) errs.notSupported(index("spec.usages", i), quote(u), supported);
    if (!seen.insert(u).second) errs.duplicate(index("spec.usages", i), quote(u));
  }
  validateSignerName("spec.signerName", str(spec, "signerName"), errs);
  if (auto e = integer(spec, "expirationSeconds"); e && *e < 600)
    errs.invalid("spec.expirationSeconds", std::to_string(*e),
                 "may not specify a duration less than 600 seconds (10 minutes)");
  validateConditions(csr, errs);
  if (auto bad =
          certificateError(base64Decode(str(obj(csr, "status"), "certificate")).value_or(""));
      !bad.empty())
    errs.invalid("status.certificate", "\"<certificate data>\"", bad);
}

// Upstream's validateCertificateSigningRequestUpdate: Approved/Denied/Failed conditions are
// never removed; Approved/Denied change only through /approval; status.certificate only
// through /status, and only once.
void validateCsrUpdate(const json::object& csr, const json::object& old,
                       std::string_view subresource, Errors& errs) {
  validateCsr(csr, errs);
  for (const char* t : {"Approved", "Denied", "Failed"})
    if (conditionsOf(csr, t).size() < conditionsOf(old, t).size())
      errs.forbidden("status.conditions",
                     std::string("updates may not remove a condition of type ") + quote(t));
  if (subresource != "approval")
    for (const char* t : {"Approved", "Denied"}) {
      auto now = conditionsOf(csr, t), before = conditionsOf(old, t);
      if (now.size() > before.size())
        errs.forbidden("status.conditions",
                       std::string("updates may not add a condition of type ") + quote(t));
      else if (now.size() == before.size())
        for (size_t i = 0; i < now.size(); ++i)
          if (*now[i] != *before[i]) {
            errs.forbidden("status.conditions",
                           std::string("updates may not modify a condition of type ") + quote(t));
            break;
          }
    }
  const std::string cert = str(obj(csr, "status"), "certificate"),
                    oldCert = str(obj(old, "status"), "certificate");
  if (cert != oldCert) {
    if (subresource != "status")
      errs.forbidden("status.certificate", "updates may not set certificate content");
    else if (!oldCert.empty())
      errs.forbidden("status.certificate", "updates may not modify existing certificate content");
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

namespace {

std::string nowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::array* conditionsOf(json::object& csr) {
  json::value* status = csr.if_contains("status");
  if (!status || !status->is_object()) return nullptr;
  json::value* conds = status->as_object().if_contains("conditions");
  return conds && conds->is_array() ? &conds->as_array() : nullptr;
}

const json::object* findCondition(const json::object& csr, std::string_view type) {
  const json::value* status = csr.if_contains("status");
  if (!status || !status->is_object()) return nullptr;
  const json::value* conds = status->as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->as_array())
    if (c.is_object()) {
      const json::value* t = c.as_object().if_contains("type");
      if (t && t->is_string() && t->as_string() == type) return &c.as_object();
    }
  return nullptr;
}

// Upstream's populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime
// kept from the stored condition of that type when its status did not change, else now.
void populateConditionTimestamps(json::object& csr, const json::object* old) {
  json::array* conds = conditionsOf(csr);
  if (!conds) return;
  const std::string now = nowRfc3339();
  for (auto& c : *conds) {
    if (!c.is_object()) continue;
    json::object& cond = c.as_object();
    const json::value* lu = cond.if_contains("lastUpdateTime");
    if (!lu || !lu->is_string() || lu->as_string().empty()) cond["lastUpdateTime"] = now;
    const json::value* lt = cond.if_contains("lastTransitionTime");
    if (lt && lt->is_string() && !lt->as_string().empty()) continue;
    const json::value* type = cond.if_contains("type");
    const json::object* before =
        old && type && type->is_string() ? findCondition(*old, type->as_string()) : nullptr;
    if (before && before->if_contains("status") && cond.if_contains("status") &&
        *before->if_contains("status") == *cond.if_contains("status") &&
        before->contains("lastTransitionTime"))
      cond["lastTransitionTime"] = before->at("lastTransitionTime");
    else
      cond["lastTransitionTime"] = now;
  }
}

// A main-resource update changes metadata only: spec and status stay as stored.
void prepareCsrUpdate(json::object& obj, const json::object& old) {
  if (const json::value* spec = old.if_contains("spec"))
    obj["spec"] = *spec;
  else
    obj.erase("spec");
}

// /approval changes only conditions; /status keeps the stored Approved/Denied conditions
// (upstream's preserveConditionInstances) and may change the rest.
void prepareCsrStatusUpdate(json::object& obj, const json::object& old,
                            std::string_view subresource) {
  json::array newConds;
  if (json::array* c = conditionsOf(obj)) newConds = *c;
  json::object status;
  if (const json::value* s = old.if_contains("status"); s && s->is_object())
    status = s->as_object();
  if (subresource == "approval") {
    status["conditions"] = std::move(newConds);
  } else {
    json::array kept;
    for (const auto& c : newConds) {
      std::string type =
          c.is_object() && c.as_object().contains("type") && c.as_object().at("type").is_string()
              ? std::string(c.as_object().at("type").as_string())
              : "";
      if (type != "Approved" && type != "Denied") kept.push_back(c);
    }
    for (const char* t : {"Approved", "Denied"})
      if (const json::object* before = findCondition(old, t)) kept.push_back(*before);
    json::object fresh;
    if (const json::value* s = obj.if_contains("status"); s && s->is_object())
      fresh = s->as_object();
    fresh["conditions"] = std::move(kept);
    status = std::move(fresh);
  }
  if (status.contains("conditions") && status.at("conditions").as_array().empty())
    status.erase("conditions");
  obj["status"] = std::move(status);
  populateConditionTimestamps(obj, &old);
}

}  // namespace

void addCertificateKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "certificates.k8s.io",
                 .kind = "CertificateSigningRequest",
                 .validate =
                     [](const json::object& o, const json::object* old, validation::Errors& e) {
                       if (old)
                         validation::validateCsrUpdate(o, *old, "", e);
                       else
                         validation::validateCsr(o, e);
                     },
                 // "We don't care what you call your certificate requests" (upstream).
                 .nameRule = NameRule::PathSegment,
                 .prepareForUpdate = prepareCsrUpdate,
                 .statusLikeSubresources = {"approval"},
                 .prepareForStatusUpdate = prepareCsrStatusUpdate,
                 .validateStatus =
                     [](const json::object& o, const json::object& old, std::string_view sub,
                        validation::Errors& e) { validation::validateCsrUpdate(o, old, sub, e); }});
}

}  // namespace skiff::api
