#include "kubelet/container_env.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <set>

#include "api/go_text.h"
#include "api/json_access.h"
#include "api/quantity.h"
#include "common/base64.h"

namespace skiff::kubelet {

namespace json = boost::json;
using api::arrayAt;
using api::boolAt;
using api::objectAt;
using api::stringAt;

namespace {

// Insertion-ordered map: a name keeps its first position, the last write wins.
class OrderedEnv {
 public:
  void set(const std::string& name, std::string value) {
    auto [it, inserted] = index_.try_emplace(name, entries_.size());
    if (inserted)
      entries_.emplace_back(name, std::move(value));
    else
      entries_[it->second].second = std::move(value);
  }
  const std::string* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  EnvList take() { return std::move(entries_); }

 private:
  EnvList entries_;
  std::map<std::string, size_t> index_;
};

// Expansion with a lookup that says whether it knows the name.
template <typename Lookup>
std::string expandWith(const std::string& in, Lookup&& lookup) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i++];
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {  // escaped operator
      out += '$';
      i += 2;
    } else if (next == '(') {
      size_t close = in.find(')', i + 2);
      if (close == std::string::npos) {  // unclosed: keep "$(" and go on after it
        out += "$(";
        i += 2;
        continue;
      }
      std::string name = in.substr(i + 2, close - i - 2);
      if (const std::string* v = lookup(name))
        out += *v;
      else
        out += "$(" + name + ")";
      i = close + 1;
    } else {  // "$x": not an expression, both kept
      out += '$';
      out += next;
      i += 2;
    }
  }
  return out;
}

std::string configMapNotFound(const std::string& name) {
  return "configmap \"" + name + "\" not found";
}
std::string secretNotFound(const std::string& name) { return "secret \"" + name + "\" not found"; }

// Objects fetched during one containerEnv call, so each is read once.
class ObjectCache {
 public:
  ObjectCache(const ObjectFetcher& fetch, std::string ns) : fetch_(fetch), ns_(std::move(ns)) {}
  // nullptr when the object does not exist.
  const json::object* get(const client::Resource& r, const std::string& name) {
    auto key = r.resource + "/" + name;
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      if (!fetch_)
        throw ContainerConfigError("couldn't get " + r.resource + " " + ns_ + "/" + name +
                                   ", no kubeClient defined");
      std::optional<json::object> obj;
      try {
        obj = fetch_(r, ns_, name);
      } catch (const std::exception& e) {
        throw ContainerConfigError(e.what());
      }
      it = cache_.emplace(key, std::move(obj)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

 private:
  const ObjectFetcher& fetch_;
  std::string ns_;
  std::map<std::string, std::optional<json::object>> cache_;
};

std::optional<std::string> secretValue(const json::value& v, const std::string& key,
                                       const std::string& ref) {
  if (!v.is_string()) return std::nullopt;
  auto decoded = base64Decode(v.get_string());
  if (!decoded)
    throw ContainerConfigError("invalid base64 data for key " + key + " in Secret " + ref);
  return decoded;
}

// Go's %q, as upstream's messages quote values.
using api::goQuote;

std::optional<api::Quantity> quantityOf(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_string()) return api::Quantity::parse(v->get_string());
  if (v->is_int64()) return api::Quantity::fromValue(v->get_int64());
  if (v->is_uint64()) return api::Quantity::fromValue(static_cast<int64_t>(v->get_uint64()));
  if (v->is_double()) return api::Quantity::parse(json::serialize(*v));
  return std::nullopt;
}

// Rounds toward +infinity.
int64_t ceilDiv(int64_t n, int64_t d) {
  int64_t q = n / d;
  if (n % d != 0 && ((n > 0) == (d > 0))) ++q;
  return q;
}

const json::object* findContainer(const json::object& pod, const std::string& name) {
  for (const char* list : {"containers", "initContainers"}) {
    if (auto* arr = arrayAt(pod, {"spec", list}))
      for (auto& c : *arr)
        if (c.is_object() && stringAt(c.get_object(), {"name"}) == name) return &c.get_object();
  }
  return nullptr;
}

std::string joinComma(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string envVariableName(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

}  // namespace

std::string expandEnvReferences(const std::string& input,
                                const std::map<std::string, std::string>& env) {
  return expandWith(input, [&](const std::string& name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  });
}

std::string expandSubPathExpr(const std::string& expr,
                              const std::map<std::string, std::string>& env) {
  static const std::string empty;
  std::set<std::string> missing;
  std::string out = expandWith(expr, [&](const std::string& name) -> const std::string* {
    auto it = env.find(name);
    if (it == env.end() || it->second.empty()) {
      missing.insert(name);
      return &empty;
    }
    return &it->second;
  });
  if (!missing.empty()) {
    std::string names;
    for (auto& n : missing) names += (names.empty() ? "" : ", ") + n;
    throw std::runtime_error("missing value for " + names);
  }
  return out;
}

std::vector<std::string> expandAll(const json::array* items,
                                   const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  if (!items) return out;
  for (auto& v : *items)
    if (v.is_string()) out.push_back(expandEnvReferences(std::string(v.get_string()), env));
  return out;
}

std::map<std::string, std::string> envMap(const EnvList& env) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : env) m[k] = v;
  return m;
}

std::string formatDownwardMap(const json::object* map) {
  if (!map) return "";
  std::vector<std::pair<std::string, std::string>> kv;
  for (auto& [k, v] : *map)
    kv.emplace_back(std::string(k), v.is_string() ? std::string(v.get_string()) : "");
  std::sort(kv.begin(), kv.end());
  std::string out;
  for (auto& [k, v] : kv) {
    if (!out.empty()) out += '\n';
    out += k + "=" + goQuote(v);
  }
  return out;
}

std::string podFieldValue(const json::object& pod, const std::string& fieldPath,
                          const PodRuntimeInfo& info) {
  // metadata.labels['key'] / metadata.annotations['key']
  if (fieldPath.size() > 2 && fieldPath.ends_with("']")) {
    auto open = fieldPath.find("['");
    if (open != std::string::npos && open > 0) {
      std::string path = fieldPath.substr(0, open);
      std::string key = fieldPath.substr(open + 2, fieldPath.size() - open - 4);
      if (path == "metadata.labels" || path == "metadata.annotations") {
        auto* m = objectAt(pod, {"metadata", path == "metadata.labels" ? "labels" : "annotations"});
        return m ? stringAt(*m, {key}) : "";
      }
      throw std::runtime_error("fieldPath \"" + fieldPath + "\" does not support subscript");
    }
  }
  if (fieldPath == "metadata.name") return stringAt(pod, {"metadata", "name"});
  if (fieldPath == "metadata.namespace") return stringAt(pod, {"metadata", "namespace"});
  if (fieldPath == "metadata.uid") return stringAt(pod, {"metadata", "uid"});
  if (fieldPath == "metadata.labels")
    return formatDownwardMap(objectAt(pod, {"metadata", "labels"}));
  if (fieldPath == "metadata.annotations")
    return formatDownwardMap(objectAt(pod, {"metadata", "annotations"}));
  if (fieldPath == "spec.nodeName") {
    auto node = stringAt(pod, {"spec", "nodeName"});
    return node.empty() ? info.nodeName : node;
  }
  if (fieldPath == "spec.serviceAccountName") return stringAt(pod, {"spec", "serviceAccountName"});
  if (fieldPath == "status.hostIP" || fieldPath == "status.hostIPs") return info.hostIP;
  std::vector<std::string> podIPs = info.podIPs;
  if (podIPs.empty() && !info.podIP.empty()) podIPs.push_back(info.podIP);
  if (fieldPath == "status.podIP") return podIPs.empty() ? "" : podIPs[0];
  if (fieldPath == "status.podIPs") return joinComma(podIPs);
  throw std::runtime_error("unsupported fieldPath: " + fieldPath);
}

std::string containerResourceValue(const json::object& pod, const json::object* self,
                                   const json::object& selector,
                                   const std::map<std::string, std::string>& nodeAllocatable) {
  const json::object* container = self;
  auto containerName = stringAt(selector, {"containerName"});
  if (!containerName.empty()) {
    container = findContainer(pod, containerName);
    if (!container) throw std::runtime_error("container " + containerName + " not found");
  }
  if (!container) throw std::runtime_error("resourceFieldRef needs a containerName");

  auto resource = stringAt(selector, {"resource"});
  auto dot = resource.find('.');
  std::string kind = dot == std::string::npos ? "" : resource.substr(0, dot);
  std::string name = dot == std::string::npos ? "" : resource.substr(dot + 1);
  bool cpu = name == "cpu";
  bool bytes = name == "memory" || name == "ephemeral-storage" || name.starts_with("hugepages-");
  if ((kind != "limits" && kind != "requests") || (!cpu && !bytes))
    throw std::runtime_error("Unsupported container resource : " + resource);

  auto divisor = quantityOf(selector.if_contains("divisor"));
  if (!divisor || divisor->isZero()) divisor = api::Quantity::fromValue(1);

  auto amount = quantityOf(api::valueAt(*container, {"resources", kind, name}));
  if (kind == "limits" && (!amount || amount->isZero()) && !name.starts_with("hugepages-")) {
    auto it = nodeAllocatable.find(name);
    if (it != nodeAllocatable.end()) amount = api::Quantity::parse(it->second);
  }
  api::Quantity q = amount.value_or(api::Quantity{});
  int64_t n = cpu ? q.milliValue() : q.value();
  int64_t d = cpu ? divisor->milliValue() : divisor->value();
  if (d == 0) d = 1;
  return std::to_string(ceilDiv(n, d));
}

EnvList containerEnv(const json::object& pod, const json::object& container,
                     const PodRuntimeInfo& info, const ObjectFetcher& fetch,
                     const std::map<std::string, std::string>& nodeAllocatable) {
  return containerEnv(pod, container, info, fetch, nodeAllocatable, {});
}

EnvList containerEnv(const json::object& pod, const json::object& container,
                     const PodRuntimeInfo& info, const ObjectFetcher& fetch,
                     const std::map<std::string, std::string>& nodeAllocatable,
                     const std::map<std::string, std::string>& serviceEnv) {
  const std::string ns = stringAt(pod, {"metadata", "namespace"});
  ObjectCache objects(fetch, ns);
  OrderedEnv env;

  // envFrom first; env entries below replace what it set.
  if (auto* sources = arrayAt(container, {"envFrom"})) {
    for (auto& sv : *sources) {
      if (!sv.is_object()) continue;
      auto& src = sv.get_object();
      auto prefix = stringAt(src, {"prefix"});
      if (auto* ref = objectAt(src, {"configMapRef"})) {
        auto name = stringAt(*ref, {"name"});
        auto* cm = objects.get(client::resources::configMaps, name);
        if (!cm) {
          if (boolAt(*ref, {"optional"})) continue;
          throw ContainerConfigError(configMapNotFound(name));
        }
        if (auto* data = objectAt(*cm, {"data"}))
          for (auto& [k, v] : *data)
            if (v.is_string()) env.set(prefix + std::string(k), std::string(v.get_string()));
      } else if (auto* ref = objectAt(src, {"secretRef"})) {
        auto name = stringAt(*ref, {"name"});
        auto* secret = objects.get(client::resources::secrets, name);
        if (!secret) {
          if (boolAt(*ref, {"optional"})) continue;
          throw ContainerConfigError(secretNotFound(name));
        }
        if (auto* data = objectAt(*secret, {"data"}))
          for (auto& [k, v] : *data)
            if (auto value = secretValue(v, std::string(k), ns + "/" + name))
              env.set(prefix + std::string(k), std::move(*value));
      }
    }
  }

  // $(VAR) sees the variables defined so far (envFrom and earlier entries), then services.
  auto lookup = [&](const std::string& name) -> const std::string* {
    if (auto* v = env.find(name)) return v;
    auto it = serviceEnv.find(name);
    return it == serviceEnv.end() ? nullptr : &it->second;
  };

  if (auto* entries = arrayAt(container, {"env"})) {
    for (auto& ev : *entries) {
      if (!ev.is_object()) continue;
      auto& e = ev.get_object();
      auto name = stringAt(e, {"name"});
      std::string value = stringAt(e, {"value"});
      auto* from = objectAt(e, {"valueFrom"});
      if (!value.empty()) {
        value = expandWith(value, lookup);
      } else if (from) {
        if (auto* ref = objectAt(*from, {"fieldRef"})) {
          try {
            value = podFieldValue(pod, stringAt(*ref, {"fieldPath"}), info);
          } catch (const std::runtime_error& ex) {
            throw ContainerConfigError(ex.what());
          }
        } else if (auto* ref = objectAt(*from, {"resourceFieldRef"})) {
          try {
            value = containerResourceValue(pod, &container, *ref, nodeAllocatable);
          } catch (const std::runtime_error& ex) {
            throw ContainerConfigError(ex.what());
          }
        } else if (auto* ref = objectAt(*from, {"configMapKeyRef"})) {
          auto cmName = stringAt(*ref, {"name"});
          auto key = stringAt(*ref, {"key"});
          bool optional = boolAt(*ref, {"optional"});
          auto* cm = objects.get(client::resources::configMaps, cmName);
          if (!cm) {
            if (optional) continue;
            throw ContainerConfigError(configMapNotFound(cmName));
          }
          auto* v = api::valueAt(*cm, {"data", key});
          if (!v || !v->is_string()) {
            if (optional) continue;
            throw ContainerConfigError("couldn't find key " + key + " in ConfigMap " + ns + "/" +
                                       cmName);
          }
          value = std::string(v->get_string());
        } else if (auto* ref = objectAt(*from, {"secretKeyRef"})) {
          auto secretName = stringAt(*ref, {"name"});
          auto key = stringAt(*ref, {"key"});
          bool optional = boolAt(*ref, {"optional"});
          auto* secret = objects.get(client::resources::secrets, secretName);
          if (!secret) {
            if (optional) continue;
            throw ContainerConfigError(secretNotFound(secretName));
          }
          auto* v = api::valueAt(*secret, {"data", key});
          std::optional<std::string> decoded;
          if (v) decoded = secretValue(*v, key, ns + "/" + secretName);
          if (!decoded) {
            if (optional) continue;
            throw ContainerConfigError("couldn't find key " + key + " in Secret " + ns + "/" +
                                       secretName);
          }
          value = std::move(*decoded);
        }
      }
      env.set(name, std::move(value));
    }
  }

  std::vector<std::pair<std::string, std::string>> services;
  for (auto& [k, v] : serviceEnv)
    if (!env.contains(k)) services.emplace_back(k, v);
  EnvList out = env.take();
  out.insert(out.end(), services.begin(), services.end());
  return out;
}

std::map<std::string, std::string> serviceEnvironment(const std::vector<json::object>& services,
                                                      const std::string& podNamespace,
                                                      bool enableServiceLinks) {
  // name → service, the master "kubernetes" service first so a same-namespace one can replace it.
  std::map<std::string, const json::object*> chosen;
  for (auto& s : services)
    if (stringAt(s, {"metadata", "namespace"}) == "default" &&
        stringAt(s, {"metadata", "name"}) == "kubernetes")
      chosen.emplace("kubernetes", &s);
  if (enableServiceLinks)
    for (auto& s : services) {
      auto name = stringAt(s, {"metadata", "name"});
      bool master = stringAt(s, {"metadata", "namespace"}) == "default" && name == "kubernetes";
      if (stringAt(s, {"metadata", "namespace"}) == podNamespace && !master) chosen[name] = &s;
    }

  std::map<std::string, std::string> out;
  for (auto& [serviceName, svc] : chosen) {
    auto ip = stringAt(*svc, {"spec", "clusterIP"});
    auto* ports = arrayAt(*svc, {"spec", "ports"});
    if (ip.empty() || ip == "None" || !ports || ports->empty()) continue;
    std::string prefix = envVariableName(serviceName);
    std::string urlHost = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    out[prefix + "_SERVICE_HOST"] = ip;
    bool first = true;
    for (auto& pv : *ports) {
      if (!pv.is_object()) continue;
      auto& p = pv.get_object();
      auto port = std::to_string(api::intAt(p, {"port"}));
      auto protocol = stringAt(p, {"protocol"}, "TCP");
      std::string lower = protocol, upper = protocol;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string url = lower + "://" + urlHost + ":" + port;
      if (first) {
        out[prefix + "_SERVICE_PORT"] = port;
        out[prefix + "_PORT"] = url;
        first = false;
      }
      auto portName = stringAt(p, {"name"});
      if (!portName.empty()) out[prefix + "_SERVICE_PORT_" + envVariableName(portName)] = port;
      std::string portPrefix = prefix + "_PORT_" + port + "_" + upper;
      out[portPrefix] = url;
      out[portPrefix + "_PROTO"] = lower;
      out[portPrefix + "_PORT"] = port;
      out[portPrefix + "_ADDR"] = ip;
    }
  }
  return out;
}

}  // namespace skiff::kubelet
