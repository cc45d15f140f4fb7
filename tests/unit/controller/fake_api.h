// FakeApi: an API server stand-in for controller unit tests (upstream's fake clientset with
// its object tracker). A RestClient whose ClientConfig::local is a FakeApi sends every
// request here instead of to a server: the request is recorded as an Action and answered
// from an in-memory object tracker, so a test asserts on what a controller wrote.
//
// - create/update/patch/delete change the tracker (create fills uid, resourceVersion,
//   creationTimestamp and a generateName suffix; delete of an object with finalizers only
//   sets its deletionTimestamp, as the real server does); get/list read it.
// - fail() makes the next matching calls answer with an error (a conflict, a 500, ...).
// - observer, when set, sees every change (ControllerTestEnv uses it to feed the change
//   back into the informers, as a watch would).
// No admission, validation, defaulting or field selectors: it is not a server.
#pragma once
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/http_transport.h"
#include "common/clock.h"

namespace skiff::controller::testing {

// One request the fake received.
struct Action {
  std::string verb;         // get, list, create, update, patch, delete, deletecollection
  std::string group;        // "" for core
  std::string resource;     // plural: "pods"
  std::string subresource;  // "status", "scale", ... or ""
  std::string ns;
  std::string name;         // for create: the name the object got
  std::string patchType;    // merge, strategic, json (patch only)
  boost::json::value body;  // the object written, or the patch; null for reads and deletes

  const boost::json::object& object() const { return body.as_object(); }
  // "create pods", "patch pods/status", "delete jobs": short text for assertions.
  std::string summary() const;
};

class FakeApi : public client::LocalEndpoint {
 public:
  explicit FakeApi(const Clock& clock = realClock()) : clock_(clock) {}

  // --- the tracker
  // Puts `obj` into the tracker as is (apiVersion decides the group; uid and
  // resourceVersion are filled when missing).
  void seed(const std::string& resource, boost::json::object obj);
  void erase(const std::string& resource, const std::string& ns, const std::string& name);
  std::optional<boost::json::object> object(const std::string& resource, const std::string& ns,
                                            const std::string& name) const;
  std::vector<boost::json::object> objects(const std::string& resource,
                                           const std::string& ns = "") const;

  // --- what was asked
  std::vector<Action> actions() const;
  // Creates, updates, patches and deletes, without Events (the recorder writes those
  // asynchronously) and without reads.
  std::vector<Action> writes() const;
  // writes() as summaries: {"create pods", "update replicasets/status"}.
  std::vector<std::string> writeSummaries() const;
  // The Events created (reason fields), for tests about them.
  std::vector<std::string> eventReasons() const;
  void clearActions();

  // The next `times` calls with this verb on this resource ("pods", or "pods/status" for a
  // subresource; "*" matches any) answer `code` with `reason` (times < 0: every call).
  void fail(const std::string& verb, const std::string& resource, int code,
            const std::string& reason = "", int times = 1);

  // Sees each change: type ADDED, MODIFIED or DELETED, and the object after it.
  std::function<void(const std::string& group, const std::string& resource, const std::string& type,
                     const boost::json::object& obj)>
      observer;

  // --- LocalEndpoint
  client::HttpResult request(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& contentType) override;
  client::HttpResult stream(const std::string& target,
                            const std::function<void(std::string_view)>& onData,
                            client::StreamAbort& abort) override;
  client::HttpResult watch(const std::string& target, const EventHandler& onEvent,
                           client::StreamAbort& abort) override;

 private:
  struct Failure {
    std::string verb, resource;
    int code;
    std::string reason;
    int times;
  };
  using Objects = std::map<std::string, boost::json::object>;  // "ns/name" -> object

  client::HttpResult handle(Action& a, const std::string& contentType,
                            std::vector<std::pair<std::string, boost::json::object>>& changes);
  std::optional<client::HttpResult> injectedFailure(const Action& a);
  void stamp(boost::json::object& obj);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Objects> objects_;  // resource plural -> objects
  std::vector<Action> actions_;
  std::vector<Failure> failures_;
  int64_t resourceVersion_ = 100;
  int64_t nameCounter_ = 0;
};

}  // namespace skiff::controller::testing
