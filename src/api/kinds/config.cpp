// ConfigMap and Secret (upstream pkg/registry/core/configmap, secret): data keys, size
// limits, immutability; a Secret's type defaults to Opaque.
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

constexpr int64_t kMaxDataSize = 1024 * 1024;

// Approximate decoded size of base64 data.
int64_t base64Size(const json::value& v) {
  if (!v.is_string()) return 0;
  auto s = v.get_string();
  int64_t n = static_cast<int64_t>(s.size()) / 4 * 3;
  if (s.size() >= 1 && s.back() == '=') --n;
  if (s.size() >= 2 && s[s.size() - 2] == '=') --n;
  return n;
}

void validateDataKeys(const json::object& data, const std::string& path, Errors& errs) {
  for (const auto& kv : data)
    for (const auto& m : validateConfigMapKey(kv.key()))
      errs.invalid(key(path, kv.key()), quote(kv.key()), m);
}

void validateImmutableData(const json::object& o, const json::object* old,
                           std::initializer_list<const char*> fields, Errors& errs) {
  if (!old) return;
  auto it = old->find("immutable");
  if (it == old->end() || !it->value().is_bool() || !it->value().get_bool()) return;
  auto nit = o.find("immutable");
  if (nit == o.end() || !nit->value().is_bool() || !nit->value().get_bool())
    errs.forbidden("immutable", "field is immutable when `immutable` is set");
  for (const char* f : fields)
    if (obj(o, f) != obj(*old, f)) errs.forbidden(f, "field is immutable when `immutable` is set");
}

void validateConfigMap(const json::object& cm, const json::object* old, Errors& errs) {
  const auto& data = obj(cm, "data");
  const auto& binary = obj(cm, "binaryData");
  validateDataKeys(data, "data", errs);
  validateDataKeys(binary, "binaryData", errs);
  int64_t total = 0;
  for (const auto& kv : data)
    if (kv.value().is_string()) total += static_cast<int64_t>(kv.value().get_string().size());
  for (const auto& kv : binary) {
    if (data.contains(kv.key()))
      errs.invalid(key("binaryData", kv.key()), quote(kv.key()),
                   "duplicate of key present in data");
    total += base64Size(kv.value());
  }
  if (total > kMaxDataSize) errs.tooLong("", kMaxDataSize);
  validateImmutableData(cm, old, {"data", "binaryData"}, errs);
}

void validateSecret(const json::object& s, const json::object* old, Errors& errs) {
  const auto& data = obj(s, "data");
  validateDataKeys(data, "data", errs);
  validateDataKeys(obj(s, "stringData"), "stringData", errs);
  int64_t total = 0;
  for (const auto& kv : data) total += base64Size(kv.value());
  for (const auto& kv : obj(s, "stringData"))
    if (kv.value().is_string()) total += static_cast<int64_t>(kv.value().get_string().size());
  if (total > kMaxDataSize) errs.tooLong("data", kMaxDataSize);

  auto hasKey = [&](const char* k) { return data.contains(k) || obj(s, "stringData").contains(k); };
  std::string type = str(s, "type");
  if (type == "kubernetes.io/service-account-token") {
    if (str(obj(obj(s, "metadata"), "annotations"), "kubernetes.io/service-account.name").empty())
      errs.required("metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg") {
    if (!hasKey(".dockercfg")) errs.required("data[.dockercfg]");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    if (!hasKey(".dockerconfigjson")) errs.required("data[.dockerconfigjson]");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!hasKey("username") && !hasKey("password")) {
      errs.required("data[username]");
      errs.required("data[password]");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!hasKey("ssh-privatekey")) errs.required("data[ssh-privatekey]");
  } else if (type == "kubernetes.io/tls") {
    if (!hasKey("tls.crt")) errs.required("data[tls.crt]");
    if (!hasKey("tls.key")) errs.required("data[tls.key]");
  }
  if (old) {
    std::string oldType = str(*old, "type");
    if (type != oldType) errs.invalid("type", quote(type), "field is immutable");
    validateImmutableData(s, old, {"data"}, errs);
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addConfigKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "", .kind = "ConfigMap", .validate = validation::validateConfigMap});
  out.push_back(
      {.group = "",
       .kind = "Secret",
       .defaults = [](json::object& obj) { defaulting::setDefaultString(obj, "type", "Opaque"); },
       .validate = validation::validateSecret});
}

}  // namespace skiff::api
