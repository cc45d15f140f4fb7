#include "apiserver/endpoint_reconciler.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/log.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

// The interface /proc/net/route names for destination 0.0.0.0, or "".
std::string defaultRouteInterface() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, destination;
    fields >> iface >> destination;
    if (destination == "00000000") return iface;
  }
  return "";
}

std::string interfaceAddress(const std::string& iface) {
  ifaddrs* list = nullptr;
  if (iface.empty() || ::getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* a = list; a && out.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || iface != a->ifa_name) continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) out = buf;
  }
  ::freeifaddrs(list);
  return out;
}

json::array httpsPorts(int port) {
  return json::array{json::object{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}};
}

// Writes `desired` unless the stored object already has the same `fields`.
void ensure(ResourceStore& store, const api::ResourceInfo& info, json::object desired,
            std::initializer_list<const char*> fields) {
  RequestContext ctx;
  const std::string name = "kubernetes";
  ObjectPtr current;
  try {
    current = store.getShared(info, "default", name);
  } catch (const ApiError& e) {
    if (e.code() != 404) throw;
  }
  if (!current) {
    store.create(info, "default", std::move(desired), ctx);
    return;
  }
  bool same = true;
  for (const char* f : fields) {
    const json::value* have = current->if_contains(f);
    if (!have || *have != desired.at(f)) same = false;
  }
  if (const json::value* labels = current->at("metadata").as_object().if_contains("labels");
      !labels || *labels != desired.at("metadata").at("labels"))
    same = false;
  if (same) return;
  json::object updated = *current;
  for (const char* f : fields) updated[f] = desired.at(f);
  updated["metadata"].as_object()["labels"] = desired.at("metadata").at("labels");
  store.update(info, "default", name, "", std::move(updated), ctx);
}

}  // namespace

std::string defaultAdvertiseAddress(const std::string& listenHost) {
  if (std::string address = interfaceAddress(defaultRouteInterface()); !address.empty())
    return address;
  if (!listenHost.empty() && listenHost != "0.0.0.0" && listenHost != "::") return listenHost;
  return "127.0.0.1";
}

void reconcileKubernetesEndpoints(ResourceStore& store, const api::ResourceRegistry& registry,
                                  const std::string& address, int port) {
  // The Service exists since bootstrap; its target port follows the port actually served.
  const api::ResourceInfo* services = registry.find("", "v1", "services");
  json::object service = *store.getShared(*services, "default", "kubernetes");
  json::value* ports = service["spec"].as_object().if_contains("ports");
  if (ports && ports->is_array() && !ports->as_array().empty()) {
    json::object& first = ports->as_array().front().as_object();
    const json::value* target = first.if_contains("targetPort");
    if (!target || *target != json::value(port)) {
      first["targetPort"] = port;
      RequestContext ctx;
      store.update(*services, "default", "kubernetes", "", std::move(service), ctx);
    }
  }

  // Endpoints: upstream labels them so the mirroring controller leaves them alone.
  json::object endpoints{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       json::object{{"name", "kubernetes"},
                    {"namespace", "default"},
                    {"labels", json::object{{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
      {"subsets",
       json::array{json::object{{"addresses", json::array{json::object{{"ip", address}}}},
                                {"ports", httpsPorts(port)}}}}};
  ensure(store, *registry.find("", "v1", "endpoints"), std::move(endpoints), {"subsets"});

  const bool v6 = address.find(':') != std::string::npos;
  json::object slice{
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata",
       json::object{{"name", "kubernetes"},
                    {"namespace", "default"},
                    {"labels", json::object{{"kubernetes.io/service-name", "kubernetes"}}}}},
      {"addressType", v6 ? "IPv6" : "IPv4"},
      {"endpoints", json::array{json::object{{"addresses", json::array{json::value(address)}},
                                             {"conditions", json::object{{"ready", true}}}}}},
      {"ports", httpsPorts(port)}};
  ensure(store, *registry.find("discovery.k8s.io", "v1", "endpointslices"), std::move(slice),
         {"addressType", "endpoints", "ports"});
  SKIFF_LOG_INFO("apiserver kubernetes service endpoints address={} port={}", address, port);
}

}  // namespace skiff::apiserver
