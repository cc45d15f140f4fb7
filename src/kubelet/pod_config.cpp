#include "kubelet/pod_config.h"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "api/json_access.h"
#include "api/quantity.h"
#include "common/hash.h"
#include "kubelet/machine_info.h"
#include "kubelet/pod_status.h"
#include "kubelet/runtime_state.h"

namespace json = boost::json;

namespace skiff::kubelet {
namespace {

using api::arrayAt;
using api::boolAt;
using api::intAt;
using api::objectAt;
using api::stringAt;

struct ResolvConf {
  std::vector<std::string> servers, searches, options;
};

ResolvConf readResolvConf(const std::string& path) {
  ResolvConf r;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string word;
    f >> word;
    std::vector<std::string>* into = word == "nameserver"                     ? &r.servers
                                     : (word == "search" || word == "domain") ? &r.searches
                                     : word == "options"                      ? &r.options
                                                                              : nullptr;
    if (!into) continue;
    for (std::string v; f >> v;) into->push_back(v);
  }
  return r;
}

void addUnique(google::protobuf::RepeatedPtrField<std::string>* to, const std::string& v) {
  for (auto& x : *to)
    if (x == v) return;
  *to->Add() = v;
}

void fillDns(const json::object& pod, const SandboxSettings& s, cri::v1::DNSConfig* dns) {
  auto policy = stringAt(pod, {"spec", "dnsPolicy"}, "ClusterFirst");
  bool hostNetwork = boolAt(pod, {"spec", "hostNetwork"});
  if (policy == "ClusterFirstWithHostNet")
    policy = "ClusterFirst";
  else if (policy == "ClusterFirst" && hostNetwork)
    policy = "Default";
  // Without a cluster DNS service, ClusterFirst falls back to the node's resolvers (upstream).
  if (policy == "ClusterFirst" && s.clusterDns.empty()) policy = "Default";
  if (policy == "ClusterFirst") {
    auto ns = stringAt(pod, {"metadata", "namespace"}, "default");
    for (auto& srv : s.clusterDns) addUnique(dns->mutable_servers(), srv);
    addUnique(dns->mutable_searches(), ns + ".svc." + s.clusterDomain);
    addUnique(dns->mutable_searches(), "svc." + s.clusterDomain);
    addUnique(dns->mutable_searches(), s.clusterDomain);
    for (auto& h : readResolvConf(s.hostResolvConf).searches) addUnique(dns->mutable_searches(), h);
    addUnique(dns->mutable_options(), "ndots:5");
  } else if (policy == "Default") {
    auto host = readResolvConf(s.hostResolvConf);
    for (auto& v : host.servers) addUnique(dns->mutable_servers(), v);
    for (auto& v : host.searches) addUnique(dns->mutable_searches(), v);
    for (auto& v : host.options) addUnique(dns->mutable_options(), v);
  }
  if (auto* cfg = objectAt(pod, {"spec", "dnsConfig"})) {
    if (auto* a = arrayAt(*cfg, {"nameservers"}))
      for (auto& v : *a)
        if (v.is_string()) addUnique(dns->mutable_servers(), std::string(v.as_string()));
    if (auto* a = arrayAt(*cfg, {"searches"}))
      for (auto& v : *a)
        if (v.is_string()) addUnique(dns->mutable_searches(), std::string(v.as_string()));
    if (auto* a = arrayAt(*cfg, {"options"}))
      for (auto& v : *a)
        if (auto* o = v.if_object()) {
          auto name = stringAt(*o, {"name"});
          auto value = stringAt(*o, {"value"});
          if (name.empty()) continue;
          // A pod's option replaces one of the same name (upstream's mergeDNSOptions), so
          // `ndots: 2` overrides ClusterFirst's ndots:5 instead of joining it.
          auto* opts = dns->mutable_options();
          for (int i = opts->size() - 1; i >= 0; --i) {
            const auto& o = opts->Get(i);
            if (o == name || o.rfind(name + ":", 0) == 0) opts->DeleteSubrange(i, 1);
          }
          addUnique(opts, value.empty() ? name : name + ":" + value);
        }
  }
}

cri::v1::NamespaceOption namespaces(const json::object& pod) {
  cri::v1::NamespaceOption ns;
  ns.set_network(boolAt(pod, {"spec", "hostNetwork"}) ? cri::v1::NODE : cri::v1::POD);
  ns.set_ipc(boolAt(pod, {"spec", "hostIPC"}) ? cri::v1::NODE : cri::v1::POD);
  if (boolAt(pod, {"spec", "hostPID"}))
    ns.set_pid(cri::v1::NODE);
  else
    ns.set_pid(boolAt(pod, {"spec", "shareProcessNamespace"}) ? cri::v1::POD : cri::v1::CONTAINER);
  return ns;
}

int64_t milli(const json::object* list, const char* key) {
  auto* v = list ? list->if_contains(key) : nullptr;
  if (!v || !v->is_string()) return -1;
  auto q = api::Quantity::parse(std::string(v->as_string()));
  return q ? q->milliValue() : -1;
}

int64_t bytes(const json::object* list, const char* key) {
  auto* v = list ? list->if_contains(key) : nullptr;
  if (!v || !v->is_string()) return -1;
  auto q = api::Quantity::parse(std::string(v->as_string()));
  return q ? q->value() : -1;
}

int64_t nodeMemoryBytes() {
  static const int64_t total = readMachineInfo("/").memoryBytes;
  return total;
}

// Upstream's OOM score policy: Guaranteed pods are killed last, BestEffort first, Burstable
// in proportion to how little memory they requested.
int64_t oomScoreAdj(const json::object& pod, const json::object* requests) {
  auto qos = qosClassOf(pod);
  if (qos == "Guaranteed") return -997;
  if (qos == "BestEffort") return 1000;
  int64_t req = bytes(requests, "memory");
  int64_t cap = nodeMemoryBytes();
  if (req <= 0 || cap <= 0) return 999;
  int64_t score = 1000 - (1000 * req) / cap;
  return std::clamp<int64_t>(score, 2, 999);
}

}  // namespace

std::string podLogDirectory(const std::string& podLogsDir, const json::object& pod) {
  return podLogsDir + "/" + stringAt(pod, {"metadata", "namespace"}) + "_" +
         stringAt(pod, {"metadata", "name"}) + "_" + stringAt(pod, {"metadata", "uid"});
}

int64_t gracePeriodSeconds(const json::object& pod) {
  auto* dg = api::valueAt(pod, {"metadata", "deletionGracePeriodSeconds"});
  if (dg && (dg->is_int64() || dg->is_uint64()))
    return intAt(pod, {"metadata", "deletionGracePeriodSeconds"});
  return intAt(pod, {"spec", "terminationGracePeriodSeconds"}, 30);
}

std::string containerHash(const json::object& container) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx",
           static_cast<unsigned long long>(fnv1a(json::serialize(container))));
  return buf;
}

cri::v1::PodSandboxConfig makeSandboxConfig(const json::object& pod, int attempt,
                                            const SandboxSettings& s) {
  cri::v1::PodSandboxConfig c;
  auto name = stringAt(pod, {"metadata", "name"});
  auto ns = stringAt(pod, {"metadata", "namespace"});
  auto uid = stringAt(pod, {"metadata", "uid"});
  auto* md = c.mutable_metadata();
  md->set_name(name);
  md->set_namespace_(ns);
  md->set_uid(uid);
  md->set_attempt(attempt);
  if (!boolAt(pod, {"spec", "hostNetwork"})) {
    auto host = stringAt(pod, {"spec", "hostname"}, name);
    if (host.size() > 63) host = host.substr(0, 63);
    while (!host.empty() && (host.back() == '-' || host.back() == '.')) host.pop_back();
    c.set_hostname(host);
  }
  c.set_log_directory(podLogDirectory(s.podLogsDir, pod));
  fillDns(pod, s, c.mutable_dns_config());
  if (auto* containers = arrayAt(pod, {"spec", "containers"}))
    for (auto& cv : *containers)
      if (auto* ctr = cv.if_object())
        if (auto* ports = arrayAt(*ctr, {"ports"}))
          for (auto& pv : *ports) {
            auto* p = pv.if_object();
            if (!p || intAt(*p, {"hostPort"}) <= 0) continue;
            auto* m = c.add_port_mappings();
            auto proto = stringAt(*p, {"protocol"}, "TCP");
            m->set_protocol(proto == "UDP"    ? cri::v1::UDP
                            : proto == "SCTP" ? cri::v1::SCTP
                                              : cri::v1::TCP);
            m->set_container_port(static_cast<int32_t>(intAt(*p, {"containerPort"})));
            m->set_host_port(static_cast<int32_t>(intAt(*p, {"hostPort"})));
            m->set_host_ip(stringAt(*p, {"hostIP"}));
          }
  if (auto* l = objectAt(pod, {"metadata", "labels"}))
    for (auto& [k, v] : *l)
      if (v.is_string()) (*c.mutable_labels())[std::string(k)] = std::string(v.as_string());
  (*c.mutable_labels())[labels::kPodName] = name;
  (*c.mutable_labels())[labels::kPodNamespace] = ns;
  (*c.mutable_labels())[labels::kPodUid] = uid;
  if (auto* a = objectAt(pod, {"metadata", "annotations"}))
    for (auto& [k, v] : *a)
      if (v.is_string()) (*c.mutable_annotations())[std::string(k)] = std::string(v.as_string());

  auto* linux = c.mutable_linux();
  if (!s.cgroupParent.empty()) linux->set_cgroup_parent(s.cgroupParent);
  auto* sc = linux->mutable_security_context();
  *sc->mutable_namespace_options() = namespaces(pod);
  if (auto* psc = objectAt(pod, {"spec", "securityContext"})) {
    if (psc->contains("runAsUser"))
      sc->mutable_run_as_user()->set_value(intAt(*psc, {"runAsUser"}));
    if (psc->contains("runAsGroup"))
      sc->mutable_run_as_group()->set_value(intAt(*psc, {"runAsGroup"}));
    if (auto* fsGroup = psc->if_contains("fsGroup"); fsGroup && fsGroup->is_int64())
      sc->add_supplemental_groups(fsGroup->as_int64());  // first, as for the containers
    if (auto* groups = arrayAt(*psc, {"supplementalGroups"}))
      for (auto& g : *groups)
        if (g.is_int64()) sc->add_supplemental_groups(g.as_int64());
    if (auto* sysctls = arrayAt(*psc, {"sysctls"}))
      for (auto& sv : *sysctls)
        if (auto* so = sv.if_object())
          (*linux->mutable_sysctls())[stringAt(*so, {"name"})] = stringAt(*so, {"value"});
  }
  bool privileged = false;
  for (const char* field : {"initContainers", "containers"})
    if (auto* list = arrayAt(pod, {"spec", field}))
      for (auto& cv : *list)
        if (auto* ctr = cv.if_object(); ctr && boolAt(*ctr, {"securityContext", "privileged"}))
          privileged = true;
  sc->set_privileged(privileged);
  return c;
}

cri::v1::ContainerConfig makeContainerConfig(const json::object& pod, const json::object& container,
                                             bool init, const ContainerInputs& in) {
  cri::v1::ContainerConfig c;
  auto name = stringAt(container, {"name"});
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_attempt(static_cast<uint32_t>(in.restartCount));
  c.mutable_image()->set_image(in.imageRef.empty() ? stringAt(container, {"image"}) : in.imageRef);
  c.mutable_image()->set_user_specified_image(stringAt(container, {"image"}));

  std::map<std::string, std::string> envMap;
  for (auto& [k, v] : in.env) envMap[k] = v;
  for (auto& a : expandAll(arrayAt(container, {"command"}), envMap)) c.add_command(a);
  for (auto& a : expandAll(arrayAt(container, {"args"}), envMap)) c.add_args(a);
  c.set_working_dir(stringAt(container, {"workingDir"}));
  for (auto& [k, v] : in.env) {
    auto* kv = c.add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (auto& m : in.mounts) {
    auto* cm = c.add_mounts();
    cm->set_container_path(m.containerPath);
    cm->set_host_path(m.hostPath);
    cm->set_readonly(m.readOnly);
    cm->set_selinux_relabel(m.selinuxRelabel);
    if (m.propagation == "HostToContainer")
      cm->set_propagation(cri::v1::PROPAGATION_HOST_TO_CONTAINER);
    else if (m.propagation == "Bidirectional")
      cm->set_propagation(cri::v1::PROPAGATION_BIDIRECTIONAL);
  }
  auto terminationPath = stringAt(container, {"terminationMessagePath"}, "/dev/termination-log");
  if (!in.terminationLogHostPath.empty()) {
    auto* cm = c.add_mounts();
    cm->set_container_path(terminationPath);
    cm->set_host_path(in.terminationLogHostPath);
  }
  (*c.mutable_labels())[labels::kPodName] = stringAt(pod, {"metadata", "name"});
  (*c.mutable_labels())[labels::kPodNamespace] = stringAt(pod, {"metadata", "namespace"});
  (*c.mutable_labels())[labels::kPodUid] = stringAt(pod, {"metadata", "uid"});
  (*c.mutable_labels())[labels::kContainerName] = name;
  auto& ann = *c.mutable_annotations();
  ann[labels::kRestartCount] = std::to_string(in.restartCount);
  ann[labels::kContainerHash] = containerHash(container);
  ann[labels::kTerminationMessagePath] = terminationPath;
  ann[labels::kGracePeriod] =
      std::to_string(intAt(pod, {"spec", "terminationGracePeriodSeconds"}, 30));
  if (init) ann[labels::kInitContainer] = "true";
  c.set_log_path(name + "/" + std::to_string(in.restartCount) + ".log");
  c.set_stdin(boolAt(container, {"stdin"}));
  c.set_stdin_once(boolAt(container, {"stdinOnce"}));
  c.set_tty(boolAt(container, {"tty"}));

  auto* linux = c.mutable_linux();
  auto* res = linux->mutable_resources();
  auto* limits = objectAt(container, {"resources", "limits"});
  auto* requests = objectAt(container, {"resources", "requests"});
  int64_t cpuRequest = milli(requests, "cpu"), cpuLimit = milli(limits, "cpu");
  if (cpuRequest < 0) cpuRequest = cpuLimit;
  // cgroup v1 cpu.shares: 1024 per core requested, at least 2 (upstream's MinShares).
  res->set_cpu_shares(cpuRequest > 0 ? std::max<int64_t>(2, cpuRequest * 1024 / 1000) : 2);
  if (cpuLimit > 0) {
    res->set_cpu_period(100000);
    res->set_cpu_quota(std::max<int64_t>(1000, cpuLimit * 100000 / 1000));
  }
  int64_t memLimit = bytes(limits, "memory");
  if (memLimit > 0) res->set_memory_limit_in_bytes(memLimit);
  res->set_oom_score_adj(oomScoreAdj(pod, requests));

  auto* sc = linux->mutable_security_context();
  *sc->mutable_namespace_options() = namespaces(pod);
  const json::object* psc = objectAt(pod, {"spec", "securityContext"});
  const json::object* csc = objectAt(container, {"securityContext"});
  auto pick = [&](const char* key) -> const json::value* {
    if (csc && csc->contains(key)) return &csc->at(key);
    if (psc && psc->contains(key)) return &psc->at(key);
    return nullptr;
  };
  if (auto* v = pick("runAsUser"); v && v->is_int64())
    sc->mutable_run_as_user()->set_value(v->as_int64());
  if (auto* v = pick("runAsGroup"); v && v->is_int64())
    sc->mutable_run_as_group()->set_value(v->as_int64());
  // fsGroup first, then supplementalGroups, as upstream's determineEffectiveSecurityContext:
  // the processes may then use files the volumes' fsGroup ownership gave the group.
  if (psc)
    if (auto* fsGroup = psc->if_contains("fsGroup"); fsGroup && fsGroup->is_int64())
      sc->add_supplemental_groups(fsGroup->as_int64());
  if (psc)
    if (auto* groups = arrayAt(*psc, {"supplementalGroups"}))
      for (auto& g : *groups)
        if (g.is_int64()) sc->add_supplemental_groups(g.as_int64());
  if (csc) {
    sc->set_privileged(boolAt(*csc, {"privileged"}));
    sc->set_readonly_rootfs(boolAt(*csc, {"readOnlyRootFilesystem"}));
    // allowPrivilegeEscalation=false is no_new_privs (it defaults to allowed).
    if (auto* ape = csc->if_contains("allowPrivilegeEscalation"); ape && ape->is_bool())
      sc->set_no_new_privs(!ape->as_bool());
    if (auto* caps = objectAt(*csc, {"capabilities"})) {
      auto* cc = sc->mutable_capabilities();
      if (auto* add = arrayAt(*caps, {"add"}))
        for (auto& v : *add)
          if (v.is_string()) cc->add_add_capabilities(std::string(v.as_string()));
      if (auto* drop = arrayAt(*caps, {"drop"}))
        for (auto& v : *drop)
          if (v.is_string()) cc->add_drop_capabilities(std::string(v.as_string()));
    }
  }
  return c;
}

}  // namespace skiff::kubelet
