// Name and label syntax, ObjectMeta validation, shared helpers and the per-kind dispatcher.
#include "api/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "api/go_text.h"
#include "api/kind_strategy.h"
#include "api/validation_internal.h"

namespace skiff::api {
namespace validation {
namespace {

const json::object kEmptyObject;
const json::array kEmptyArray;

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

bool matchesDns1123Label(std::string_view s) {
  if (s.empty() || !isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
}

bool matchesDns1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!matchesDns1123Label(s.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matchesQualifiedNamePart(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Upstream's RegexError wording: "<msg> (e.g. 'a',  or 'b', regex used for validation is '<re>')".
std::string regexError(std::string msg, std::string_view re,
                       std::initializer_list<std::string_view> examples) {
  msg += " (e.g. ";
  bool first = true;
  for (auto e : examples) {
    if (!first) msg += " or ";
    first = false;
    msg += "'" + std::string(e) + "', ";
  }
  msg += "regex used for validation is '" + std::string(re) + "')";
  return msg;
}

std::string maxLenError(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

constexpr std::string_view kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedNameErr =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

}  // namespace

// ---- Go-style rendering ----

// Go's %q, as upstream's field errors print values.
std::string quote(std::string_view s) { return goQuote(s); }

std::string goMap(const json::object& m) {
  std::map<std::string, std::string> sorted;
  for (const auto& kv : m)
    sorted[std::string(kv.key())] =
        kv.value().is_string() ? std::string(kv.value().get_string()) : "";
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) out += ", ";
    first = false;
    out += quote(k) + ":" + quote(v);
  }
  return out + "}";
}

std::string goLabelSelector(const json::object* selector) {
  if (!selector) return "nil";
  std::map<std::string, std::string> labels;
  for (const auto& kv : obj(*selector, "matchLabels"))
    labels[std::string(kv.key())] =
        kv.value().is_string() ? std::string(kv.value().get_string()) : "";
  std::string out = "&LabelSelector{MatchLabels:map[string]string{";
  for (const auto& [k, v] : labels) out += k + ": " + v + ",";
  out += "},MatchExpressions:[]LabelSelectorRequirement{";
  for (const auto& e : arr(*selector, "matchExpressions")) {
    if (!e.is_object()) continue;
    std::string values;
    for (const auto& v : arr(e.get_object(), "values")) {
      if (!values.empty()) values += " ";
      if (v.is_string()) values += std::string(v.get_string());
    }
    out += "LabelSelectorRequirement{Key:" + str(e.get_object(), "key") +
           ",Operator:" + str(e.get_object(), "operator") + ",Values:[" + values + "],},";
  }
  return out + "},}";
}

std::string goStringSlice(const json::array* a) {
  if (!a) return "[]string(nil)";
  std::string out = "[]string{";
  bool first = true;
  for (const auto& v : *a) {
    if (!first) out += ", ";
    first = false;
    out += quote(v.is_string() ? std::string_view(v.get_string()) : std::string_view());
  }
  return out + "}";
}

// ---- Errors: messages as upstream field.Error.ErrorBody() ----

void Errors::invalid(std::string field, const std::string& value, const std::string& detail) {
  causes_.push_back({"FieldValueInvalid",
                     "Invalid value: " + value + (detail.empty() ? "" : ": " + detail),
                     std::move(field)});
}
void Errors::required(std::string field, const std::string& detail) {
  causes_.push_back({"FieldValueRequired", "Required value" + (detail.empty() ? "" : ": " + detail),
                     std::move(field)});
}
void Errors::notSupported(std::string field, const std::string& value,
                          const std::vector<std::string>& supported) {
  std::string msg = "Unsupported value: " + value;
  if (!supported.empty()) {
    msg += ": supported values: ";
    for (size_t i = 0; i < supported.size(); ++i) msg += (i ? ", " : "") + quote(supported[i]);
  }
  causes_.push_back({"FieldValueNotSupported", msg, std::move(field)});
}
void Errors::duplicate(std::string field, const std::string& value) {
  causes_.push_back({"FieldValueDuplicate", "Duplicate value: " + value, std::move(field)});
}
void Errors::forbidden(std::string field, const std::string& detail) {
  causes_.push_back({"FieldValueForbidden", "Forbidden" + (detail.empty() ? "" : ": " + detail),
                     std::move(field)});
}
void Errors::tooLong(std::string field, int64_t maxBytes) {
  causes_.push_back({"FieldValueTooLong",
                     "Too long: must have at most " + std::to_string(maxBytes) + " bytes",
                     std::move(field)});
}
void Errors::typeInvalid(std::string field, const std::string& value, const std::string& detail) {
  causes_.push_back({"FieldValueTypeInvalid",
                     "Invalid value: " + value + (detail.empty() ? "" : ": " + detail),
                     std::move(field)});
}
void Errors::tooMany(std::string field, int64_t actual, int64_t max) {
  causes_.push_back({"FieldValueTooMany",
                     "Too many: " + std::to_string(actual) + ": must have at most " +
                         std::to_string(max) + " items",
                     std::move(field)});
}
void Errors::append(std::vector<StatusCause> more) {
  for (auto& c : more) causes_.push_back(std::move(c));
}

// ---- JSON access ----

const json::object& obj(const json::object& o, std::string_view key) {
  auto p = objPtr(o, key);
  return p ? *p : kEmptyObject;
}
const json::object* objPtr(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_object()) ? &it->value().get_object() : nullptr;
}
const json::array& arr(const json::object& o, std::string_view key) {
  auto p = arrPtr(o, key);
  return p ? *p : kEmptyArray;
}
const json::array* arrPtr(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_array()) ? &it->value().get_array() : nullptr;
}
std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_string()) ? std::string(it->value().get_string()) : "";
}
std::optional<int64_t> integer(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().get_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().get_double());
  return std::nullopt;
}
bool has(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && !it->value().is_null();
}

// ---- shared checks ----

void validateLabels(const json::object& labels, const std::string& path, Errors& errs) {
  for (const auto& kv : labels) {
    for (const auto& m : validateQualifiedName(kv.key())) errs.invalid(path, quote(kv.key()), m);
    std::string v = kv.value().is_string() ? std::string(kv.value().get_string()) : "";
    for (const auto& m : validateLabelValue(v)) errs.invalid(path, quote(v), m);
  }
}

void validateNonnegative(const json::object& o, std::string_view field, const std::string& path,
                         Errors& errs) {
  if (auto v = integer(o, field); v && *v < 0)
    errs.invalid(child(path, field), std::to_string(*v), "must be greater than or equal to 0");
}

void validateLabelSelector(const json::object& selector, const std::string& path, Errors& errs) {
  const auto& exprs = arr(selector, "matchExpressions");
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!exprs[i].is_object()) continue;
    const auto& e = exprs[i].get_object();
    std::string p = index(child(path, "matchExpressions"), i);
    std::string op = str(e, "operator");
    size_t nvalues = arr(e, "values").size();
    if (op == "In" || op == "NotIn") {
      if (nvalues == 0)
        errs.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (nvalues > 0)
        errs.forbidden(child(p, "values"),
                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      errs.invalid(child(p, "operator"), quote(op), "not a valid selector operator");
    }
    for (const auto& m : validateQualifiedName(str(e, "key")))
      errs.invalid(child(p, "key"), quote(str(e, "key")), m);
    for (const auto& v : arr(e, "values")) {
      std::string s = v.is_string() ? std::string(v.get_string()) : "";
      for (const auto& m : validateLabelValue(s))
        errs.invalid(index(child(p, "values"), 0), quote(s), m);
    }
  }
  validateLabels(obj(selector, "matchLabels"), child(path, "matchLabels"), errs);
}

bool selectorEmpty(const json::object& selector) {
  return obj(selector, "matchLabels").empty() && arr(selector, "matchExpressions").empty();
}

bool selectorMatches(const json::object& selector, const json::object& labels) {
  for (const auto& kv : obj(selector, "matchLabels")) {
    auto it = labels.find(kv.key());
    if (it == labels.end() || it->value() != kv.value()) return false;
  }
  for (const auto& e : arr(selector, "matchExpressions")) {
    if (!e.is_object()) continue;
    std::string k = str(e.get_object(), "key"), op = str(e.get_object(), "operator");
    auto it = labels.find(k);
    bool present = it != labels.end();
    bool inValues = false;
    for (const auto& v : arr(e.get_object(), "values"))
      if (present && v == it->value()) inValues = true;
    if (op == "In" && !inValues) return false;
    if (op == "NotIn" && inValues) return false;
    if (op == "Exists" && !present) return false;
    if (op == "DoesNotExist" && present) return false;
  }
  return true;
}

namespace {

NameRule nameRuleFor(std::string_view group, std::string_view kind) {
  const KindStrategy* strategy = kindStrategy(group, kind);
  return strategy ? strategy->nameRule : NameRule::Subdomain;
}

bool clusterScoped(std::string_view group, std::string_view kind) {
  static const std::set<std::string, std::less<>> kinds = {"Namespace",
                                                           "Node",
                                                           "PersistentVolume",
                                                           "ClusterRole",
                                                           "ClusterRoleBinding",
                                                           "StorageClass",
                                                           "PriorityClass",
                                                           "IngressClass",
                                                           "RuntimeClass",
                                                           "CSIDriver",
                                                           "CSINode",
                                                           "VolumeAttachment",
                                                           "CustomResourceDefinition",
                                                           "APIService",
                                                           "ValidatingWebhookConfiguration",
                                                           "MutatingWebhookConfiguration",
                                                           "CertificateSigningRequest",
                                                           "ComponentStatus",
                                                           "FlowSchema",
                                                           "PriorityLevelConfiguration",
                                                           "ValidatingAdmissionPolicy",
                                                           "ValidatingAdmissionPolicyBinding",
                                                           "ServiceCIDR",
                                                           "IPAddress"};
  (void)group;
  return kinds.count(kind) > 0;
}

std::vector<std::string> nameErrors(NameRule rule, std::string name, bool prefix) {
  // A generateName prefix may end in '-': upstream masks it before checking.
  if (prefix && !name.empty() && name.back() == '-') name.back() = 'a';
  switch (rule) {
    case NameRule::Label:
      return validateDns1123Label(name);
    case NameRule::Dns1035:
      return validateDns1035Label(name);
    case NameRule::PathSegment:
      return validatePathSegmentName(name);
    default:
      return validateDns1123Subdomain(name);
  }
}

// "2006-01-02 15:04:05 +0000 UTC": how upstream renders a metav1.Time value.
std::string goTime(const std::string& rfc3339) {
  if (rfc3339.size() < 19) return rfc3339;
  return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8) + " +0000 UTC";
}

void validateObjectMeta(std::string_view group, std::string_view kind, const json::object& o,
                        const json::object* old, Errors& errs) {
  const auto& meta = obj(o, "metadata");
  const NameRule rule = nameRuleFor(group, kind);
  const std::string name = str(meta, "name"), generateName = str(meta, "generateName");
  if (!generateName.empty())
    for (const auto& m : nameErrors(rule, generateName, true))
      errs.invalid("metadata.generateName", quote(generateName), m);
  if (name.empty()) {
    // The server generates the name from generateName before validating; tolerate either order.
    if (generateName.empty()) errs.required("metadata.name", "name or generateName is required");
  } else {
    for (const auto& m : nameErrors(rule, name, false))
      errs.invalid("metadata.name", quote(name), m);
  }
  const std::string ns = str(meta, "namespace");
  if (!ns.empty() && !clusterScoped(group, kind))
    for (const auto& m : validateDns1123Label(ns)) errs.invalid("metadata.namespace", quote(ns), m);
  validateNonnegative(meta, "generation", "metadata", errs);
  validateLabels(obj(meta, "labels"), "metadata.labels", errs);

  int64_t total = 0;
  for (const auto& kv : obj(meta, "annotations")) {
    std::string lower(kv.key());
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& m : validateQualifiedName(lower))
      errs.invalid("metadata.annotations", quote(kv.key()), m);
    total += static_cast<int64_t>(kv.key().size());
    if (kv.value().is_string()) total += static_cast<int64_t>(kv.value().get_string().size());
  }
  constexpr int64_t kAnnotationLimit = 256 * 1024;
  if (total > kAnnotationLimit) errs.tooLong("metadata.annotations", kAnnotationLimit);

  const auto& finalizers = arr(meta, "finalizers");
  for (size_t i = 0; i < finalizers.size(); ++i) {
    std::string f = finalizers[i].is_string() ? std::string(finalizers[i].get_string()) : "";
    for (const auto& m : validateQualifiedName(f))
      errs.invalid(index("metadata.finalizers", i), quote(f), m);
  }
  const auto& owners = arr(meta, "ownerReferences");
  int controllers = 0;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (!owners[i].is_object()) continue;
    const auto& r = owners[i].get_object();
    std::string p = index("metadata.ownerReferences", i);
    std::string apiVersion = str(r, "apiVersion");
    if (apiVersion.empty() || apiVersion.back() == '/')
      errs.invalid(child(p, "apiVersion"), quote(apiVersion), "version must not be empty");
    if (str(r, "kind").empty()) errs.invalid(child(p, "kind"), quote(""), "kind must not be empty");
    if (str(r, "name").empty()) errs.invalid(child(p, "name"), quote(""), "name must not be empty");
    if (str(r, "uid").empty()) errs.invalid(child(p, "uid"), quote(""), "uid must not be empty");
    auto c = r.find("controller");
    if (c != r.end() && c->value().is_bool() && c->value().get_bool()) ++controllers;
  }
  if (controllers > 1)
    errs.invalid("metadata.ownerReferences", "[]v1.OwnerReference{...}",
                 "Only one reference can have Controller set to true. Found " +
                     std::to_string(controllers) + " references with Controller set to true");

  if (old) {
    const auto& oldMeta = obj(*old, "metadata");
    auto immutable = [&](std::string_view field, bool isTime) {
      std::string now = str(meta, field), was = str(oldMeta, field);
      if (now == was) return;
      // uid and creationTimestamp are copied from the stored object when omitted.
      if ((field == "uid" || field == "creationTimestamp") && now.empty()) return;
      errs.invalid(child("metadata", field), isTime ? goTime(now) : quote(now),
                   "field is immutable");
    };
    immutable("name", false);
    immutable("namespace", false);
    immutable("uid", false);
    immutable("creationTimestamp", true);
  }
}

}  // namespace
}  // namespace validation

bool isIP(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// ---- public name checks ----

std::vector<std::string> validateDns1123Label(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back(maxLenError(63));
  if (!matchesDns1123Label(v)) {
    if (matchesDns1123Subdomain(v)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(
          regexError("a lowercase RFC 1123 label must consist of lower case "
                     "alphanumeric characters or '-', and must start and end with an "
                     "alphanumeric character",
                     kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> validateDns1123Subdomain(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back(maxLenError(253));
  if (!matchesDns1123Subdomain(v))
    errs.push_back(
        regexError("a lowercase RFC 1123 subdomain must consist of lower case "
                   "alphanumeric characters, '-' or '.', and must start and end with "
                   "an alphanumeric character",
                   kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> validateDns1035Label(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back(maxLenError(63));
  bool ok = !v.empty() && v.front() >= 'a' && v.front() <= 'z' && isLowerAlnum(v.back()) &&
            std::all_of(v.begin(), v.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
  if (!ok)
    errs.push_back(
        regexError("a DNS-1035 label must consist of lower case alphanumeric "
                   "characters or '-', start with an alphabetic character, and end "
                   "with an alphanumeric character",
                   "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  return errs;
}

std::vector<std::string> validatePathSegmentName(std::string_view v) {
  if (v == "." || v == "..") return {"may not be '" + std::string(v) + "'"};
  std::vector<std::string> errs;
  if (v.find('/') != std::string_view::npos) errs.push_back("may not contain '/'");
  if (v.find('%') != std::string_view::npos) errs.push_back("may not contain '%'");
  return errs;
}

std::vector<std::string> validateQualifiedName(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  std::string_view name = v;
  size_t slashes = static_cast<size_t>(std::count(v.begin(), v.end(), '/'));
  if (slashes > 1) {
    return {"a qualified name " +
            regexError(std::string(kQualifiedNameErr), kQualifiedNameFmt,
                       {"MyName", "my.name", "123-abc"}) +
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
  }
  if (slashes == 1) {
    std::string_view prefix = v.substr(0, v.find('/'));
    name = v.substr(v.find('/') + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& m : validateDns1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  }
  if (name.empty())
    errs.push_back("name part must be non-empty");
  else if (name.size() > 63)
    errs.push_back("name part " + maxLenError(63));
  if (!matchesQualifiedNamePart(name))
    errs.push_back("name part " + regexError(std::string(kQualifiedNameErr), kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> validateLabelValue(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back(maxLenError(63));
  if (!v.empty() && !matchesQualifiedNamePart(v))
    errs.push_back(regexError(
        "a valid label must be an empty string or consist of alphanumeric "
        "characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  return errs;
}

std::vector<std::string> validateConfigMapKey(std::string_view v) {
  using namespace validation;
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back(maxLenError(253));
  bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return isAlnum(c) || c == '-' || c == '_' || c == '.';
  });
  if (!ok)
    errs.push_back(
        regexError("a valid config key must consist of alphanumeric characters, '-', "
                   "'_' or '.'",
                   "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  if (v == ".")
    errs.push_back("must not be '.'");
  else if (v == "..")
    errs.push_back("must not be '..'");
  else if (v.substr(0, 2) == "..")
    errs.push_back("must not start with '..'");
  return errs;
}

std::vector<StatusCause> validateStatusUpdate(std::string_view group, std::string_view kind,
                                              const boost::json::object& obj,
                                              const boost::json::object& oldObj,
                                              std::string_view subresource) {
  validation::Errors errs;
  validation::validateObjectMeta(group, kind, obj, &oldObj, errs);
  if (const KindStrategy* strategy = kindStrategy(group, kind);
      strategy && strategy->validateStatus)
    strategy->validateStatus(obj, oldObj, subresource, errs);
  return errs.take();
}

std::vector<StatusCause> validateObject(std::string_view group, std::string_view kind,
                                        const boost::json::object& obj,
                                        const boost::json::object* oldObj) {
  validation::Errors errs;
  validation::validateObjectMeta(group, kind, obj, oldObj, errs);
  // The kind's own rules live in its strategy (src/api/kinds/).
  if (const KindStrategy* strategy = kindStrategy(group, kind); strategy && strategy->validate)
    strategy->validate(obj, oldObj, errs);
  return errs.take();
}

}  // namespace skiff::api
