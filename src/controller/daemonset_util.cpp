#include "controller/daemonset_util.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "controller/controller_utils.h"

namespace skiff::controller {

namespace json = boost::json;

namespace {

json::object toleration(std::string_view key, std::string_view effect) {
  return json::object{{"key", key}, {"operator", "Exists"}, {"effect", effect}};
}

// Replaces the toleration with the same key and effect, or appends it.
void upsertToleration(json::array& tolerations, json::object t) {
  for (auto& v : tolerations) {
    auto* o = v.if_object();
    if (o && stringAt(*o, {"key"}) == stringAt(t, {"key"}) &&
        stringAt(*o, {"effect"}) == stringAt(t, {"effect"})) {
      v = std::move(t);
      return;
    }
  }
  tolerations.push_back(std::move(t));
}

bool tolerates(const json::object& toleration, const json::object& taint) {
  auto effect = stringAt(toleration, {"effect"});
  if (!effect.empty() && effect != stringAt(taint, {"effect"})) return false;
  auto key = stringAt(toleration, {"key"});
  auto op = stringAt(toleration, {"operator"}, "Equal");
  if (key.empty()) return op == "Exists";  // an empty key with Exists tolerates everything
  if (key != stringAt(taint, {"key"})) return false;
  if (op == "Exists") return true;
  return op == "Equal" && stringAt(toleration, {"value"}) == stringAt(taint, {"value"});
}

std::string labelValue(const json::object* labels, const std::string& key, bool& present) {
  present = false;
  if (!labels) return "";
  auto* v = labels->if_contains(key);
  if (!v || !v->is_string()) return "";
  present = true;
  return std::string(v->get_string());
}

bool parseInt(const std::string& s, long long& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return end && *end == '\0';
}

// One NodeSelectorRequirement against a key → value view (labels, or metadata.name).
bool requirementMatches(const json::object& req, const json::object* values) {
  auto key = stringAt(req, {"key"});
  auto op = stringAt(req, {"operator"});
  bool present = false;
  auto have = labelValue(values, key, present);
  std::vector<std::string> wanted;
  if (auto* vs = arrayAt(req, {"values"}))
    for (auto& v : *vs)
      if (v.is_string()) wanted.emplace_back(v.get_string());
  auto inWanted = [&] { return std::find(wanted.begin(), wanted.end(), have) != wanted.end(); };
  if (op == "In") return present && inWanted();
  if (op == "NotIn") return !present || !inWanted();
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    long long a = 0, b = 0;
    if (!present || wanted.size() != 1 || !parseInt(have, a) || !parseInt(wanted[0], b))
      return false;
    return op == "Gt" ? a > b : a < b;
  }
  return false;  // unknown operators never match, like upstream
}

}  // namespace

void addDaemonTolerations(json::object& podSpec) {
  auto& v = podSpec["tolerations"];
  if (!v.is_array()) v = json::array{};
  auto& t = v.get_array();
  upsertToleration(t, toleration("node.kubernetes.io/not-ready", "NoExecute"));
  upsertToleration(t, toleration("node.kubernetes.io/unreachable", "NoExecute"));
  upsertToleration(t, toleration("node.kubernetes.io/disk-pressure", "NoSchedule"));
  upsertToleration(t, toleration("node.kubernetes.io/memory-pressure", "NoSchedule"));
  upsertToleration(t, toleration("node.kubernetes.io/pid-pressure", "NoSchedule"));
  upsertToleration(t, toleration("node.kubernetes.io/unschedulable", "NoSchedule"));
  if (boolAt(podSpec, {"hostNetwork"}))
    upsertToleration(t, toleration("node.kubernetes.io/network-unavailable", "NoSchedule"));
}

void pinToNode(json::object& podSpec, const std::string& nodeName) {
  // The controller already checked the DaemonSet's own affinity against the node, so the
  // required terms can be replaced by the one naming the node.
  auto& required = ensureObject(
      podSpec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"});
  json::object req{
      {"key", "metadata.name"}, {"operator", "In"}, {"values", json::array{json::value(nodeName)}}};
  required["nodeSelectorTerms"] =
      json::array{json::object{{"matchFields", json::array{std::move(req)}}}};
}

std::string daemonPodTargetNode(const json::object& pod) {
  auto node = stringAt(pod, {"spec", "nodeName"});
  if (!node.empty()) return node;
  auto* terms =
      arrayAt(pod, {"spec", "affinity", "nodeAffinity",
                    "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (!terms) return "";
  for (auto& t : *terms) {
    auto* term = t.if_object();
    auto* fields = term ? arrayAt(*term, {"matchFields"}) : nullptr;
    if (!fields) continue;
    for (auto& f : *fields) {
      auto* req = f.if_object();
      if (!req || stringAt(*req, {"key"}) != "metadata.name" ||
          stringAt(*req, {"operator"}) != "In")
        continue;
      auto* vs = arrayAt(*req, {"values"});
      if (vs && vs->size() == 1 && (*vs)[0].is_string()) return std::string((*vs)[0].get_string());
    }
  }
  return "";
}

bool nodeSelectorTermMatches(const json::object& term, const json::object& node) {
  auto* exprs = arrayAt(term, {"matchExpressions"});
  auto* fields = arrayAt(term, {"matchFields"});
  if ((!exprs || exprs->empty()) && (!fields || fields->empty()))
    return false;  // empty term matches nothing
  auto* labels = objectAt(node, {"metadata", "labels"});
  if (exprs)
    for (auto& e : *exprs)
      if (!e.is_object() || !requirementMatches(e.get_object(), labels)) return false;
  if (fields) {
    json::object nameView{{"metadata.name", nameOf(node)}};
    for (auto& f : *fields)
      if (!f.is_object() || stringAt(f.get_object(), {"key"}) != "metadata.name" ||
          !requirementMatches(f.get_object(), &nameView))
        return false;
  }
  return true;
}

NodeFit nodeShouldRunDaemonPod(const json::object& node, const json::object& ds) {
  json::object spec;
  if (auto* s = objectAt(ds, {"spec", "template", "spec"})) spec = *s;
  auto wantedNode = stringAt(spec, {"nodeName"});
  if (!wantedNode.empty() && wantedNode != nameOf(node)) return {};

  auto* labels = objectAt(node, {"metadata", "labels"});
  if (auto* sel = objectAt(spec, {"nodeSelector"})) {
    for (auto& [k, v] : *sel) {
      bool present = false;
      auto have = labelValue(labels, std::string(k), present);
      if (!present || !v.is_string() || have != v.get_string()) return {};
    }
  }
  if (auto* required = objectAt(
          spec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"})) {
    bool any = false;
    if (auto* terms = arrayAt(*required, {"nodeSelectorTerms"}))
      for (auto& t : *terms)
        if (t.is_object() && nodeSelectorTermMatches(t.get_object(), node)) any = true;
    if (!any) return {};
  }

  addDaemonTolerations(spec);
  bool untolerated = false, untoleratedNoExecute = false;
  if (auto* taints = arrayAt(node, {"spec", "taints"})) {
    for (auto& tv : *taints) {
      auto* taint = tv.if_object();
      if (!taint) continue;
      auto effect = stringAt(*taint, {"effect"});
      if (effect != "NoSchedule" && effect != "NoExecute")
        continue;  // PreferNoSchedule never blocks
      bool ok = false;
      for (auto& tol : spec["tolerations"].get_array())
        if (tol.is_object() && tolerates(tol.get_object(), *taint)) ok = true;
      if (ok) continue;
      untolerated = true;
      if (effect == "NoExecute") untoleratedNoExecute = true;
    }
  }
  if (untolerated) return {false, !untoleratedNoExecute};
  return {true, true};
}

}  // namespace skiff::controller
