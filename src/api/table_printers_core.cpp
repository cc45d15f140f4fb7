// Table printers for the core group: pods, nodes, namespaces, services, endpoints, config,
// events and storage claims.
#include <algorithm>
#include <cctype>
#include <set>

#include "api/conversion.h"
#include "api/table_printers_internal.h"

namespace skiff::api::tables {
namespace {

// ---- pods ----

bool isRestartableInit(const json::object& container) {
  return str(container, "restartPolicy") == "Always";
}

bool conditionTrue(const json::object& status, std::string_view type) {
  for (const auto& c : arr(status, "conditions")) {
    if (!c.is_object()) continue;
    if (str(c.get_object(), "type") == type) return str(c.get_object(), "status") == "True";
  }
  return false;
}

// The later of two RFC 3339 timestamps (empty = none).
void keepLatest(std::string& latest, const std::string& candidate,
                std::optional<Clock::time_point>& latestTime) {
  auto t = parseTime(candidate);
  if (!t) return;
  if (!latestTime || *t > *latestTime) {
    latestTime = t;
    latest = candidate;
  }
}

json::array podCells(const json::object& pod, Clock::time_point now) {
  const auto& meta = obj(pod, "metadata");
  const auto& spec = obj(pod, "spec");
  const auto& status = obj(pod, "status");
  const auto& initSpecs = arr(spec, "initContainers");

  int64_t restarts = 0, sidecarRestarts = 0;
  int64_t totalContainers = static_cast<int64_t>(arr(spec, "containers").size());
  int64_t readyContainers = 0;
  std::string lastRestart, lastSidecarRestart;
  std::optional<Clock::time_point> lastRestartT, lastSidecarRestartT;

  const std::string phase = str(status, "phase");
  std::string reason = phase;
  if (!str(status, "reason").empty()) reason = str(status, "reason");
  for (const auto& c : arr(status, "conditions")) {
    if (c.is_object() && str(c.get_object(), "type") == "PodScheduled" &&
        str(c.get_object(), "reason") == "SchedulingGated")
      reason = "SchedulingGated";
  }

  std::map<std::string, const json::object*> initByName;
  for (const auto& c : initSpecs) {
    if (!c.is_object()) continue;
    initByName[str(c.get_object(), "name")] = &c.get_object();
    if (isRestartableInit(c.get_object())) ++totalContainers;
  }
  auto restartable = [&](const std::string& name) {
    auto it = initByName.find(name);
    return it != initByName.end() && isRestartableInit(*it->second);
  };

  bool initializing = false;
  const auto& initStatuses = arr(status, "initContainerStatuses");
  for (size_t i = 0; i < initStatuses.size(); ++i) {
    if (!initStatuses[i].is_object()) continue;
    const auto& cs = initStatuses[i].get_object();
    const std::string name = str(cs, "name");
    restarts += num(cs, "restartCount");
    const auto& lastTerm = at(cs, {"lastState", "terminated"});
    if (has(obj(cs, "lastState"), "terminated"))
      keepLatest(lastRestart, str(lastTerm, "finishedAt"), lastRestartT);
    if (restartable(name)) {
      sidecarRestarts += num(cs, "restartCount");
      if (has(obj(cs, "lastState"), "terminated"))
        keepLatest(lastSidecarRestart, str(lastTerm, "finishedAt"), lastSidecarRestartT);
    }
    const auto& state = obj(cs, "state");
    const bool terminated = has(state, "terminated");
    const auto& term = obj(state, "terminated");
    const auto& waiting = obj(state, "waiting");
    if (terminated && num(term, "exitCode") == 0) continue;
    if (restartable(name) && boolean(cs, "started")) {
      if (boolean(cs, "ready")) ++readyContainers;
      continue;
    }
    if (terminated) {
      if (str(term, "reason").empty()) {
        reason = num(term, "signal") != 0
                     ? "Init:Signal:" + std::to_string(num(term, "signal"))
                     : "Init:ExitCode:" + std::to_string(num(term, "exitCode"));
      } else {
        reason = "Init:" + str(term, "reason");
      }
    } else if (has(state, "waiting") && !str(waiting, "reason").empty() &&
               str(waiting, "reason") != "PodInitializing") {
      reason = "Init:" + str(waiting, "reason");
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(initSpecs.size());
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, "Initialized")) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    lastRestartT = lastSidecarRestartT;
    bool hasRunning = false;
    const auto& statuses = arr(status, "containerStatuses");
    for (size_t k = statuses.size(); k-- > 0;) {
      if (!statuses[k].is_object()) continue;
      const auto& cs = statuses[k].get_object();
      restarts += num(cs, "restartCount");
      if (has(obj(cs, "lastState"), "terminated"))
        keepLatest(lastRestart, str(at(cs, {"lastState", "terminated"}), "finishedAt"),
                   lastRestartT);
      const auto& state = obj(cs, "state");
      const auto& waiting = obj(state, "waiting");
      const auto& term = obj(state, "terminated");
      if (has(state, "waiting") && !str(waiting, "reason").empty()) {
        reason = str(waiting, "reason");
      } else if (has(state, "terminated") && !str(term, "reason").empty()) {
        reason = str(term, "reason");
      } else if (has(state, "terminated")) {
        reason = num(term, "signal") != 0 ? "Signal:" + std::to_string(num(term, "signal"))
                                          : "ExitCode:" + std::to_string(num(term, "exitCode"));
      } else if (boolean(cs, "ready") && has(state, "running")) {
        hasRunning = true;
        ++readyContainers;
      }
    }
    // A pod whose last container completed while another still runs is not "Completed".
    if (reason == "Completed" && hasRunning)
      reason = conditionTrue(status, "Ready") ? "Running" : "NotReady";
  }

  const bool deleting = has(meta, "deletionTimestamp");
  if (deleting && str(status, "reason") == "NodeLost") {
    reason = "Unknown";
  } else if (deleting && phase != "Succeeded" && phase != "Failed") {
    reason = "Terminating";
  }

  std::string restartsStr = std::to_string(restarts);
  if (restarts != 0 && lastRestartT) restartsStr += " (" + since(lastRestart, now) + " ago)";

  std::string podIP;
  const auto& ips = arr(status, "podIPs");
  if (!ips.empty() && ips[0].is_object()) podIP = str(ips[0].get_object(), "ip");
  if (podIP.empty()) podIP = str(status, "podIP");
  if (podIP.empty()) podIP = "<none>";
  std::string node = str(spec, "nodeName");
  if (node.empty()) node = "<none>";
  std::string nominated = str(status, "nominatedNodeName");
  if (nominated.empty()) nominated = "<none>";
  std::string gates = "<none>";
  const auto& gateSpecs = arr(spec, "readinessGates");
  if (!gateSpecs.empty()) {
    int trueCount = 0;
    for (const auto& g : gateSpecs) {
      if (!g.is_object()) continue;
      std::string type = str(g.get_object(), "conditionType");
      for (const auto& c : arr(status, "conditions")) {
        if (c.is_object() && str(c.get_object(), "type") == type) {
          if (str(c.get_object(), "status") == "True") ++trueCount;
          break;
        }
      }
    }
    gates = std::to_string(trueCount) + "/" + std::to_string(gateSpecs.size());
  }
  return json::array{str(meta, "name"),
                     std::to_string(readyContainers) + "/" + std::to_string(totalContainers),
                     reason,
                     restartsStr,
                     age(pod, now),
                     podIP,
                     node,
                     nominated,
                     gates};
}

TablePrinter podPrinter() {
  return {{nameColumn(), col("Ready", "string"), col("Status", "string"), col("Restarts", "string"),
           ageColumn(), col("IP", "string", 1), col("Node", "string", 1),
           col("Nominated Node", "string", 1), col("Readiness Gates", "string", 1)},
          podCells};
}

// ---- nodes ----

json::array nodeCells(const json::object& node, Clock::time_point now) {
  const auto& meta = obj(node, "metadata");
  const auto& status = obj(node, "status");
  std::vector<std::string> st;
  for (const auto& c : arr(status, "conditions")) {
    if (!c.is_object() || str(c.get_object(), "type") != "Ready") continue;
    st = {str(c.get_object(), "status") == "True" ? "Ready" : "NotReady"};
  }
  if (st.empty()) st.push_back("Unknown");
  if (boolean(obj(node, "spec"), "unschedulable")) st.push_back("SchedulingDisabled");

  std::set<std::string> roles;
  for (const auto& kv : obj(meta, "labels")) {
    std::string_view k = kv.key();
    constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
    if (k.substr(0, kPrefix.size()) == kPrefix && k.size() > kPrefix.size()) {
      roles.insert(std::string(k.substr(kPrefix.size())));
    } else if (k == "kubernetes.io/role" && kv.value().is_string() &&
               !kv.value().get_string().empty()) {
      roles.insert(std::string(kv.value().get_string()));
    }
  }
  std::string rolesStr = join({roles.begin(), roles.end()}, ",");
  if (rolesStr.empty()) rolesStr = "<none>";

  auto address = [&](std::string_view type) -> std::string {
    for (const auto& a : arr(status, "addresses"))
      if (a.is_object() && str(a.get_object(), "type") == type)
        return str(a.get_object(), "address");
    return "<none>";
  };
  const auto& info = obj(status, "nodeInfo");
  auto orUnknown = [](std::string s) { return s.empty() ? std::string("<unknown>") : s; };
  return json::array{str(meta, "name"),
                     join(st, ","),
                     rolesStr,
                     age(node, now),
                     str(info, "kubeletVersion"),
                     address("InternalIP"),
                     address("ExternalIP"),
                     orUnknown(str(info, "osImage")),
                     orUnknown(str(info, "kernelVersion")),
                     orUnknown(str(info, "containerRuntimeVersion"))};
}

TablePrinter nodePrinter() {
  return {{nameColumn(), col("Status", "string"), col("Roles", "string"), ageColumn(),
           col("Version", "string"), col("Internal-IP", "string", 1),
           col("External-IP", "string", 1), col("OS-Image", "string", 1),
           col("Kernel-Version", "string", 1), col("Container-Runtime", "string", 1)},
          nodeCells};
}

// ---- services and endpoints ----

std::string serviceExternalIP(const json::object& svc) {
  const auto& spec = obj(svc, "spec");
  std::vector<std::string> external;
  for (const auto& ip : arr(spec, "externalIPs"))
    if (ip.is_string()) external.emplace_back(ip.get_string());
  std::string type = str(spec, "type");
  if (type == "ClusterIP" || type == "NodePort" || type.empty())
    return external.empty() ? "<none>" : join(external, ",");
  if (type == "LoadBalancer") {
    std::set<std::string> lb;  // sorted and unique, as upstream's string set
    for (const auto& in : arr(at(svc, {"status", "loadBalancer"}), "ingress")) {
      if (!in.is_object()) continue;
      std::string ip = str(in.get_object(), "ip");
      if (ip.empty()) ip = str(in.get_object(), "hostname");
      if (!ip.empty()) lb.insert(ip);
    }
    // The server renders wide rows, so the load-balancer list is not clipped here.
    std::vector<std::string> all(lb.begin(), lb.end());
    all.insert(all.end(), external.begin(), external.end());
    return all.empty() ? "<pending>" : join(all, ",");
  }
  if (type == "ExternalName") return str(spec, "externalName");
  return "<unknown>";
}

json::array serviceCells(const json::object& svc, Clock::time_point now) {
  const auto& spec = obj(svc, "spec");
  std::string clusterIP = "<none>";
  const auto& ips = arr(spec, "clusterIPs");
  if (!ips.empty() && ips[0].is_string())
    clusterIP = std::string(ips[0].get_string());
  else if (!str(spec, "clusterIP").empty())
    clusterIP = str(spec, "clusterIP");
  std::vector<std::string> ports;
  for (const auto& p : arr(spec, "ports")) {
    if (!p.is_object()) continue;
    const auto& po = p.get_object();
    std::string proto = str(po, "protocol");
    std::string s = std::to_string(num(po, "port"));
    if (num(po, "nodePort") > 0) s += ":" + std::to_string(num(po, "nodePort"));
    ports.push_back(s + "/" + proto);
  }
  std::string portStr = ports.empty() ? "<none>" : join(ports, ",");
  return json::array{str(obj(svc, "metadata"), "name"),
                     str(spec, "type"),
                     clusterIP,
                     serviceExternalIP(svc),
                     portStr,
                     age(svc, now),
                     formatLabels(obj(spec, "selector"))};
}

TablePrinter servicePrinter() {
  return {{nameColumn(), col("Type", "string"), col("Cluster-IP", "string"),
           col("External-IP", "string"), col("Port(s)", "string"), ageColumn(),
           col("Selector", "string", 1)},
          serviceCells};
}

std::string hostPort(const std::string& ip, int64_t port) {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

json::array endpointsCells(const json::object& ep, Clock::time_point now) {
  const auto& subsets = arr(ep, "subsets");
  std::string out;
  if (subsets.empty()) {
    out = "<none>";
  } else {
    std::vector<std::string> list;
    const size_t max = 3;
    bool more = false;
    size_t count = 0;
    for (const auto& ssv : subsets) {
      if (!ssv.is_object()) continue;
      const auto& ss = ssv.get_object();
      const auto& addrs = arr(ss, "addresses");
      const auto& ports = arr(ss, "ports");
      if (ports.empty()) {  // headless services may have no ports
        count += addrs.size();
        for (const auto& a : addrs) {
          if (list.size() == max) {
            more = true;
            break;
          }
          if (a.is_object()) list.push_back(str(a.get_object(), "ip"));
        }
        continue;
      }
      for (const auto& p : ports) {
        if (!p.is_object()) continue;
        count += addrs.size();
        for (const auto& a : addrs) {
          if (list.size() == max) {
            more = true;
            break;
          }
          if (a.is_object())
            list.push_back(hostPort(str(a.get_object(), "ip"), num(p.get_object(), "port")));
        }
      }
    }
    out = join(list, ",");
    if (more) out += " + " + std::to_string(count - max) + " more...";
  }
  return json::array{str(obj(ep, "metadata"), "name"), out, age(ep, now)};
}

// ---- events (core/v1 and events.k8s.io/v1 share upstream's printer) ----

struct EventView {
  std::string name, type, reason, message, kind, objName, fieldPath;
  std::string firstTimestamp, lastTimestamp, eventTime, seriesLast;
  int64_t count = 0, seriesCount = 0;
  bool hasSeries = false;
  std::string component, host, reportingController, reportingInstance;
};

json::array eventCells(const EventView& e, Clock::time_point now) {
  std::string first =
      parseTime(e.firstTimestamp) ? since(e.firstTimestamp, now) : since(e.eventTime, now);
  std::string last = parseTime(e.lastTimestamp) ? since(e.lastTimestamp, now) : first;
  int64_t count = e.count;
  if (e.hasSeries) {
    last = since(e.seriesLast, now);
    count = e.seriesCount;
  } else if (count == 0) {
    count = 1;  // singleton events carry no count in the new API
  }
  std::string kind = e.kind;
  for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string target = e.objName.empty() ? kind : kind + "/" + e.objName;
  std::string component = e.component.empty() ? e.reportingController : e.component;
  std::string instance = e.host.empty() ? e.reportingInstance : e.host;
  std::string source = instance.empty() ? component : component + ", " + instance;
  // Trim surrounding whitespace of the message, as upstream.
  std::string msg = e.message;
  auto b = msg.find_first_not_of(" \t\r\n\v\f");
  auto en = msg.find_last_not_of(" \t\r\n\v\f");
  msg = b == std::string::npos ? "" : msg.substr(b, en - b + 1);
  return json::array{
      last,  e.type, e.reason, target, e.fieldPath, source, msg, first, std::to_string(count),
      e.name};
}

std::vector<TableColumn> eventColumns() {
  TableColumn name = nameColumn();
  name.priority = 1;
  return {col("Last Seen", "string"),    col("Type", "string"),
          col("Reason", "string"),       col("Object", "string"),
          col("Subobject", "string", 1), col("Source", "string", 1),
          col("Message", "string"),      col("First Seen", "string", 1),
          col("Count", "string", 1),     name};
}

json::array coreEventCells(const json::object& ev, Clock::time_point now) {
  EventView e;
  e.name = str(obj(ev, "metadata"), "name");
  e.type = str(ev, "type");
  e.reason = str(ev, "reason");
  e.message = str(ev, "message");
  const auto& io = obj(ev, "involvedObject");
  e.kind = str(io, "kind");
  e.objName = str(io, "name");
  e.fieldPath = str(io, "fieldPath");
  e.firstTimestamp = str(ev, "firstTimestamp");
  e.lastTimestamp = str(ev, "lastTimestamp");
  e.eventTime = str(ev, "eventTime");
  e.count = num(ev, "count");
  if (has(ev, "series")) {
    e.hasSeries = true;
    e.seriesCount = num(obj(ev, "series"), "count");
    e.seriesLast = str(obj(ev, "series"), "lastObservedTime");
  }
  e.component = str(obj(ev, "source"), "component");
  e.host = str(obj(ev, "source"), "host");
  e.reportingController = str(ev, "reportingComponent");
  e.reportingInstance = str(ev, "reportingInstance");
  return eventCells(e, now);
}

// events.k8s.io/v1 Events print like the core Events they are stored as.
json::array newEventCells(const json::object& ev, Clock::time_point now) {
  json::object tagged = ev;
  tagged["apiVersion"] = "events.k8s.io/v1";  // conversion keys on it
  return coreEventCells(
      convertObject(tagged, *ResourceRegistry::builtin().find("", "v1", "events")), now);
}

// ---- persistent volumes and claims ----

std::string accessModes(const json::array& modes) {
  std::set<std::string> have;
  for (const auto& m : modes)
    if (m.is_string()) have.insert(std::string(m.get_string()));
  std::vector<std::string> out;
  if (have.count("ReadWriteOnce")) out.push_back("RWO");
  if (have.count("ReadOnlyMany")) out.push_back("ROX");
  if (have.count("ReadWriteMany")) out.push_back("RWX");
  if (have.count("ReadWriteOncePod")) out.push_back("RWOP");
  return join(out, ",");
}

std::string storageClassOf(const json::object& o) {
  const auto& ann = obj(obj(o, "metadata"), "annotations");
  std::string beta = str(ann, "volume.beta.kubernetes.io/storage-class");
  if (ann.contains("volume.beta.kubernetes.io/storage-class")) return beta;
  return str(obj(o, "spec"), "storageClassName");
}

json::array pvCells(const json::object& pv, Clock::time_point now) {
  const auto& spec = obj(pv, "spec");
  std::string claim;
  if (has(spec, "claimRef"))
    claim = str(obj(spec, "claimRef"), "namespace") + "/" + str(obj(spec, "claimRef"), "name");
  const auto& cap = obj(spec, "capacity");
  std::string size = cap.contains("storage") ? quantityString(cap.at("storage")) : "0";
  std::string phase = str(obj(pv, "status"), "phase");
  if (has(obj(pv, "metadata"), "deletionTimestamp")) phase = "Terminating";
  std::string vac =
      has(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName") : "<unset>";
  std::string mode = has(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>";
  return json::array{str(obj(pv, "metadata"), "name"),
                     size,
                     accessModes(arr(spec, "accessModes")),
                     str(spec, "persistentVolumeReclaimPolicy"),
                     phase,
                     claim,
                     storageClassOf(pv),
                     vac,
                     str(obj(pv, "status"), "reason"),
                     age(pv, now),
                     mode};
}

json::array pvcCells(const json::object& pvc, Clock::time_point now) {
  const auto& spec = obj(pvc, "spec");
  const auto& status = obj(pvc, "status");
  std::string phase = str(status, "phase");
  if (has(obj(pvc, "metadata"), "deletionTimestamp")) phase = "Terminating";
  std::string capacity, modes;
  if (!str(spec, "volumeName").empty()) {
    modes = accessModes(arr(status, "accessModes"));
    const auto& cap = obj(status, "capacity");
    capacity = cap.contains("storage") ? quantityString(cap.at("storage")) : "0";
  }
  std::string vac =
      has(spec, "volumeAttributesClassName") ? str(spec, "volumeAttributesClassName") : "<unset>";
  std::string mode = has(spec, "volumeMode") ? str(spec, "volumeMode") : "<unset>";
  return json::array{str(obj(pvc, "metadata"), "name"),
                     phase,
                     str(spec, "volumeName"),
                     capacity,
                     modes,
                     storageClassOf(pvc),
                     vac,
                     age(pvc, now),
                     mode};
}

// ---- replication controllers, pod templates, quotas ----

json::array rcCells(const json::object& rc, Clock::time_point now) {
  const auto& spec = obj(rc, "spec");
  const auto& status = obj(rc, "status");
  auto [names, images] = containerCells(arr(at(spec, {"template", "spec"}), "containers"));
  return json::array{str(obj(rc, "metadata"), "name"),
                     num(spec, "replicas"),
                     num(status, "replicas"),
                     num(status, "readyReplicas"),
                     age(rc, now),
                     names,
                     images,
                     formatLabels(obj(spec, "selector"))};
}

json::array podTemplateCells(const json::object& pt, Clock::time_point) {
  auto [names, images] = containerCells(arr(at(pt, {"template", "spec"}), "containers"));
  return json::array{str(obj(pt, "metadata"), "name"), names, images,
                     formatLabels(obj(at(pt, {"template", "metadata"}), "labels"))};
}

json::array resourceQuotaCells(const json::object& rq, Clock::time_point now) {
  const auto& status = obj(rq, "status");
  const auto& hard = obj(status, "hard");
  const auto& used = obj(status, "used");
  std::vector<std::string> keys;
  for (const auto& kv : hard) keys.emplace_back(kv.key());
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> req, lim;
  for (const auto& k : keys) {
    std::string u = used.contains(k) ? quantityString(used.at(k)) : "0";
    std::string line = k + ": " + u + "/" + quantityString(hard.at(k));
    (k.rfind("limits.", 0) == 0 ? lim : req).push_back(line);
  }
  return json::array{str(obj(rq, "metadata"), "name"), age(rq, now), join(req, ", "),
                     join(lim, ", ")};
}

}  // namespace

void registerCorePrinters(PrinterMap& m) {
  m["/pods"] = podPrinter();
  m["/nodes"] = nodePrinter();
  m["/namespaces"] = {{nameColumn(), col("Status", "string"), ageColumn()},
                      [](const json::object& o, Clock::time_point now) {
                        return json::array{str(obj(o, "metadata"), "name"),
                                           str(obj(o, "status"), "phase"), age(o, now)};
                      }};
  m["/services"] = servicePrinter();
  m["/endpoints"] = {{nameColumn(), col("Endpoints", "string"), ageColumn()}, endpointsCells};
  m["/configmaps"] = {
      {nameColumn(), col("Data", "string"), ageColumn()},
      [](const json::object& o, Clock::time_point now) {
        int64_t n = static_cast<int64_t>(obj(o, "data").size() + obj(o, "binaryData").size());
        return json::array{str(obj(o, "metadata"), "name"), n, age(o, now)};
      }};
  m["/secrets"] = {{nameColumn(), col("Type", "string"), col("Data", "string"), ageColumn()},
                   [](const json::object& o, Clock::time_point now) {
                     return json::array{str(obj(o, "metadata"), "name"), str(o, "type"),
                                        static_cast<int64_t>(obj(o, "data").size()), age(o, now)};
                   }};
  m["/serviceaccounts"] = {{nameColumn(), col("Secrets", "string"), ageColumn()},
                           [](const json::object& o, Clock::time_point now) {
                             return json::array{str(obj(o, "metadata"), "name"),
                                                static_cast<int64_t>(arr(o, "secrets").size()),
                                                age(o, now)};
                           }};
  m["/events"] = {eventColumns(), coreEventCells};
  m["events.k8s.io/events"] = {eventColumns(), newEventCells};
  m["/persistentvolumes"] = {
      {nameColumn(), col("Capacity", "string"), col("Access Modes", "string"),
       col("Reclaim Policy", "string"), col("Status", "string"), col("Claim", "string"),
       col("StorageClass", "string"), col("VolumeAttributesClass", "string"),
       col("Reason", "string"), ageColumn(), col("VolumeMode", "string", 1)},
      pvCells};
  m["/persistentvolumeclaims"] = {
      {nameColumn(), col("Status", "string"), col("Volume", "string"), col("Capacity", "string"),
       col("Access Modes", "string"), col("StorageClass", "string"),
       col("VolumeAttributesClass", "string"), ageColumn(), col("VolumeMode", "string", 1)},
      pvcCells};
  m["/replicationcontrollers"] = {
      {nameColumn(), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
       ageColumn(), col("Containers", "string", 1), col("Images", "string", 1),
       col("Selector", "string", 1)},
      rcCells};
  m["/podtemplates"] = {{nameColumn(), col("Containers", "string"), col("Images", "string"),
                         col("Pod Labels", "string")},
                        podTemplateCells};
  m["/resourcequotas"] = {
      // Upstream's order: AGE before REQUEST and LIMIT.
      {nameColumn(), ageColumn(), col("Request", "string"), col("Limit", "string")},
      resourceQuotaCells};
}

}  // namespace skiff::api::tables
