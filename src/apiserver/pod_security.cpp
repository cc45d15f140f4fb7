#include "apiserver/pod_security.h"

#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <map>

namespace skiff::apiserver::podsecurity {

namespace json = boost::json;

std::string levelName(Level level) {
  switch (level) {
    case Level::Privileged:
      return "privileged";
    case Level::Baseline:
      return "baseline";
    case Level::Restricted:
      return "restricted";
  }
  return "privileged";
}

std::string LevelVersion::str() const {
  return levelName(level) + ":" +
         (version.latest ? std::string("latest") : "v1." + std::to_string(version.minor));
}

std::optional<Level> parseLevel(std::string_view s) {
  if (s == "privileged") return Level::Privileged;
  if (s == "baseline") return Level::Baseline;
  if (s == "restricted") return Level::Restricted;
  return std::nullopt;
}

std::optional<Version> parseVersion(std::string_view s) {
  if (s == "latest") return Version{};
  // v1.<n>: n is 0 or has no leading zero.
  if (s.size() < 4 || s.substr(0, 3) != "v1.") return std::nullopt;
  std::string_view digits = s.substr(3);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  if (digits.size() > 9) return std::nullopt;
  int minor = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    minor = minor * 10 + (c - '0');
  }
  return Version{.latest = false, .minor = minor};
}

namespace {

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
const json::object* objField(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::array* arrField(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
// A boolean field: nullopt when absent (or not a boolean).
std::optional<bool> boolField(const json::object* o, std::string_view key) {
  if (!o) return std::nullopt;
  const json::value* v = o->if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}
std::optional<int64_t> intField(const json::object* o, std::string_view key) {
  if (!o) return std::nullopt;
  const json::value* v = o->if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

std::string pluralize(const char* one, const char* many, size_t n) { return n == 1 ? one : many; }

// `"a", "b"`: upstream's joinQuote (plain quotes, no escaping).
std::string joinQuote(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += '"' + items[i] + '"';
  }
  return out;
}
std::string joinQuote(const std::set<std::string>& items) {
  return joinQuote(std::vector<std::string>(items.begin(), items.end()));
}
std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}
// Go's %q for the strings annotations hold.
std::string goQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

// "container \"a\"" / "containers \"a\", \"b\"".
std::string containersPhrase(const std::vector<std::string>& names) {
  return pluralize("container", "containers", names.size()) + " " + joinQuote(names);
}

struct Pod {
  const json::object* meta;
  const json::object* spec;
  const json::object* podSc;                    // spec.securityContext
  std::vector<const json::object*> containers;  // init, regular, ephemeral
};

std::string name(const json::object* c) { return str(*c, "name"); }
const json::object* sc(const json::object* c) { return objField(c, "securityContext"); }
bool windows(const Pod& p) {
  const json::object* os = objField(p.spec, "os");
  return os && str(*os, "name") == "windows";
}
std::string annotation(const Pod& p, const std::string& key, bool* found = nullptr) {
  const json::object* ann = objField(p.meta, "annotations");
  const json::value* v = ann ? ann->if_contains(key) : nullptr;
  if (found) *found = v && v->is_string();
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

using Result = std::optional<Violation>;
Result fail(std::string reason, std::string detail) {
  return Violation{std::move(reason), std::move(detail)};
}

// --- baseline ---

Result appArmorProfile(const Pod& p) {
  auto allowedType = [](const std::string& t) { return t == "RuntimeDefault" || t == "Localhost"; };
  std::vector<std::string> setters;
  std::set<std::string> badValues;
  if (const json::object* prof = objField(p.podSc, "appArmorProfile")) {
    std::string t = str(*prof, "type");
    if (!allowedType(t)) {
      setters.push_back("pod");
      badValues.insert(t);
    }
  }
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (const json::object* prof = objField(sc(c), "appArmorProfile")) {
      std::string t = str(*prof, "type");
      if (!allowedType(t)) {
        bad.push_back(name(c));
        badValues.insert(t);
      }
    }
  if (!bad.empty()) setters.push_back(containersPhrase(bad));
  std::vector<std::string> values(badValues.begin(), badValues.end());
  std::vector<std::string> annotations;
  if (const json::object* ann = objField(p.meta, "annotations"))
    for (const auto& kv : *ann) {
      std::string key(kv.key());
      if (key.rfind("container.apparmor.security.beta.kubernetes.io/", 0) != 0) continue;
      std::string v = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
      if (v.empty() || v == "runtime/default" || v.rfind("localhost/", 0) == 0) continue;
      annotations.push_back(key + "=" + goQuote(v));
    }
  if (!annotations.empty()) {
    std::sort(annotations.begin(), annotations.end());
    values.insert(values.end(), annotations.begin(), annotations.end());
    setters.push_back(pluralize("annotation", "annotations", annotations.size()));
  }
  if (setters.empty()) return std::nullopt;
  return fail(
      pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.size()),
      join(setters, " and ") + " must not set AppArmor profile type to " + joinQuote(values));
}

const std::set<std::string>& baselineCapabilities() {
  static const std::set<std::string> caps{
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
  return caps;
}

std::vector<std::string> stringsOf(const json::array* a) {
  std::vector<std::string> out;
  if (a)
    for (const auto& v : *a)
      if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

Result capabilitiesBaseline(const Pod& p) {
  std::vector<std::string> bad;
  std::set<std::string> caps;
  for (const json::object* c : p.containers) {
    const json::object* capObj = objField(sc(c), "capabilities");
    if (!capObj) continue;
    bool valid = true;
    for (const auto& cap : stringsOf(arrField(capObj, "add")))
      if (!baselineCapabilities().count(cap)) {
        valid = false;
        caps.insert(cap);
      }
    if (!valid) bad.push_back(name(c));
  }
  if (bad.empty()) return std::nullopt;
  return fail("non-default capabilities", containersPhrase(bad) + " must not include " +
                                              joinQuote(caps) +
                                              " in securityContext.capabilities.add");
}

Result hostNamespaces(const Pod& p) {
  std::vector<std::string> set;
  if (boolField(p.spec, "hostNetwork").value_or(false)) set.push_back("hostNetwork=true");
  if (boolField(p.spec, "hostPID").value_or(false)) set.push_back("hostPID=true");
  if (boolField(p.spec, "hostIPC").value_or(false)) set.push_back("hostIPC=true");
  if (set.empty()) return std::nullopt;
  return fail("host namespaces", join(set, ", "));
}

Result hostPathVolumes(const Pod& p) {
  std::vector<std::string> bad;
  if (const json::array* vols = arrField(p.spec, "volumes"))
    for (const auto& v : *vols)
      if (v.is_object() && objField(&v.as_object(), "hostPath"))
        bad.push_back(str(v.as_object(), "name"));
  if (bad.empty()) return std::nullopt;
  return fail("hostPath volumes",
              pluralize("volume", "volumes", bad.size()) + " " + joinQuote(bad));
}

Result hostPorts(const Pod& p) {
  std::vector<std::string> bad;
  std::set<std::string> ports;  // sorted as strings, as upstream's string set
  for (const json::object* c : p.containers) {
    bool valid = true;
    if (const json::array* list = arrField(c, "ports"))
      for (const auto& port : *list) {
        if (!port.is_object()) continue;
        auto hp = intField(&port.as_object(), "hostPort");
        if (hp && *hp != 0) {
          valid = false;
          ports.insert(std::to_string(*hp));
        }
      }
    if (!valid) bad.push_back(name(c));
  }
  if (bad.empty()) return std::nullopt;
  return fail("hostPort", containersPhrase(bad) + " " + pluralize("uses", "use", bad.size()) + " " +
                              pluralize("hostPort", "hostPorts", ports.size()) + " " +
                              join(std::vector<std::string>(ports.begin(), ports.end()), ", "));
}

Result privileged(const Pod& p) {
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (boolField(sc(c), "privileged").value_or(false)) bad.push_back(name(c));
  if (bad.empty()) return std::nullopt;
  return fail("privileged",
              containersPhrase(bad) + " must not set securityContext.privileged=true");
}

Result procMount(const Pod& p) {
  std::vector<std::string> bad;
  std::set<std::string> types;
  for (const json::object* c : p.containers) {
    const json::object* s = sc(c);
    if (!s || !s->contains("procMount")) continue;
    std::string t = str(*s, "procMount");
    if (t != "Default") {
      bad.push_back(name(c));
      types.insert(t);
    }
  }
  if (bad.empty()) return std::nullopt;
  return fail("procMount", containersPhrase(bad) + " must not set securityContext.procMount to " +
                               joinQuote(types));
}

Result seLinuxOptions(const Pod& p) {
  static const std::set<std::string> allowedTypes{"", "container_t", "container_init_t",
                                                  "container_kvm_t"};
  std::set<std::string> badTypes;
  bool setUser = false, setRole = false;
  auto valid = [&](const json::object& o) {
    bool ok = true;
    std::string t = str(o, "type");
    if (!allowedTypes.count(t)) {
      ok = false;
      badTypes.insert(t);
    }
    if (!str(o, "user").empty()) {
      setUser = true;
      ok = false;
    }
    if (!str(o, "role").empty()) {
      setRole = true;
      ok = false;
    }
    return ok;
  };
  std::vector<std::string> setters;
  if (const json::object* o = objField(p.podSc, "seLinuxOptions"); o && !valid(*o))
    setters.push_back("pod");
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (const json::object* o = objField(sc(c), "seLinuxOptions"); o && !valid(*o))
      bad.push_back(name(c));
  if (!bad.empty()) setters.push_back(containersPhrase(bad));
  if (setters.empty()) return std::nullopt;
  std::vector<std::string> data;
  if (!badTypes.empty())
    data.push_back(pluralize("type", "types", badTypes.size()) + " " + joinQuote(badTypes));
  if (setUser) data.push_back("user may not be set");
  if (setRole) data.push_back("role may not be set");
  return fail("seLinuxOptions",
              join(setters, " and ") +
                  " set forbidden securityContext.seLinuxOptions: " + join(data, "; "));
}

bool validSeccomp(const std::string& t) { return t == "RuntimeDefault" || t == "Localhost"; }

// Before v1.19: the alpha annotations.
Result seccompBaselineAnnotations(const Pod& p) {
  auto validValue = [](const std::string& v) {
    return v == "runtime/default" || v == "docker/default" || v.rfind("localhost/", 0) == 0;
  };
  std::set<std::string> bad;
  bool found = false;
  std::string v = annotation(p, "seccomp.security.alpha.kubernetes.io/pod", &found);
  if (found && !validValue(v)) bad.insert("seccomp.security.alpha.kubernetes.io/pod=" + goQuote(v));
  for (const json::object* c : p.containers) {
    std::string key = "container.seccomp.security.alpha.kubernetes.io/" + name(c);
    v = annotation(p, key, &found);
    if (found && !validValue(v)) bad.insert(key + "=" + goQuote(v));
  }
  if (bad.empty()) return std::nullopt;
  return fail("seccompProfile", "forbidden " + pluralize("annotation", "annotations", bad.size()) +
                                    " " +
                                    join(std::vector<std::string>(bad.begin(), bad.end()), ", "));
}

Result seccompBaseline(const Pod& p) {
  std::vector<std::string> setters;
  std::set<std::string> badValues;
  if (const json::object* prof = objField(p.podSc, "seccompProfile")) {
    std::string t = str(*prof, "type");
    if (!validSeccomp(t)) {
      setters.push_back("pod");
      badValues.insert(t);
    }
  }
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (const json::object* prof = objField(sc(c), "seccompProfile")) {
      std::string t = str(*prof, "type");
      if (!validSeccomp(t)) {
        bad.push_back(name(c));
        badValues.insert(t);
      }
    }
  if (!bad.empty()) setters.push_back(containersPhrase(bad));
  if (setters.empty()) return std::nullopt;
  return fail("seccompProfile", join(setters, " and ") +
                                    " must not set securityContext.seccompProfile.type to " +
                                    joinQuote(badValues));
}

Result sysctls(const Pod& p, const Version& v) {
  static const std::vector<std::string> v10{
      "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
      "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"};
  std::set<std::string> allowed(v10.begin(), v10.end());
  if (v.atLeast(27)) allowed.insert("net.ipv4.ip_local_reserved_ports");
  if (v.atLeast(29))
    for (const char* s : {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                          "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"})
      allowed.insert(s);
  std::vector<std::string> bad;
  if (const json::array* list = arrField(p.podSc, "sysctls"))
    for (const auto& s : *list)
      if (s.is_object() && !allowed.count(str(s.as_object(), "name")))
        bad.push_back(str(s.as_object(), "name"));
  if (bad.empty()) return std::nullopt;
  return fail("forbidden sysctls", join(bad, ", "));
}

Result windowsHostProcess(const Pod& p) {
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (boolField(objField(sc(c), "windowsOptions"), "hostProcess").value_or(false))
      bad.push_back(name(c));
  std::vector<std::string> setters;
  if (boolField(objField(p.podSc, "windowsOptions"), "hostProcess").value_or(false))
    setters.push_back("pod");
  if (!bad.empty()) setters.push_back(containersPhrase(bad));
  if (setters.empty()) return std::nullopt;
  return fail("hostProcess", join(setters, " and ") +
                                 " must not set securityContext.windowsOptions.hostProcess=true");
}

// --- restricted ---

Result allowPrivilegeEscalation(const Pod& p, const Version& v) {
  if (v.atLeast(25) && windows(p)) return std::nullopt;
  std::vector<std::string> bad;
  for (const json::object* c : p.containers) {
    auto ape = boolField(sc(c), "allowPrivilegeEscalation");
    if (!ape || *ape) bad.push_back(name(c));
  }
  if (bad.empty()) return std::nullopt;
  return fail("allowPrivilegeEscalation != false",
              containersPhrase(bad) + " must set securityContext.allowPrivilegeEscalation=false");
}

Result capabilitiesRestricted(const Pod& p, const Version& v) {
  if (v.atLeast(25) && windows(p)) return std::nullopt;
  std::vector<std::string> missingDrop, adding;
  std::set<std::string> forbidden;
  for (const json::object* c : p.containers) {
    const json::object* capObj = objField(sc(c), "capabilities");
    if (!capObj) {
      missingDrop.push_back(name(c));
      continue;
    }
    auto drop = stringsOf(arrField(capObj, "drop"));
    if (std::find(drop.begin(), drop.end(), "ALL") == drop.end()) missingDrop.push_back(name(c));
    bool added = false;
    for (const auto& cap : stringsOf(arrField(capObj, "add")))
      if (cap != "NET_BIND_SERVICE") {
        added = true;
        forbidden.insert(cap);
      }
    if (added) adding.push_back(name(c));
  }
  std::vector<std::string> details;
  if (!missingDrop.empty())
    details.push_back(containersPhrase(missingDrop) +
                      R"( must set securityContext.capabilities.drop=["ALL"])");
  if (!adding.empty())
    details.push_back(containersPhrase(adding) + " must not include " + joinQuote(forbidden) +
                      " in securityContext.capabilities.add");
  if (details.empty()) return std::nullopt;
  return fail("unrestricted capabilities", join(details, "; "));
}

Result restrictedVolumes(const Pod& p) {
  static const std::vector<std::string> allowed{"configMap", "csi",       "downwardAPI",
                                                "emptyDir",  "ephemeral", "persistentVolumeClaim",
                                                "projected", "secret",    "image"};
  static const std::vector<std::string> restricted{"hostPath",
                                                   "gcePersistentDisk",
                                                   "awsElasticBlockStore",
                                                   "gitRepo",
                                                   "nfs",
                                                   "iscsi",
                                                   "glusterfs",
                                                   "rbd",
                                                   "flexVolume",
                                                   "cinder",
                                                   "cephfs",
                                                   "flocker",
                                                   "fc",
                                                   "azureFile",
                                                   "vsphereVolume",
                                                   "quobyte",
                                                   "azureDisk",
                                                   "portworxVolume",
                                                   "photonPersistentDisk",
                                                   "scaleIO",
                                                   "storageos"};
  std::vector<std::string> bad;
  std::set<std::string> types;
  if (const json::array* vols = arrField(p.spec, "volumes"))
    for (const auto& vv : *vols) {
      if (!vv.is_object()) continue;
      const json::object& vol = vv.as_object();
      auto has = [&](const std::string& f) {
        const json::value* x = vol.if_contains(f);
        return x && !x->is_null();
      };
      if (std::any_of(allowed.begin(), allowed.end(), has)) continue;
      bad.push_back(str(vol, "name"));
      auto it = std::find_if(restricted.begin(), restricted.end(), has);
      types.insert(it == restricted.end() ? "unknown" : *it);
    }
  if (bad.empty()) return std::nullopt;
  return fail("restricted volume types",
              pluralize("volume", "volumes", bad.size()) + " " + joinQuote(bad) + " " +
                  pluralize("uses", "use", bad.size()) + " " +
                  pluralize("restricted volume type", "restricted volume types", types.size()) +
                  " " + joinQuote(types));
}

Result runAsNonRoot(const Pod& p) {
  std::vector<std::string> setters;
  bool podNonRoot = false;
  if (auto v = boolField(p.podSc, "runAsNonRoot")) {
    if (!*v)
      setters.push_back("pod");
    else
      podNonRoot = true;
  }
  std::vector<std::string> explicitBad, implicitBad;
  for (const json::object* c : p.containers) {
    if (auto v = boolField(sc(c), "runAsNonRoot")) {
      if (!*v) explicitBad.push_back(name(c));
    } else if (!podNonRoot) {
      implicitBad.push_back(name(c));
    }
  }
  if (!explicitBad.empty()) setters.push_back(containersPhrase(explicitBad));
  if (!setters.empty())
    return fail("runAsNonRoot != true",
                join(setters, " and ") + " must not set securityContext.runAsNonRoot=false");
  if (!implicitBad.empty())
    return fail("runAsNonRoot != true", "pod or " + containersPhrase(implicitBad) +
                                            " must set securityContext.runAsNonRoot=true");
  return std::nullopt;
}

Result runAsUser(const Pod& p) {
  std::vector<std::string> setters;
  if (auto u = intField(p.podSc, "runAsUser"); u && *u == 0) setters.push_back("pod");
  std::vector<std::string> bad;
  for (const json::object* c : p.containers)
    if (auto u = intField(sc(c), "runAsUser"); u && *u == 0) bad.push_back(name(c));
  if (!bad.empty()) setters.push_back(containersPhrase(bad));
  if (setters.empty()) return std::nullopt;
  return fail("runAsUser=0", join(setters, " and ") + " must not set runAsUser=0");
}

Result seccompRestricted(const Pod& p, const Version& v) {
  if (v.atLeast(25) && windows(p)) return std::nullopt;
  std::vector<std::string> setters;
  std::set<std::string> badValues;
  bool podSet = false;
  if (const json::object* prof = objField(p.podSc, "seccompProfile")) {
    std::string t = str(*prof, "type");
    if (!validSeccomp(t)) {
      setters.push_back("pod");
      badValues.insert(t);
    } else {
      podSet = true;
    }
  }
  std::vector<std::string> explicitBad, implicitBad;
  for (const json::object* c : p.containers) {
    if (const json::object* prof = objField(sc(c), "seccompProfile")) {
      std::string t = str(*prof, "type");
      if (!validSeccomp(t)) {
        explicitBad.push_back(name(c));
        badValues.insert(t);
      }
    } else if (!podSet) {
      implicitBad.push_back(name(c));
    }
  }
  if (!explicitBad.empty()) setters.push_back(containersPhrase(explicitBad));
  if (!setters.empty())
    return fail("seccompProfile", join(setters, " and ") +
                                      " must not set securityContext.seccompProfile.type to " +
                                      joinQuote(badValues));
  if (!implicitBad.empty())
    return fail(
        "seccompProfile",
        "pod or " + containersPhrase(implicitBad) +
            R"( must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")");
  return std::nullopt;
}

Pod podOf(const json::object* meta, const json::object* spec) {
  Pod p{meta, spec, objField(spec, "securityContext"), {}};
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"})
    if (const json::array* a = arrField(spec, list))
      for (const auto& c : *a)
        if (c.is_object()) p.containers.push_back(&c.as_object());
  return p;
}

}  // namespace

std::vector<Violation> evaluate(const LevelVersion& lv, const json::object* podMeta,
                                const json::object* podSpec) {
  std::vector<Violation> out;
  if (lv.level == Level::Privileged) return out;
  static const json::object empty;
  const Pod p = podOf(podMeta, podSpec ? podSpec : &empty);
  const Version& v = lv.version;
  const bool restricted = lv.level == Level::Restricted;
  auto add = [&](Result r) {
    if (r) out.push_back(std::move(*r));
  };
  // Baseline checks by ID; under restricted, those a restricted check overrides are skipped.
  add(appArmorProfile(p));
  if (!(restricted && v.atLeast(22))) add(capabilitiesBaseline(p));
  add(hostNamespaces(p));
  if (!restricted) add(hostPathVolumes(p));
  add(hostPorts(p));
  add(privileged(p));
  add(procMount(p));
  add(seLinuxOptions(p));
  if (!(restricted && v.atLeast(19)))
    add(v.atLeast(19) ? seccompBaseline(p) : seccompBaselineAnnotations(p));
  add(sysctls(p, v));
  add(windowsHostProcess(p));
  if (!restricted) return out;
  if (v.atLeast(8)) add(allowPrivilegeEscalation(p, v));
  if (v.atLeast(22)) add(capabilitiesRestricted(p, v));
  add(restrictedVolumes(p));
  add(runAsNonRoot(p));
  if (v.atLeast(23)) add(runAsUser(p));
  if (v.atLeast(19)) add(seccompRestricted(p, v));
  return out;
}

std::string forbiddenDetail(const std::vector<Violation>& violations) {
  std::string out;
  for (size_t i = 0; i < violations.size(); ++i) {
    if (i) out += ", ";
    out += violations[i].reason;
    if (!violations[i].detail.empty()) out += " (" + violations[i].detail + ")";
  }
  return out;
}

std::string forbiddenReasons(const std::vector<Violation>& violations) {
  std::string out;
  for (size_t i = 0; i < violations.size(); ++i) {
    if (i) out += ", ";
    out += violations[i].reason;
  }
  return out;
}

Policy policyFromLabels(const json::object* labels, const Policy& defaults,
                        std::vector<LabelError>* errors) {
  Policy p = defaults;
  if (!labels || labels->empty()) return p;
  auto label = [&](const char* key) -> std::optional<std::string> {
    const json::value* v = labels->if_contains(key);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string(v->as_string());
  };
  auto error = [&](const char* key, const std::string& value, const char* detail) {
    if (errors) errors->push_back({key, value, detail});
  };
  const char* levelError = "must be one of privileged, baseline, restricted";
  const char* versionError = R"(must be "latest" or "v1.x")";
  auto readLevel = [&](const char* key, LevelVersion& lv, Level onError) {
    auto v = label(key);
    if (!v) return false;
    if (auto l = parseLevel(*v)) {
      lv.level = *l;
      return true;
    }
    lv.level = onError;
    error(key, *v, levelError);
    return false;
  };
  auto readVersion = [&](const char* key, LevelVersion& lv) {
    auto v = label(key);
    if (!v) return false;
    if (auto ver = parseVersion(*v)) {
      lv.version = *ver;
    } else {
      lv.version = Version{};
      error(key, *v, versionError);
    }
    return true;
  };
  const bool hasEnforce = readLevel(kEnforceLabel, p.enforce, Level::Restricted);
  readVersion(kEnforceVersionLabel, p.enforce);
  readLevel(kAuditLabel, p.audit, Level::Privileged);
  readVersion(kAuditVersionLabel, p.audit);
  const bool hasWarn = label(kWarnLabel).has_value();
  readLevel(kWarnLabel, p.warn, Level::Privileged);
  const bool hasWarnVersion = readVersion(kWarnVersionLabel, p.warn);
  // Upstream since 1.26: an enforce level alone also warns (workloads get the warning).
  if (!hasWarn && hasEnforce && p.enforce.level > p.warn.level) {
    p.warn.level = p.enforce.level;
    if (!hasWarnVersion) p.warn.version = p.enforce.version;
  }
  return p;
}

bool significantPodUpdate(const json::object& pod, const json::object& old) {
  const json::object* spec = objField(&pod, "spec");
  const json::object* oldSpec = objField(&old, "spec");
  const json::object* ann = objField(objField(&pod, "metadata"), "annotations");
  const json::object* oldAnn = objField(objField(&old, "metadata"), "annotations");
  auto annotationOf = [](const json::object* a, const std::string& key) {
    const json::value* v = a ? a->if_contains(key) : nullptr;
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto significant = [&](const json::object& c, const json::object& oc) {
    if (str(c, "image") != str(oc, "image")) return true;
    std::string key = "container.seccomp.security.alpha.kubernetes.io/" + str(c, "name");
    return annotationOf(ann, key) != annotationOf(oldAnn, key);
  };
  for (const char* list : {"containers", "initContainers"}) {
    const json::array* a = arrField(spec, list);
    const json::array* b = arrField(oldSpec, list);
    size_t n = a ? a->size() : 0, m = b ? b->size() : 0;
    if (n != m) return true;
    for (size_t i = 0; i < n; ++i)
      if ((*a)[i].is_object() && (*b)[i].is_object() &&
          significant((*a)[i].as_object(), (*b)[i].as_object()))
        return true;
  }
  if (const json::array* eph = arrField(spec, "ephemeralContainers")) {
    const json::array* oldEph = arrField(oldSpec, "ephemeralContainers");
    for (const auto& c : *eph) {
      if (!c.is_object()) continue;
      const json::object* match = nullptr;
      if (oldEph)
        for (const auto& oc : *oldEph)
          if (oc.is_object() && str(oc.as_object(), "name") == str(c.as_object(), "name")) {
            match = &oc.as_object();
            break;
          }
      if (!match || significant(c.as_object(), *match)) return true;
    }
  }
  return false;
}

bool podTemplateOf(const std::string& group, const std::string& plural, const json::object& obj,
                   const json::object** templ) {
  *templ = nullptr;
  const json::object* spec = objField(&obj, "spec");
  if (group.empty() && plural == "podtemplates") {
    *templ = objField(&obj, "template");
    return true;
  }
  if ((group.empty() && plural == "replicationcontrollers") ||
      (group == "apps" && (plural == "deployments" || plural == "replicasets" ||
                           plural == "statefulsets" || plural == "daemonsets")) ||
      (group == "batch" && plural == "jobs")) {
    *templ = objField(spec, "template");
    return true;
  }
  if (group == "batch" && plural == "cronjobs") {
    *templ = objField(objField(objField(spec, "jobTemplate"), "spec"), "template");
    return true;
  }
  return false;
}

std::vector<std::string> checkExistingPods(const std::string& ns, const LevelVersion& enforce,
                                           const std::vector<const json::object*>& pods) {
  // One pod per controller first, then the other replicas (upstream's prioritizePods), at
  // most 3,000 in all.
  std::vector<const json::object*> ordered, replicas;
  std::set<std::string> controllers;
  for (const json::object* pod : pods) {
    std::string owner;
    if (const json::array* refs = arrField(objField(pod, "metadata"), "ownerReferences"))
      for (const auto& r : *refs)
        if (r.is_object() && boolField(&r.as_object(), "controller").value_or(false))
          owner = str(r.as_object(), "uid");
    if (owner.empty() || controllers.insert(owner).second)
      ordered.push_back(pod);
    else
      replicas.push_back(pod);
  }
  ordered.insert(ordered.end(), replicas.begin(), replicas.end());
  const size_t total = ordered.size();
  constexpr size_t kMaxPods = 3000;
  if (ordered.size() > kMaxPods) ordered.resize(kMaxPods);

  struct Count {
    std::string first;
    int n = 0;
  };
  std::vector<std::string> reasons;  // in the order first seen
  std::map<std::string, Count> counts;
  for (const json::object* pod : ordered) {
    auto violations = evaluate(enforce, objField(pod, "metadata"), objField(pod, "spec"));
    if (violations.empty()) continue;
    std::string reason = forbiddenReasons(violations);
    std::string podName = str(*objField(pod, "metadata"), "name");
    auto [it, added] = counts.try_emplace(reason);
    if (added) {
      reasons.push_back(reason);
      it->second.first = podName;
    } else if (podName < it->second.first) {
      it->second.first = podName;
    }
    ++it->second.n;
  }
  std::vector<std::string> out;
  if (ordered.size() < total)
    out.push_back("new PodSecurity enforce level only checked against the first " +
                  std::to_string(ordered.size()) + " of " + std::to_string(total) +
                  " existing pods");
  if (!reasons.empty())
    out.push_back("existing pods in namespace \"" + ns +
                  "\" violate the new PodSecurity enforce level \"" + enforce.str() + "\"");
  std::vector<std::string> podWarnings;
  for (const auto& reason : reasons) {
    const Count& c = counts[reason];
    std::string prefix = c.first;
    if (c.n == 2)
      prefix += " (and 1 other pod)";
    else if (c.n > 2)
      prefix += " (and " + std::to_string(c.n - 1) + " other pods)";
    podWarnings.push_back(prefix + ": " + reason);
  }
  std::sort(podWarnings.begin(), podWarnings.end());
  out.insert(out.end(), podWarnings.begin(), podWarnings.end());
  return out;
}

std::string exemptNamespaceWarning(const std::string& ns, const Policy& policy,
                                   const Policy& defaults, const json::object* labels) {
  auto equivalent = [](const LevelVersion& a, const LevelVersion& b) {
    return a.level == b.level && (a.level == Level::Privileged || a.version == b.version);
  };
  if (policy.fullyPrivileged() ||
      (equivalent(policy.enforce, defaults.enforce) && equivalent(policy.audit, defaults.audit) &&
       equivalent(policy.warn, defaults.warn)))
    return "";
  auto has = [&](const char* key) { return labels && labels->contains(key); };
  std::vector<std::string> parts;
  auto mode = [&](const char* word, const LevelVersion& lv, const char* l, const char* v) {
    if (lv.level != Level::Privileged && (has(l) || has(v)))
      parts.push_back(std::string(word) + "=" + lv.str());
  };
  mode("enforce", policy.enforce, kEnforceLabel, kEnforceVersionLabel);
  mode("audit", policy.audit, kAuditLabel, kAuditVersionLabel);
  mode("warn", policy.warn, kWarnLabel, kWarnVersionLabel);
  return "namespace \"" + ns + "\" is exempt from Pod Security, and the policy (" +
         join(parts, ", ") + ") will be ignored";
}

}  // namespace skiff::apiserver::podsecurity
