// Cluster DNS on a node: the record index fed by Service/EndpointSlice informers, the
// node-local server, and the kube-system/kube-dns Service (cluster IP 10.43.0.10, no selector)
// that pods' resolv.conf names and that the node proxy DNATs to the node-local address.
#pragma once
#include <memory>
#include <string>

#include "client/informer.h"
#include "client/rest_client.h"
#include "dns/cluster_source.h"
#include "dns/dns_server.h"
#include "dns/record_index.h"

namespace skiff::dns {

inline constexpr const char* kDefaultServiceIp = "10.43.0.10";
inline constexpr const char* kDefaultBindAddress = "169.254.20.10";

struct NodeDnsOptions {
  std::string clusterDomain = "cluster.local";
  DnsServerOptions server;
  std::string serviceIp = kDefaultServiceIp;  // "" : do not create the kube-dns Service
};

class NodeDns {
 public:
  // `shared`: informers of the process (skiff up shares the controllers'); else its own.
  NodeDns(client::RestClient& client, NodeDnsOptions options,
          client::SharedInformerFactory* shared = nullptr);
  ~NodeDns();
  // Creates the Service when absent, starts the informers, waits up to 5 s for their caches,
  // and starts the server (throws when the address cannot be bound).
  void start();
  void stop();
  const RecordIndex& index() const { return index_; }
  uint16_t port() const { return server_.port(); }
  Metrics& metrics() { return server_.metrics(); }

 private:
  client::RestClient& client_;
  NodeDnsOptions options_;
  std::unique_ptr<client::SharedInformerFactory> own_;
  client::SharedInformerFactory* informers_;
  RecordIndex index_;
  ClusterSource source_;
  DnsServer server_;
};

// kube-system/kube-dns with `ip` as cluster IP, created when absent (idempotent).
void ensureDnsService(client::RestClient& client, const std::string& ip);

}  // namespace skiff::dns
