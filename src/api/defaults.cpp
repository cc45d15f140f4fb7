// Upstream v1.32 defaulting (SetDefaults_* in pkg/apis/{core,apps,batch,...}/v1/defaults.go).
// The kinds' own defaulters are in their strategies (src/api/kinds/); here are the helpers
// and the pod spec / template defaults they share.
#include "api/defaults.h"

#include <boost/json.hpp>
#include <string>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {
namespace defaulting {

bool missing(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || it->value().is_null();
}

void setDefault(json::object& o, std::string_view key, json::value v) {
  if (missing(o, key)) o[key] = std::move(v);
}

// Empty strings count as unset for string enums, as upstream compares against "".
void setDefaultString(json::object& o, std::string_view key, std::string_view v) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null() ||
      (it->value().is_string() && it->value().get_string().empty()))
    o[key] = v;
}

json::object* childObject(json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

json::object& ensureObject(json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) o[key] = json::object{};
  return o[key].get_object();
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_string()) ? std::string(it->value().get_string()) : "";
}

bool emptyMapOrMissing(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || !it->value().is_object() || it->value().get_object().empty();
}

namespace {

// The tag of an image reference as upstream's parsers.ParseImageName sees it: "latest" when
// neither tag nor digest is given, empty when only a digest is.
std::string imageTag(std::string_view image) {
  if (image.empty()) return "";
  if (image.find('@') != std::string_view::npos) {
    image = image.substr(0, image.find('@'));
    auto slash = image.rfind('/');
    auto colon = image.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
      return std::string(image.substr(colon + 1));
    return "";
  }
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    return std::string(image.substr(colon + 1));
  return "latest";
}

void defaultHttpGet(json::object& handler) {
  if (auto* h = childObject(handler, "httpGet")) {
    setDefaultString(*h, "path", "/");
    setDefaultString(*h, "scheme", "HTTP");
  }
}

void defaultProbe(json::object& c, std::string_view key) {
  json::object* p = childObject(c, key);
  if (!p) return;
  setDefault(*p, "timeoutSeconds", 1);
  setDefault(*p, "periodSeconds", 10);
  setDefault(*p, "successThreshold", 1);
  setDefault(*p, "failureThreshold", 3);
  defaultHttpGet(*p);
}

void defaultFieldRef(json::object& holder) {
  if (auto* f = childObject(holder, "fieldRef")) setDefaultString(*f, "apiVersion", "v1");
}

void defaultContainer(json::object& c, bool hostNetwork) {
  if (missing(c, "imagePullPolicy") || str(c, "imagePullPolicy").empty())
    c["imagePullPolicy"] = imageTag(str(c, "image")) == "latest" ? "Always" : "IfNotPresent";
  setDefaultString(c, "terminationMessagePath", "/dev/termination-log");
  setDefaultString(c, "terminationMessagePolicy", "File");
  // Not a defaulter upstream, but the serializer always writes the struct; match its output.
  setDefault(c, "resources", json::object{});
  forEachObject(c, "ports", [&](json::object& p) {
    setDefaultString(p, "protocol", "TCP");
    // With host networking the host port is the container port (defaultHostNetworkPorts).
    if (hostNetwork && (missing(p, "hostPort") || p["hostPort"] == 0) &&
        p.contains("containerPort")) {
      json::value port = p["containerPort"];  // copy: inserting may relocate the source
      p["hostPort"] = std::move(port);
    }
  });
  forEachObject(c, "env", [](json::object& e) {
    if (auto* vf = childObject(e, "valueFrom")) defaultFieldRef(*vf);
  });
  defaultProbe(c, "livenessProbe");
  defaultProbe(c, "readinessProbe");
  defaultProbe(c, "startupProbe");
  if (auto* lc = childObject(c, "lifecycle")) {
    if (auto* h = childObject(*lc, "postStart")) defaultHttpGet(*h);
    if (auto* h = childObject(*lc, "preStop")) defaultHttpGet(*h);
  }
}

void defaultVolume(json::object& v) {
  // A volume with no source is an emptyDir.
  bool hasSource = false;
  for (const auto& kv : v)
    if (kv.key() != "name" && !kv.value().is_null()) hasSource = true;
  if (!hasSource) v["emptyDir"] = json::object{};
  for (const char* key : {"secret", "configMap", "downwardAPI", "projected"})
    if (auto* s = childObject(v, key)) setDefault(*s, "defaultMode", 420);
  if (auto* h = childObject(v, "hostPath")) setDefault(*h, "type", "");
  if (auto* d = childObject(v, "downwardAPI")) forEachObject(*d, "items", defaultFieldRef);
  if (auto* p = childObject(v, "projected")) {
    forEachObject(*p, "sources", [](json::object& src) {
      if (auto* t = childObject(src, "serviceAccountToken"))
        setDefault(*t, "expirationSeconds", 3600);
      if (auto* d = childObject(src, "downwardAPI")) forEachObject(*d, "items", defaultFieldRef);
    });
  }
}

}  // namespace

void defaultPodTemplate(json::object& holder) {
  // holder is an object with a "template" PodTemplateSpec.
  json::object& tmpl = ensureObject(holder, "template");
  applyPodSpecDefaults(ensureObject(tmpl, "spec"));
}

void defaultPvcSpec(json::object& pvc) {
  setDefaultString(ensureObject(pvc, "spec"), "volumeMode", "Filesystem");
  setDefaultString(ensureObject(pvc, "status"), "phase", "Pending");
}

}  // namespace defaulting

namespace json = boost::json;

void applyPodSpecDefaults(json::object& spec) {
  using namespace defaulting;
  setDefaultString(spec, "dnsPolicy", "ClusterFirst");
  setDefaultString(spec, "restartPolicy", "Always");
  setDefault(spec, "securityContext", json::object{});
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefaultString(spec, "schedulerName", "default-scheduler");
  bool hostNetwork = false;
  if (auto it = spec.find("hostNetwork"); it != spec.end() && it->value().is_bool())
    hostNetwork = it->value().get_bool();
  for (const char* key : {"containers", "initContainers", "ephemeralContainers"})
    forEachObject(spec, key, [&](json::object& c) { defaultContainer(c, hostNetwork); });
  forEachObject(spec, "volumes", defaultVolume);
}

void applyDefaults(std::string_view group, std::string_view kind, json::object& obj) {
  if (const KindStrategy* strategy = kindStrategy(group, kind); strategy && strategy->defaults)
    strategy->defaults(obj);
}

}  // namespace skiff::api
