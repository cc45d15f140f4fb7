// HTTP/1.1 (+TLS) transport under RestClient and Watch. Internal to src/client: the only
// place that touches Asio/Beast is http_transport.cpp, so this header stays light.
//
// Threading model: every call is blocking and runs on the caller's thread. request() is
// thread-safe and reuses idle keep-alive connections from a small pool (a connection is
// owned by exactly one request at a time). stream() opens a dedicated connection for one
// long-running response (a watch) and reads it until it ends or another thread calls
// StreamAbort::abort(), which shuts the socket down to unblock the reader.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/kubeconfig.h"

namespace boost::json {
class object;
}

namespace skiff::client {

// The network failed (connect, TLS handshake, reset, malformed HTTP): no HTTP status.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpResult {
  int status = 0;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // only those callers need
};

// Lets another thread cut a stream() in progress (e.g. an informer being stopped).
class StreamAbort {
 public:
  void abort();
  bool aborted();
  // Called by the transport with the socket of the running stream (-1 when done). Returns
  // false when abort() already happened so the transport gives up at once.
  bool attach(int fd);
  // The same for a stream without a socket (LocalEndpoint): abort() calls `wake` (under this
  // object's lock, so it must not call back into it); an empty function detaches.
  bool attach(std::function<void()> wake);

 private:
  std::mutex mu_;
  int fd_ = -1;
  std::function<void()> wake_;
  bool aborted_ = false;
};

// An API server in the same process (`skiff server`): requests are calls into its handler,
// with no socket, TLS or HTTP framing, but the same routing, admission, storage and watch
// as over the network. ClientConfig::local selects it; src/cli implements it, so the
// client library stays independent of the server's.
class LocalEndpoint {
 public:
  virtual ~LocalEndpoint() = default;
  virtual HttpResult request(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& contentType) = 0;
  // As HttpTransport::stream.
  virtual HttpResult stream(const std::string& target,
                            const std::function<void(std::string_view)>& onData,
                            StreamAbort& abort) = 0;
  // A watch (`target` has watch=true, JSON) whose events arrive as the API server's own
  // immutable objects, shared, never serialized or parsed: onEvent(type, object) with type
  // ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (object: a Status). Otherwise as stream().
  using EventHandler = std::function<void(const std::string& type,
                                          std::shared_ptr<const boost::json::object> object)>;
  virtual HttpResult watch(const std::string& target, const EventHandler& onEvent,
                           StreamAbort& abort) = 0;
};

class HttpTransport {
 public:
  explicit HttpTransport(const ClientConfig& config);  // throws TransportError on a bad URL/cert
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // New connections authenticate with this certificate and key from now on (a renewed
  // kubelet client certificate); idle kept connections are dropped, open ones (watches)
  // keep theirs until they reconnect. Throws TransportError on a bad pair.
  void setClientCertificate(const std::string& certPem, const std::string& keyPem);

  // One request/response; `target` is the path + query below the server's base path.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& contentType = "");

  // GET `target` on a fresh connection. For a 2xx answer, body bytes are passed to onData
  // as they arrive and the returned body is empty; otherwise the whole body is returned.
  // Returns normally when the server ends the response or when aborted.
  HttpResult stream(const std::string& target, const std::function<void(std::string_view)>& onData,
                    StreamAbort& abort);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::client
