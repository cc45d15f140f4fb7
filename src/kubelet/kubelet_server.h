// The kubelet's HTTPS server (upstream's port 10250): container logs today; exec, attach,
// port-forward and stats plug in through addRoute().
//
// TLS like an upstream kubelet without TLS bootstrap: a self-signed serving certificate made on
// first start under certDir. Every request except /healthz is authenticated and authorized by
// `auth` (kubelet_auth.h: a client certificate of the cluster CA or a bearer token checked with
// a TokenReview, then a SubjectAccessReview on nodes/<subresource>); 401 "Unauthorized" or
// 403 "Forbidden (...)" in plain text otherwise, as upstream. Without `auth` (unit tests of
// the routes) any certificate of the cluster CA is accepted and nothing else is.
//
// Endpoints:
//   GET /healthz                                       "ok", no client certificate needed
//   GET /pods                                          v1 PodList of the pods this kubelet runs
//   GET /containerLogs/{namespace}/{pod}/{container}   text/plain; query parameters as
//       upstream: follow, tailLines, sinceSeconds, sinceTime, timestamps, previous, limitBytes
//       (and stream=Stdout|Stderr|All). Always streamed (chunked); with follow, lines are sent
//       as they are written until the container stops and its log is drained.
#pragma once

#include <boost/json/array.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kubelet/kubelet_auth.h"
#include "net/http_types.h"

namespace skiff::kubelet {

// Where one container's log is.
struct LogTarget {
  // The CRI log file: <podLogsDir>/<namespace>_<podName>_<podUID>/<container>/<restartCount>.log
  std::string path;
  // Whether the container may still write to it. While following, the server calls the
  // locator again (same arguments) at the end of the file: following ends once it answers
  // not running, nothing, or another path (the container was restarted).
  bool running = false;
};

// Finds the log of `container` in pod `ns`/`pod` (`previous`: the last terminated instance).
// On failure returns nullopt and fills `httpCode` and `errorMessage` with upstream's answers,
// e.g. 404 `pod "web" not found`, 404 `container "x" not found in pod "web"`,
// 400 `container "app" in pod "web" is waiting to start: ContainerCreating`,
// 400 `previous terminated container "app" in pod "web" not found`.
// Called from the server's threads, possibly concurrently: must be thread-safe.
using LogLocator = std::function<std::optional<LogTarget>(
    const std::string& ns, const std::string& pod, const std::string& container, bool previous,
    std::string& errorMessage, int& httpCode)>;

// The pods this kubelet manages, as full v1 Pod objects (GET /pods). Thread-safe.
using PodLister = std::function<boost::json::array()>;

struct KubeletServerOptions {
  std::string listen = "0.0.0.0:10250";  // host:port ([v6]:port); port 0 picks a free port
  // Holds kubelet.crt (certificate + its issuer) and kubelet.key, created when missing.
  std::string certDir;
  // SANs of the serving certificate besides localhost and 127.0.0.1.
  std::string nodeName;
  std::vector<std::string> nodeIps;
  // The cluster CA that signs accepted client certificates: a PEM file, or the PEM itself
  // (as a kubeconfig's certificate-authority-data holds it; written to certDir/client-ca.crt).
  // With neither, no client is accepted.
  std::string clientCaFile;
  std::string clientCaPem;
  // Authentication beyond the certificate, and authorization; shared with nobody else.
  std::shared_ptr<KubeletAuth> auth;
  int threads = 2;
  // How often followed logs look for new lines (at most this many wake-ups per stream).
  std::chrono::milliseconds followPollInterval{100};
};

class KubeletServer {
 public:
  KubeletServer(KubeletServerOptions options, LogLocator logs, PodLister pods);
  ~KubeletServer();
  KubeletServer(const KubeletServer&) = delete;
  KubeletServer& operator=(const KubeletServer&) = delete;

  // Extension point for /exec, /attach, /portForward, /stats/summary...: requests whose path
  // is `pathPrefix` or below it go to `handler`, after client authentication. Call before
  // start(). Unrouted paths answer 404.
  void addRoute(std::string pathPrefix, net::HttpHandler handler);

  // Creates the serving certificate if needed, binds and serves on background threads.
  // Throws std::runtime_error on failure.
  void start();
  void stop();  // idempotent; ends streams in progress
  unsigned short port() const;
  std::string certFile() const;
  std::string keyFile() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes a serving certificate for the kubelet's names and addresses, issued by a throwaway
// CA of its own and stored with it (like upstream's self-signed kubelet certificate), unless
// both files already exist.
void ensureKubeletServingCert(const std::string& certPath, const std::string& keyPath,
                              const std::string& nodeName, const std::vector<std::string>& ips);

}  // namespace skiff::kubelet
