#include "scheduler/types.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>

#include "api/quantity.h"
#include "common/ids.h"

namespace skiff::scheduler {
namespace json = boost::json;

namespace {

const json::value* field(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const auto* v = o->if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}
const json::object* objectAt(const json::object* o, std::string_view key) {
  const auto* v = field(o, key);
  return v ? v->if_object() : nullptr;
}
const json::array* arrayAt(const json::object* o, std::string_view key) {
  const auto* v = field(o, key);
  return v ? v->if_array() : nullptr;
}
std::string stringAt(const json::object* o, std::string_view key) {
  const auto* v = field(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
int64_t intAt(const json::object* o, std::string_view key, int64_t dflt) {
  const auto* v = field(o, key);
  if (!v) return dflt;
  if (auto i = v->if_int64()) return *i;
  if (auto u = v->if_uint64()) return static_cast<int64_t>(*u);
  return dflt;
}
bool boolAt(const json::object* o, std::string_view key) {
  const auto* v = field(o, key);
  return v && v->is_bool() && v->get_bool();
}
std::optional<int64_t> parseInt(std::string_view s) {
  int64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return out;
}
Labels labelsAt(const json::object* o, std::string_view key) {
  Labels out;
  if (const auto* m = objectAt(o, key)) {
    for (const auto& kv : *m) {
      if (kv.value().is_string())
        out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  return out;
}
std::vector<std::string> stringsAt(const json::object* o, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* a = arrayAt(o, key)) {
    for (const auto& v : *a) {
      if (v.is_string()) out.emplace_back(v.get_string());
    }
  }
  return out;
}
TaintEffect effectFrom(std::string_view s) {
  if (s == "NoSchedule") return TaintEffect::NoSchedule;
  if (s == "PreferNoSchedule") return TaintEffect::PreferNoSchedule;
  if (s == "NoExecute") return TaintEffect::NoExecute;
  return TaintEffect::Other;
}

std::vector<NodeSelectorRequirement> requirementsAt(const json::object* o, std::string_view key) {
  std::vector<NodeSelectorRequirement> out;
  const auto* a = arrayAt(o, key);
  if (!a) return out;
  for (const auto& e : *a) {
    const auto* eo = e.if_object();
    if (!eo) continue;
    NodeSelectorRequirement r;
    r.key = stringAt(eo, "key");
    std::string op = stringAt(eo, "operator");
    using Op = NodeSelectorRequirement::Op;
    r.op = op == "In"             ? Op::In
           : op == "NotIn"        ? Op::NotIn
           : op == "Exists"       ? Op::Exists
           : op == "DoesNotExist" ? Op::DoesNotExist
           : op == "Gt"           ? Op::Gt
           : op == "Lt"           ? Op::Lt
                                  : Op::Invalid;
    r.values = stringsAt(eo, "values");
    out.push_back(std::move(r));
  }
  return out;
}
NodeSelectorTerm termFrom(const json::object* o) {
  return {requirementsAt(o, "matchExpressions"), requirementsAt(o, "matchFields")};
}

api::LabelSelector selectorAt(const json::object* o, std::string_view key) {
  const auto* v = field(o, key);
  if (!v) return api::LabelSelector::nothing();
  try {
    return api::LabelSelector::fromJson(*v);
  } catch (const std::exception&) {
    return api::LabelSelector::nothing();  // validation rejects these; never match
  }
}

PodAffinityTerm affinityTermFrom(const json::object* o, const std::string& podNs) {
  PodAffinityTerm t;
  t.selector = selectorAt(o, "labelSelector");
  t.namespaces = stringsAt(o, "namespaces");
  t.topologyKey = stringAt(o, "topologyKey");
  if (const auto* ns = objectAt(o, "namespaceSelector")) {
    // Only the empty selector (all namespaces) is understood without namespace labels.
    if (ns->empty()) t.allNamespaces = true;
  }
  if (t.namespaces.empty() && !t.allNamespaces) t.namespaces.push_back(podNs);
  return t;
}
void readAffinity(const json::object* aff, const std::string& podNs,
                  std::vector<PodAffinityTerm>& required,
                  std::vector<WeightedPodAffinityTerm>& preferred) {
  if (const auto* req = arrayAt(aff, "requiredDuringSchedulingIgnoredDuringExecution")) {
    for (const auto& t : *req) required.push_back(affinityTermFrom(t.if_object(), podNs));
  }
  if (const auto* pref = arrayAt(aff, "preferredDuringSchedulingIgnoredDuringExecution")) {
    for (const auto& t : *pref) {
      const auto* to = t.if_object();
      preferred.push_back({static_cast<int32_t>(intAt(to, "weight", 0)),
                           affinityTermFrom(objectAt(to, "podAffinityTerm"), podNs)});
    }
  }
}

// Requests of one container; `nonZero` fills the scoring defaults for missing cpu/memory.
Resources containerRequests(const json::object* c, bool nonZero) {
  const auto* res = objectAt(c, "resources");
  const auto* req = field(res, "requests");
  Resources r = Resources::fromJson(req);
  if (nonZero) {
    const auto* ro = req ? req->if_object() : nullptr;
    if (!ro || !ro->contains("cpu")) r.milliCpu = kDefaultMilliCpuRequest;
    if (!ro || !ro->contains("memory")) r.memory = kDefaultMemoryRequest;
  }
  return r;
}

// Upstream's pod request rule, sidecars (restartable init containers) included.
Resources podRequests(const json::object* spec, bool nonZero) {
  Resources sum;
  if (const auto* cs = arrayAt(spec, "containers")) {
    for (const auto& c : *cs) sum.add(containerRequests(c.if_object(), nonZero));
  }
  Resources sidecars, initMax;
  if (const auto* ics = arrayAt(spec, "initContainers")) {
    for (const auto& c : *ics) {
      const auto* co = c.if_object();
      Resources r = containerRequests(co, nonZero);
      if (stringAt(co, "restartPolicy") == "Always") {
        sidecars.add(r);
        initMax.setMax(sidecars);
      } else {
        r.add(sidecars);
        initMax.setMax(r);
      }
    }
  }
  sum.add(sidecars);
  sum.setMax(initMax);
  sum.add(Resources::fromJson(field(spec, "overhead")));
  return sum;
}

}  // namespace

void Resources::add(const Resources& o) {
  milliCpu += o.milliCpu;
  memory += o.memory;
  ephemeralStorage += o.ephemeralStorage;
  for (const auto& [k, v] : o.scalar) scalar[k] += v;
}
void Resources::sub(const Resources& o) {
  milliCpu -= o.milliCpu;
  memory -= o.memory;
  ephemeralStorage -= o.ephemeralStorage;
  for (const auto& [k, v] : o.scalar) scalar[k] -= v;
}
void Resources::setMax(const Resources& o) {
  milliCpu = std::max(milliCpu, o.milliCpu);
  memory = std::max(memory, o.memory);
  ephemeralStorage = std::max(ephemeralStorage, o.ephemeralStorage);
  for (const auto& [k, v] : o.scalar) scalar[k] = std::max(scalar[k], v);
}
Resources Resources::fromJson(const json::value* list) {
  Resources r;
  const auto* o = list ? list->if_object() : nullptr;
  if (!o) return r;
  for (const auto& kv : *o) {
    if (!kv.value().is_string()) continue;
    auto q = api::Quantity::parse(kv.value().get_string());
    if (!q) continue;
    std::string_view name = kv.key();
    if (name == "cpu")
      r.milliCpu = q->milliValue();
    else if (name == "memory")
      r.memory = q->value();
    else if (name == "ephemeral-storage")
      r.ephemeralStorage = q->value();
    else if (name != "pods")
      r.scalar[std::string(name)] = q->value();
  }
  return r;
}

bool Toleration::tolerates(const Taint& taint) const {
  if (effect && *effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (exists) return true;
  return value == taint.value;  // Equal (the default operator)
}
bool toleratesAny(const std::vector<Toleration>& tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(),
                     [&](const Toleration& t) { return t.tolerates(taint); });
}

bool NodeSelectorRequirement::matches(const Labels& labels) const {
  auto it = labels.find(key);
  bool has = it != labels.end();
  auto in = [&] { return std::find(values.begin(), values.end(), it->second) != values.end(); };
  switch (op) {
    case Op::In:
      return has && in();
    case Op::NotIn:
      return !has || !in();
    case Op::Exists:
      return has;
    case Op::DoesNotExist:
      return !has;
    case Op::Gt:
    case Op::Lt: {
      if (!has || values.size() != 1) return false;
      auto have = parseInt(it->second), want = parseInt(values[0]);
      if (!have || !want) return false;
      return op == Op::Gt ? *have > *want : *have < *want;
    }
    case Op::Invalid:
      return false;
  }
  return false;
}

bool NodeSelectorTerm::matches(const Labels& labels, std::string_view nodeName) const {
  if (matchExpressions.empty() && matchFields.empty()) return false;
  for (const auto& r : matchExpressions) {
    if (!r.matches(labels)) return false;
  }
  if (!matchFields.empty()) {
    Labels fields{{"metadata.name", std::string(nodeName)}};
    for (const auto& r : matchFields) {
      if (r.key != "metadata.name" || !r.matches(fields)) return false;
    }
  }
  return true;
}

bool PodAffinityTerm::matches(const PodInfo& candidate) const {
  if (!allNamespaces &&
      std::find(namespaces.begin(), namespaces.end(), candidate.ns) == namespaces.end()) {
    return false;
  }
  return selectorMatches(selector, candidate.labels);
}

bool HostPort::conflicts(const HostPort& o) const {
  if (port != o.port || protocol != o.protocol) return false;
  return ip == o.ip || ip == "0.0.0.0" || o.ip == "0.0.0.0";
}

PodInfo PodInfo::fromJson(const json::value& pod) {
  const auto* p = pod.if_object();
  if (!p) throw std::invalid_argument("pod is not a JSON object");
  return fromJson(*p);
}

bool PodInfo::sameInfo(const json::object& a, const json::object& b) {
  const auto* metaA = objectAt(&a, "metadata");
  const auto* metaB = objectAt(&b, "metadata");
  // Kept in step with fromJson below: every field it reads is compared here.
  for (const char* key :
       {"namespace", "name", "uid", "labels", "deletionTimestamp", "creationTimestamp"}) {
    const json::value* x = field(metaA, key);
    const json::value* y = field(metaB, key);
    if ((x == nullptr) != (y == nullptr) || (x && *x != *y)) return false;
  }
  const json::value* specA = a.if_contains("spec");
  const json::value* specB = b.if_contains("spec");
  if ((specA == nullptr) != (specB == nullptr) || (specA && *specA != *specB)) return false;
  return stringAt(objectAt(&a, "status"), "startTime") ==
         stringAt(objectAt(&b, "status"), "startTime");
}

NodeSelectorTerm nodeSelectorTermFromJson(const json::object* term) { return termFrom(term); }

PodInfo PodInfo::fromJson(const json::object& pod) {
  const auto* p = &pod;
  PodInfo out;
  const auto* meta = objectAt(p, "metadata");
  const auto* spec = objectAt(p, "spec");
  const auto* status = objectAt(p, "status");
  out.ns = stringAt(meta, "namespace");
  if (out.ns.empty()) out.ns = "default";
  out.name = stringAt(meta, "name");
  out.uid = stringAt(meta, "uid");
  out.labels = labelsAt(meta, "labels");
  out.terminating = field(meta, "deletionTimestamp") != nullptr;
  parseTime(stringAt(meta, "creationTimestamp"), out.creationTime);
  if (!parseTime(stringAt(status, "startTime"), out.startTime)) out.startTime = out.creationTime;

  out.priority = static_cast<int32_t>(intAt(spec, "priority", 0));
  out.preemptionNever = stringAt(spec, "preemptionPolicy") == "Never";
  out.nodeName = stringAt(spec, "nodeName");
  out.nodeSelector = labelsAt(spec, "nodeSelector");
  if (const auto* aff = objectAt(spec, "affinity")) {
    if (const auto* na = objectAt(aff, "nodeAffinity")) {
      if (const auto* req = objectAt(na, "requiredDuringSchedulingIgnoredDuringExecution")) {
        std::vector<NodeSelectorTerm> terms;
        if (const auto* ts = arrayAt(req, "nodeSelectorTerms")) {
          for (const auto& t : *ts) terms.push_back(termFrom(t.if_object()));
        }
        out.requiredNodeAffinity = std::move(terms);
      }
      if (const auto* pref = arrayAt(na, "preferredDuringSchedulingIgnoredDuringExecution")) {
        for (const auto& t : *pref) {
          const auto* to = t.if_object();
          out.preferredNodeAffinity.push_back(
              {static_cast<int32_t>(intAt(to, "weight", 0)), termFrom(objectAt(to, "preference"))});
        }
      }
    }
    readAffinity(objectAt(aff, "podAffinity"), out.ns, out.requiredAffinity, out.preferredAffinity);
    readAffinity(objectAt(aff, "podAntiAffinity"), out.ns, out.requiredAntiAffinity,
                 out.preferredAntiAffinity);
  }
  if (const auto* tols = arrayAt(spec, "tolerations")) {
    for (const auto& t : *tols) {
      const auto* to = t.if_object();
      Toleration tol;
      tol.key = stringAt(to, "key");
      tol.exists = stringAt(to, "operator") == "Exists";
      tol.value = stringAt(to, "value");
      if (auto e = stringAt(to, "effect"); !e.empty()) tol.effect = effectFrom(e);
      out.tolerations.push_back(std::move(tol));
    }
  }
  out.requests = podRequests(spec, false);
  Resources nz = podRequests(spec, true);
  out.nonZeroMilliCpu = nz.milliCpu;
  out.nonZeroMemory = nz.memory;

  for (const char* list : {"initContainers", "containers"}) {
    const auto* cs = arrayAt(spec, list);
    if (!cs) continue;
    for (const auto& c : *cs) {
      const auto* co = c.if_object();
      if (auto img = stringAt(co, "image"); !img.empty())
        out.images.push_back(normalizeImageName(img));
      if (const auto* ports = arrayAt(co, "ports")) {
        for (const auto& port : *ports) {
          const auto* po = port.if_object();
          HostPort hp;
          hp.port = static_cast<int32_t>(intAt(po, "hostPort", 0));
          if (hp.port <= 0) continue;
          if (auto ip = stringAt(po, "hostIP"); !ip.empty()) hp.ip = ip;
          if (auto proto = stringAt(po, "protocol"); !proto.empty()) hp.protocol = proto;
          out.hostPorts.push_back(std::move(hp));
        }
      }
    }
  }
  if (const auto* volumes = arrayAt(spec, "volumes")) {
    for (const auto& v : *volumes) {
      const auto* vo = v.if_object();
      if (const auto* pvc = objectAt(vo, "persistentVolumeClaim")) {
        if (auto claim = stringAt(pvc, "claimName"); !claim.empty()) out.claims.push_back(claim);
      } else if (objectAt(vo, "ephemeral")) {
        out.claims.push_back(out.name + "-" + stringAt(vo, "name"));
      }
    }
  }
  if (const auto* tscs = arrayAt(spec, "topologySpreadConstraints")) {
    for (const auto& t : *tscs) {
      const auto* to = t.if_object();
      TopologySpreadConstraint c;
      c.maxSkew = static_cast<int32_t>(intAt(to, "maxSkew", 1));
      c.topologyKey = stringAt(to, "topologyKey");
      c.doNotSchedule = stringAt(to, "whenUnsatisfiable") != "ScheduleAnyway";
      c.selector = selectorAt(to, "labelSelector");
      c.minDomains = static_cast<int32_t>(intAt(to, "minDomains", 1));
      out.spreadConstraints.push_back(std::move(c));
    }
  }
  return out;
}

void NodeInfo::addPod(PodInfoPtr pod) {
  requested.add(pod->requests);
  nonZeroMilliCpu += pod->nonZeroMilliCpu;
  nonZeroMemory += pod->nonZeroMemory;
  usedPorts.insert(usedPorts.end(), pod->hostPorts.begin(), pod->hostPorts.end());
  if (pod->hasAffinityTerms()) ++podsWithAffinity;
  if (!pod->requiredAntiAffinity.empty()) ++podsWithRequiredAntiAffinity;
  pods.push_back(std::move(pod));
}

bool NodeInfo::removePod(std::string_view podKey) {
  auto it = std::find_if(pods.begin(), pods.end(),
                         [&](const PodInfoPtr& p) { return p->key() == podKey; });
  if (it == pods.end()) return false;
  const PodInfo& pod = **it;
  requested.sub(pod.requests);
  nonZeroMilliCpu -= pod.nonZeroMilliCpu;
  nonZeroMemory -= pod.nonZeroMemory;
  for (const auto& hp : pod.hostPorts) {
    auto u = std::find_if(usedPorts.begin(), usedPorts.end(), [&](const HostPort& x) {
      return x.port == hp.port && x.ip == hp.ip && x.protocol == hp.protocol;
    });
    if (u != usedPorts.end()) usedPorts.erase(u);
  }
  if (pod.hasAffinityTerms()) --podsWithAffinity;
  if (!pod.requiredAntiAffinity.empty()) --podsWithRequiredAntiAffinity;
  pods.erase(it);
  return true;
}

NodeInfo NodeInfo::fromJson(const json::value& node) {
  const auto* n = node.if_object();
  if (!n) throw std::invalid_argument("node is not a JSON object");
  return fromJson(*n);
}

NodeInfo NodeInfo::fromJson(const json::object& node) {
  const auto* n = &node;
  NodeInfo out;
  const auto* meta = objectAt(n, "metadata");
  const auto* spec = objectAt(n, "spec");
  const auto* status = objectAt(n, "status");
  out.name = stringAt(meta, "name");
  out.labels = labelsAt(meta, "labels");
  out.unschedulable = boolAt(spec, "unschedulable");
  if (const auto* taints = arrayAt(spec, "taints")) {
    for (const auto& t : *taints) {
      const auto* to = t.if_object();
      out.taints.push_back(
          {stringAt(to, "key"), stringAt(to, "value"), effectFrom(stringAt(to, "effect"))});
    }
  }
  const auto* alloc = field(status, "allocatable");
  if (!alloc) alloc = field(status, "capacity");
  out.allocatable = Resources::fromJson(alloc);
  if (const auto* ao = alloc ? alloc->if_object() : nullptr) {
    const auto* pods = ao->if_contains("pods");
    if (pods && pods->is_string()) {
      if (auto q = api::Quantity::parse(pods->get_string())) out.allowedPods = q->value();
    }
  }
  if (const auto* images = arrayAt(status, "images")) {
    for (const auto& img : *images) {
      const auto* io = img.if_object();
      int64_t size = intAt(io, "sizeBytes", 0);
      for (const auto& name : stringsAt(io, "names"))
        out.imageSizes[normalizeImageName(name)] = size;
    }
  }
  return out;
}

std::string normalizeImageName(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return std::string(image);
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return std::string(image);
  }
  return std::string(image) + ":latest";
}

bool selectorMatches(const api::LabelSelector& selector, const Labels& labels) {
  if (selector.matchesNothing()) return false;
  for (const auto& r : selector.requirements()) {
    NodeSelectorRequirement nr;
    nr.key = r.key;
    nr.values = r.values;
    using LOp = api::LabelSelector::Op;
    using NOp = NodeSelectorRequirement::Op;
    switch (r.op) {
      case LOp::In:
      case LOp::Equals:
      case LOp::DoubleEquals:
        nr.op = NOp::In;
        break;
      case LOp::NotIn:
      case LOp::NotEquals:
        nr.op = NOp::NotIn;
        break;
      case LOp::Exists:
        nr.op = NOp::Exists;
        break;
      case LOp::DoesNotExist:
        nr.op = NOp::DoesNotExist;
        break;
      case LOp::GreaterThan:
        nr.op = NOp::Gt;
        break;
      case LOp::LessThan:
        nr.op = NOp::Lt;
        break;
    }
    if (!nr.matches(labels)) return false;
  }
  return true;
}

}  // namespace skiff::scheduler
