// RestClient: typed-by-path access to the API server, like client-go's dynamic client.
//
// Objects are Boost.JSON objects. Errors: an HTTP error answer throws skiff::ApiError
// rebuilt from the server's Status (callers test e.code() == 404/409/410...); a network
// failure throws client::TransportError. A 429 with Retry-After is retried (up to 10
// times) before it surfaces, as client-go does; nothing else is retried here. Threading: every call
// is blocking and the client is thread-safe; requests share a small pool of keep-alive connections
// (http_transport.h).
#pragma once
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

#include "client/http_transport.h"
#include "client/kubeconfig.h"

namespace skiff::client {

// Group/version/resource. An empty namespace in a call means cluster-scoped resource or
// "all namespaces" for lists and watches.
struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural: "pods"

  // "/api/v1/namespaces/ns/pods/name/status" (segments omitted when empty).
  std::string path(const std::string& ns = "", const std::string& name = "",
                   const std::string& subresource = "") const;
  // "pods" or "deployments.apps", as upstream names resources in messages.
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
  bool operator==(const Resource&) const = default;
};

// Common resources, so callers do not retype group/version strings.
namespace resources {
inline const Resource pods{"", "v1", "pods"};
inline const Resource nodes{"", "v1", "nodes"};
inline const Resource namespaces{"", "v1", "namespaces"};
inline const Resource services{"", "v1", "services"};
inline const Resource endpoints{"", "v1", "endpoints"};
inline const Resource configMaps{"", "v1", "configmaps"};
inline const Resource secrets{"", "v1", "secrets"};
inline const Resource events{"", "v1", "events"};
inline const Resource serviceAccounts{"", "v1", "serviceaccounts"};
inline const Resource persistentVolumes{"", "v1", "persistentvolumes"};
inline const Resource persistentVolumeClaims{"", "v1", "persistentvolumeclaims"};
inline const Resource deployments{"apps", "v1", "deployments"};
inline const Resource replicaSets{"apps", "v1", "replicasets"};
inline const Resource daemonSets{"apps", "v1", "daemonsets"};
inline const Resource statefulSets{"apps", "v1", "statefulsets"};
inline const Resource jobs{"batch", "v1", "jobs"};
inline const Resource cronJobs{"batch", "v1", "cronjobs"};
inline const Resource leases{"coordination.k8s.io", "v1", "leases"};
inline const Resource endpointSlices{"discovery.k8s.io", "v1", "endpointslices"};
}  // namespace resources

// Query parameters of list and watch; empty/zero fields are not sent.
struct ListOptions {
  std::string labelSelector = {};
  std::string fieldSelector = {};
  std::string resourceVersion = {};
  int64_t limit = 0;
  std::string continueToken = {};
  int64_t timeoutSeconds = 0;        // watch only
  bool allowWatchBookmarks = false;  // watch only
  std::string query() const;         // "?a=b&c=d" or ""
};

enum class PatchType { Merge, StrategicMerge, Json, Apply };

class RestClient {
 public:
  explicit RestClient(ClientConfig config);
  ~RestClient();
  const ClientConfig& config() const { return config_; }

  boost::json::object get(const Resource& r, const std::string& ns, const std::string& name);
  // One page: a List object with metadata.resourceVersion and metadata.continue.
  boost::json::object list(const Resource& r, const std::string& ns,
                           const ListOptions& options = {});
  // Follows continue tokens (pageSize per request) and returns one List with all items and
  // the first page's resourceVersion (all pages are one snapshot on the server).
  boost::json::object listAll(const Resource& r, const std::string& ns, ListOptions options = {},
                              int64_t pageSize = 500);
  boost::json::object create(const Resource& r, const std::string& ns,
                             const boost::json::object& obj);
  // PUT to metadata.name of `obj` (its resourceVersion makes it a compare-and-swap).
  boost::json::object update(const Resource& r, const std::string& ns,
                             const boost::json::object& obj);
  boost::json::object updateStatus(const Resource& r, const std::string& ns,
                                   const boost::json::object& obj);
  boost::json::object patch(const Resource& r, const std::string& ns, const std::string& name,
                            PatchType type, const boost::json::value& body,
                            const std::string& subresource = "");
  // The same for a caller that only needs to know the write succeeded (status reports of
  // kubelets and hollow nodes, Lease renewals): the answer, the whole object, is not parsed.
  void patchNoResult(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const boost::json::value& body,
                     const std::string& subresource = "");
  // DELETE; returns what the server answers (the deleted object or a Status).
  boost::json::object remove(const Resource& r, const std::string& ns, const std::string& name,
                             const boost::json::object& deleteOptions = {});
  // Any other call (subresources, non-resource paths): `target` is path + query.
  boost::json::object request(const std::string& method, const std::string& target,
                              const std::string& body = "",
                              const std::string& contentType = "application/json");

  // request() without parsing the answer; errors are thrown as by request().
  void send(const std::string& method, const std::string& target, const std::string& body = "",
            const std::string& contentType = "application/json");

  HttpTransport& transport() { return *transport_; }

 private:
  // One request with client-go's 429 Retry-After handling; throws on a non-2xx answer.
  HttpResult exchange(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& contentType);
  ClientConfig config_;
  std::unique_ptr<HttpTransport> transport_;
};

// Rebuilds the ApiError a server answer describes (Status body when there is one).
[[noreturn]] void throwApiError(const HttpResult& result, const std::string& what);

// "namespace/name" or "name" for cluster-scoped objects: the key of stores and queues.
std::string objectKey(const boost::json::object& obj);
// metadata.<field> as a string, "" when absent.
std::string metaString(const boost::json::object& obj, const char* field);

}  // namespace skiff::client
