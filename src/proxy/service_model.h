// What the proxy programs, as plain data: every (Service, port) pair with the endpoints
// traffic to it may reach (upstream's ServicePortName + its endpoints), computed from
// Service and EndpointSlice JSON. Pure: the rule renderer (nft_rules.h) turns this into
// nftables text, and unit tests build it from literal JSON.
#pragma once
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

namespace skiff::proxy {

struct ProxyConfig {
  std::string nodeName;
  std::string clusterCidr = "10.42.0.0/16";  // pod range: traffic from outside it is SNATed
  std::string serviceCidr = "10.43.0.0/16";  // unallocated addresses in it are rejected
  // kube-system/kube-dns is sent here (same ports) on every node, whatever its endpoints.
  std::string nodeLocalDns = "169.254.20.10";
};

struct Endpoint {
  std::string ip;
  int port = 0;
  bool ready = false, serving = false, terminating = false;
  bool local = false;   // on this node (endpoints[].nodeName)
  bool remote = false;  // on another node (nodeName set and not this one)
  bool operator==(const Endpoint&) const = default;
};

struct ServicePort {
  std::string ns, name, portName;
  std::string protocol;  // nft's spelling: "tcp", "udp", "sctp"
  int port = 0, nodePort = 0, healthCheckNodePort = 0;
  std::string clusterIp;                 // IPv4 or empty (headless / ExternalName skipped)
  std::vector<std::string> externalIps;  // spec.externalIPs + status.loadBalancer.ingress[].ip
  bool externalLocal = false;            // externalTrafficPolicy: Local
  bool internalLocal = false;            // internalTrafficPolicy: Local
  int affinitySeconds = 0;               // sessionAffinity ClientIP timeout; 0: none
  bool noMasquerade = false;             // node-local DNS: the target is this node itself
  // Endpoints for cluster-wide traffic (ready ones; else serving+terminating ones) and the
  // subset on this node (same fallback rule applied to the local ones alone), sorted.
  std::vector<Endpoint> clusterEndpoints, localEndpoints;

  // "ns/name/tcp/portname": upstream's chain-name suffix and the key of everything else.
  std::string id() const;
  bool operator==(const ServicePort&) const = default;
};

using ObjectList = std::vector<std::shared_ptr<const boost::json::object>>;

// Every programmable (Service, port), sorted by id(). EndpointSlices are matched by the
// kubernetes.io/service-name label and namespace, ports by name and protocol; only IPv4.
std::vector<ServicePort> buildServicePorts(const ObjectList& services, const ObjectList& slices,
                                           const ProxyConfig& config);

// Endpoint selection of upstream's topology/terminating rules: ready endpoints; when none,
// the serving+terminating ones (so a rolling update does not drop traffic).
std::vector<Endpoint> usableEndpoints(const std::vector<Endpoint>& all);

}  // namespace skiff::proxy
