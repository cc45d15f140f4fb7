// Client configuration as kubectl and client-go read it from a kubeconfig file.
#pragma once
#include <memory>
#include <string>

namespace skiff::client {

class LocalEndpoint;  // http_transport.h

// Everything needed to reach and authenticate to one API server. PEM material is held in
// memory (files named by the kubeconfig are read at load time) so connections never touch
// the filesystem.
struct ClientConfig {
  std::string server;  // "https://127.0.0.1:6443" or "http://..."; may carry a path prefix
  std::string caPem;   // trusted CA bundle; empty = system trust store
  bool insecureSkipTlsVerify = false;
  std::string clientCertPem;  // x509 client auth (cert chain + key)
  std::string clientKeyPem;
  std::string token;  // bearer token
  std::string userAgent = "skiff";
  // Idle keep-alive connections kept per RestClient; requests beyond this open extra
  // connections that are closed after use. One RestClient serves all the controllers and
  // scheduler binders of a process, whose requests overlap by more than 8 under load, and
  // every connection past the pool costs a TLS handshake (client-go keeps 25 per host).
  int maxIdleConnections = 32;
  // Set by `skiff server` for its own components: requests go straight to the API server in
  // the process (http_transport.h); `server` and the credentials are then unused.
  std::shared_ptr<LocalEndpoint> local;
};

// Loads the current context of a kubeconfig (cluster + user). `context` overrides
// current-context when non-empty. Throws std::runtime_error naming the path and the
// missing or malformed field.
ClientConfig loadKubeconfig(const std::string& path, const std::string& context = "");

}  // namespace skiff::client
