// Table printers for coordination, discovery, networking, RBAC bindings, scheduling, storage,
// node and admission registration. Roles, ClusterRoles and LimitRanges have no upstream printer
// and fall back to the default Name / Created At table.
#include <set>

#include "api/table_printers_internal.h"

namespace skiff::api::tables {
namespace {

json::array leaseCells(const json::object& l, Clock::time_point now) {
  return json::array{str(obj(l, "metadata"), "name"), str(obj(l, "spec"), "holderIdentity"),
                     age(l, now)};
}

std::string listWithMore(const std::vector<std::string>& list, size_t count, size_t max) {
  std::string ret = join(list, ",");
  if (count > max) return ret + " + " + std::to_string(count - max) + " more...";
  return ret.empty() ? "<unset>" : ret;
}

json::array endpointSliceCells(const json::object& es, Clock::time_point now) {
  const size_t max = 3;
  std::vector<std::string> ports;
  size_t portCount = 0;
  for (const auto& p : arr(es, "ports")) {
    if (!p.is_object()) continue;
    if (ports.size() < max) {
      const auto& po = p.get_object();
      if (has(po, "port"))
        ports.push_back(std::to_string(num(po, "port")));
      else if (has(po, "name"))
        ports.push_back(str(po, "name"));
      else
        ports.push_back("*");
    }
    ++portCount;
  }
  std::vector<std::string> addrs;
  size_t addrCount = 0;
  for (const auto& e : arr(es, "endpoints")) {
    if (!e.is_object()) continue;
    for (const auto& a : arr(e.get_object(), "addresses")) {
      if (addrs.size() < max && a.is_string()) addrs.emplace_back(a.get_string());
      ++addrCount;
    }
  }
  return json::array{str(obj(es, "metadata"), "name"), str(es, "addressType"),
                     listWithMore(ports, portCount, max), listWithMore(addrs, addrCount, max),
                     age(es, now)};
}

json::array ingressCells(const json::object& ing, Clock::time_point now) {
  const auto& spec = obj(ing, "spec");
  std::string cls = has(spec, "ingressClassName") ? str(spec, "ingressClassName") : "<none>";
  const auto& rules = arr(spec, "rules");
  std::vector<std::string> hosts;
  const size_t max = 3;
  bool more = false;
  for (const auto& r : rules) {
    if (hosts.size() == max) more = true;
    if (!more && r.is_object() && !str(r.get_object(), "host").empty())
      hosts.push_back(str(r.get_object(), "host"));
  }
  std::string hostStr = hosts.empty() ? "*" : join(hosts, ",");
  if (!hosts.empty() && more) hostStr += " + " + std::to_string(rules.size() - max) + " more...";
  std::set<std::string> addr;
  for (const auto& in : arr(at(ing, {"status", "loadBalancer"}), "ingress")) {
    if (!in.is_object()) continue;
    std::string a = str(in.get_object(), "ip");
    if (a.empty()) a = str(in.get_object(), "hostname");
    if (!a.empty()) addr.insert(a);
  }
  std::string ports = arr(spec, "tls").empty() ? "80" : "80, 443";
  return json::array{str(obj(ing, "metadata"), "name"),     cls,   hostStr,
                     join({addr.begin(), addr.end()}, ","), ports, age(ing, now)};
}

json::array ingressClassCells(const json::object& ic, Clock::time_point now) {
  const auto& spec = obj(ic, "spec");
  std::string params = "<none>";
  if (has(spec, "parameters")) {
    const auto& p = obj(spec, "parameters");
    params = str(p, "kind");
    if (has(p, "apiGroup")) params += "." + str(p, "apiGroup");
    params += "/" + str(p, "name");
  }
  return json::array{str(obj(ic, "metadata"), "name"), str(spec, "controller"), params,
                     age(ic, now)};
}

json::array networkPolicyCells(const json::object& np, Clock::time_point now) {
  const auto& spec = obj(np, "spec");
  return json::array{str(obj(np, "metadata"), "name"),
                     formatLabelSelector(&obj(spec, "podSelector")), age(np, now)};
}

json::array bindingCells(const json::object& b, Clock::time_point now) {
  const auto& ref = obj(b, "roleRef");
  std::vector<std::string> users, groups, sas;
  for (const auto& s : arr(b, "subjects")) {
    if (!s.is_object()) continue;
    const auto& so = s.get_object();
    std::string kind = str(so, "kind");
    if (kind == "User")
      users.push_back(str(so, "name"));
    else if (kind == "Group")
      groups.push_back(str(so, "name"));
    else if (kind == "ServiceAccount")
      sas.push_back(str(so, "namespace") + "/" + str(so, "name"));
  }
  return json::array{str(obj(b, "metadata"), "name"),
                     str(ref, "kind") + "/" + str(ref, "name"),
                     age(b, now),
                     join(users, ", "),
                     join(groups, ", "),
                     join(sas, ", ")};
}

TablePrinter bindingPrinter() {
  return {{nameColumn(), col("Role", "string"), ageColumn(), col("Users", "string", 1),
           col("Groups", "string", 1), col("ServiceAccounts", "string", 1)},
          bindingCells};
}

json::array priorityClassCells(const json::object& pc, Clock::time_point now) {
  return json::array{str(obj(pc, "metadata"), "name"), num(pc, "value"),
                     boolean(pc, "globalDefault"), age(pc, now), str(pc, "preemptionPolicy")};
}

json::array storageClassCells(const json::object& sc, Clock::time_point now) {
  const auto& ann = obj(obj(sc, "metadata"), "annotations");
  std::string name = str(obj(sc, "metadata"), "name");
  if (str(ann, "storageclass.kubernetes.io/is-default-class") == "true" ||
      str(ann, "storageclass.beta.kubernetes.io/is-default-class") == "true")
    name += " (default)";
  std::string reclaim = has(sc, "reclaimPolicy") ? str(sc, "reclaimPolicy") : "Delete";
  std::string binding = has(sc, "volumeBindingMode") ? str(sc, "volumeBindingMode") : "Immediate";
  return json::array{
      name,        str(sc, "provisioner"), reclaim, binding, boolean(sc, "allowVolumeExpansion"),
      age(sc, now)};
}

json::array countCells(const json::object& o, std::string_view listKey, Clock::time_point now) {
  return json::array{str(obj(o, "metadata"), "name"), static_cast<int64_t>(arr(o, listKey).size()),
                     age(o, now)};
}

}  // namespace

namespace {

// CONDITION as upstream's extractCSRStatus: Denied wins over Approved, else Pending; then
// ",Failed" and ",Issued" when they apply.
std::string csrCondition(const json::object& csr) {
  bool approved = false, denied = false, failed = false;
  for (const auto& c : arr(obj(csr, "status"), "conditions")) {
    if (!c.is_object()) continue;
    std::string type = str(c.as_object(), "type");
    approved |= type == "Approved";
    denied |= type == "Denied";
    failed |= type == "Failed";
  }
  std::string out = denied ? "Denied" : approved ? "Approved" : "Pending";
  if (failed) out += ",Failed";
  if (!str(obj(csr, "status"), "certificate").empty()) out += ",Issued";
  return out;
}

json::array csrCells(const json::object& csr, Clock::time_point now) {
  const json::object& spec = obj(csr, "spec");
  std::string duration = "<none>";
  if (has(spec, "expirationSeconds"))
    duration = humanDuration(std::chrono::seconds(num(spec, "expirationSeconds")));
  return json::array{str(obj(csr, "metadata"), "name"),
                     age(csr, now),
                     str(spec, "signerName"),
                     str(spec, "username"),
                     duration,
                     csrCondition(csr)};
}

}  // namespace

void registerOtherPrinters(PrinterMap& m) {
  m["certificates.k8s.io/certificatesigningrequests"] = {
      {nameColumn(), ageColumn(), col("SignerName", "string"), col("Requestor", "string"),
       col("RequestedDuration", "string"), col("Condition", "string")},
      csrCells};
  m["coordination.k8s.io/leases"] = {{nameColumn(), col("Holder", "string"), ageColumn()},
                                     leaseCells};
  m["discovery.k8s.io/endpointslices"] = {
      {nameColumn(), col("AddressType", "string"), col("Ports", "string"),
       col("Endpoints", "string"), ageColumn()},
      endpointSliceCells};
  m["networking.k8s.io/ingresses"] = {
      {nameColumn(), col("Class", "string"), col("Hosts", "string"), col("Address", "string"),
       col("Ports", "string"), ageColumn()},
      ingressCells};
  m["networking.k8s.io/ingressclasses"] = {
      {nameColumn(), col("Controller", "string"), col("Parameters", "string"), ageColumn()},
      ingressClassCells};
  m["networking.k8s.io/networkpolicies"] = {
      {nameColumn(), col("Pod-Selector", "string"), ageColumn()}, networkPolicyCells};
  m["rbac.authorization.k8s.io/rolebindings"] = bindingPrinter();
  m["rbac.authorization.k8s.io/clusterrolebindings"] = bindingPrinter();
  m["scheduling.k8s.io/priorityclasses"] = {
      {nameColumn(), col("Value", "integer"), col("Global-Default", "boolean"), ageColumn(),
       col("PreemptionPolicy", "string")},
      priorityClassCells};
  m["storage.k8s.io/storageclasses"] = {
      {nameColumn(), col("Provisioner", "string"), col("ReclaimPolicy", "string"),
       col("VolumeBindingMode", "string"), col("AllowVolumeExpansion", "string"), ageColumn()},
      storageClassCells};
  m["node.k8s.io/runtimeclasses"] = {
      {nameColumn(), col("Handler", "string"), ageColumn()},
      [](const json::object& o, Clock::time_point now) {
        return json::array{str(obj(o, "metadata"), "name"), str(o, "handler"), age(o, now)};
      }};
  // kube-aggregator's APIService table: SERVICE is Local or namespace/name; AVAILABLE is the
  // Available condition's status, with its reason unless True ("Unknown" without one).
  m["apiregistration.k8s.io/apiservices"] = {
      {nameColumn(), col("Service", "string"), col("Available", "string"), ageColumn()},
      [](const json::object& o, Clock::time_point now) {
        const auto& spec = obj(o, "spec");
        std::string service = "Local";
        if (has(spec, "service"))
          service =
              str(obj(spec, "service"), "namespace") + "/" + str(obj(spec, "service"), "name");
        std::string available = "Unknown";
        for (const auto& c : arr(obj(o, "status"), "conditions")) {
          if (!c.is_object() || str(c.get_object(), "type") != "Available") continue;
          std::string status = str(c.get_object(), "status"),
                      reason = str(c.get_object(), "reason");
          available = status == "True" || reason.empty() ? status : status + " (" + reason + ")";
          break;
        }
        return json::array{str(obj(o, "metadata"), "name"), service, available, age(o, now)};
      }};
  for (const char* r : {"admissionregistration.k8s.io/validatingwebhookconfigurations",
                        "admissionregistration.k8s.io/mutatingwebhookconfigurations"}) {
    m[r] = {{nameColumn(), col("Webhooks", "integer"), ageColumn()},
            [](const json::object& o, Clock::time_point now) {
              return countCells(o, "webhooks", now);
            }};
  }
}

}  // namespace skiff::api::tables
