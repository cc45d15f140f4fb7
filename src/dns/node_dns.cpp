#include "dns/node_dns.h"

#include <boost/json.hpp>

#include "common/api_error.h"
#include "common/log.h"

namespace json = boost::json;

namespace skiff::dns {

void ensureDnsService(client::RestClient& client, const std::string& ip) {
  // Upstream's kube-dns Service, without a selector: no DNS pods back it, every node
  // answers on its own node-local address.
  json::object svc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", "kube-dns"},
        {"namespace", "kube-system"},
        {"labels", {{"k8s-app", "kube-dns"}, {"kubernetes.io/name", "CoreDNS"}}}}},
      {"spec",
       {{"clusterIP", ip},
        {"ports",
         json::array{json::object{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                     json::object{{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}},
                     json::object{{"name", "metrics"}, {"port", 9153}, {"protocol", "TCP"}}}}}}};
  try {
    client.create(client::resources::services, "kube-system", svc);
    SKIFF_LOG_INFO("dns: created Service kube-system/kube-dns clusterIP={}", ip);
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;  // AlreadyExists: another node or an earlier start made it
  }
}

NodeDns::NodeDns(client::RestClient& client, NodeDnsOptions options,
                 client::SharedInformerFactory* shared)
    : client_(client),
      options_(std::move(options)),
      own_(shared ? nullptr : std::make_unique<client::SharedInformerFactory>(client)),
      informers_(shared ? shared : own_.get()),
      index_(options_.clusterDomain),
      source_(index_),
      server_(index_, options_.server) {}

NodeDns::~NodeDns() { stop(); }

void NodeDns::start() {
  if (!options_.serviceIp.empty()) {
    try {
      ensureDnsService(client_, options_.serviceIp);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("dns: cannot create Service kube-system/kube-dns error=\"{}\"", e.what());
    }
  }
  source_.attach(*informers_);
  informers_->start();
  // As CoreDNS's kubernetes plugin: wait (briefly) for the caches before answering, so the
  // first queries do not get NXDOMAIN (cached by clients) for names that exist.
  if (!source_.waitForSync(std::chrono::seconds(5)))
    SKIFF_LOG_WARN("dns: Services/EndpointSlices not synced after 5s; serving what is known");
  server_.start();
}

void NodeDns::stop() {
  server_.stop();
  if (own_) own_->stop();
}

}  // namespace skiff::dns
