// Plain request/response types shared by the HTTP server and the handlers. Deliberately
// free of Asio/Beast so that handler code compiles fast.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace boost::json {
class object;
}
namespace skiff {
class ApiError;
}

namespace skiff::net {

// Who the client is (upstream's user.Info). The TLS layer fills user/groups from a verified
// client certificate (CN, O entries); the API server's authentication then settles the
// request's identity (certificate, bearer token, impersonation or system:anonymous) and
// writes it back into the request, so every handler after it reads the authenticated user.
struct ClientIdentity {
  std::string user;                 // certificate CN, token's subject, system:anonymous
  std::vector<std::string> groups;  // certificate O entries, token's groups
  std::string uid;
  std::map<std::string, std::vector<std::string>> extra;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/api/v1/pods?limit=500"
  std::string path;    // percent-decoded path without the query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // lower-case names; repeats joined by ", "
  std::string body;
  std::string remoteAddress;
  std::string localAddress;  // "ip:port" the connection came in on (servers with many listeners)
  // Who is asking; null while nobody knows (no client certificate, not authenticated yet).
  // Shared and immutable, never copied per request: one identity serves all requests of a
  // certificate's connection, or of a cached token.
  std::shared_ptr<const ClientIdentity> client;

  // *client, or an identity without a user when there is none.
  const ClientIdentity& identity() const {
    static const ClientIdentity kNobody;
    return client ? *client : kNobody;
  }

  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
  std::optional<std::string> param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  // A query boolean as upstream decodes it: present means true unless "0" or "false".
  bool flag(const std::string& name) const {
    auto v = param(name);
    if (!v) return false;
    std::string lower = *v;
    for (auto& c : lower)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lower != "0" && lower != "false";
  }
  std::string paramOr(const std::string& name, const std::string& fallback) const {
    auto it = query.find(name);
    return it == query.end() ? fallback : it->second;
  }
};

// Fills path (percent-decoded) and query from target. False when target is not an
// origin-form target ("/path?query").
bool parseTarget(HttpRequest& req);

// One watch event as the object it carries, for a consumer in the same process.
struct StreamEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR (object: a Status)
  std::shared_ptr<const boost::json::object> object;
};

// A response body produced over time (watch streams). The HTTP layer sends each chunk as
// it becomes available, using chunked transfer encoding.
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // Called once, before anything else. `wake` is thread-safe and tells the connection that
  // new chunks (or the end) are available.
  virtual void start(std::function<void()> wake) = 0;
  // Moves ready chunks into `out`. Returns false once the stream has ended (after moving
  // its last chunks).
  virtual bool drain(std::vector<std::string>& out) = 0;
  // The client went away or the deadline passed; release resources. Idempotent.
  virtual void cancel() = 0;
  // Watches can hand their events over as shared objects instead of text (no serializing,
  // no parsing): for a client in the same process. drainEvents is drain() for such a
  // consumer; a stream uses one of the two, never both.
  virtual bool supportsEvents() const { return false; }
  virtual bool drainEvents(std::vector<StreamEvent>& out) {
    (void)out;
    return false;
  }
  // When the connection should end the stream on its own (watch timeoutSeconds).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // While idle, drain at least this often (a watch with bookmarks makes one when it has been
  // quiet for a while); zero: only when woken.
  std::chrono::milliseconds idleDrain{0};
  // When a connection waiting for this stream should look again.
  std::chrono::steady_clock::time_point nextLook() const {
    if (idleDrain.count() <= 0) return deadline;
    return std::min(deadline, std::chrono::steady_clock::now() + idleDrain);
  }
};

// A connection handed over after "101 Switching Protocols" (WebSocket, SPDY): plain blocking
// byte I/O, so protocol code (kubelet streaming, the API server's tunnel to kubelets) needs
// no Asio. One thread may read while another writes; each call throws std::runtime_error on
// a transport failure.
class UpgradedConnection {
 public:
  virtual ~UpgradedConnection() = default;
  // Blocks until at least one byte arrives; returns how many were read, 0 at end of stream.
  virtual size_t read(char* buf, size_t max) = 0;
  // Writes all `n` bytes.
  virtual void write(const char* data, size_t n) = 0;
  // Half-close: the peer reads end of stream, reading continues.
  virtual void shutdownWrite() = 0;
  // Ends the connection; a blocked read returns 0. Idempotent.
  virtual void close() = 0;
};
using UpgradedConnectionPtr = std::unique_ptr<UpgradedConnection>;
// Runs the protocol on the taken-over connection; called on a thread of its own and may
// block as long as the session lasts. The connection closes when it returns.
using UpgradeHandler = std::function<void(UpgradedConnectionPtr)>;

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body is an API object (object, list, Status, discovery document) in compact JSON:
  // finishApiObject ends it with a newline as upstream's encoder does, or indents it for
  // ?pretty=true, and gzips it when it is large and the client accepts gzip.
  bool apiObject = false;
  std::shared_ptr<StreamSource> stream;  // set for streaming responses; body is then ignored
  // Set with status 101 (and the protocol's headers): once the 101 is written, the connection
  // — including any bytes the client sent after its request — goes to `upgrade`.
  UpgradeHandler upgrade;
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

// Upstream's response writer for API objects (see HttpResponse::apiObject). Responses
// larger than this are gzipped for a client that sends Accept-Encoding: gzip.
constexpr size_t kGzipThresholdBytes = 128 * 1024;
void finishApiObject(const HttpRequest& req, HttpResponse& res);

// An error's Status as the response body, finished like any API object (`req` may be null
// when the request could not be read).
HttpResponse statusResponse(const ApiError& error, const HttpRequest* req);

}  // namespace skiff::net

// The API server's code names the HTTP layer's types unqualified.
namespace skiff::apiserver {
using namespace skiff::net;  // NOLINT(google-build-using-namespace)
}  // namespace skiff::apiserver
