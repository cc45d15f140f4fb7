// ResourceDiscovery: which resources the API server serves now, as the namespace controller
// and the garbage collector need to know (upstream: ServerPreferredResources from API
// discovery). Resources appear and disappear at run time (CustomResourceDefinitions,
// aggregated APIs), so neither may work from the built-in registry alone.
//
// ServerDiscovery reads the legacy discovery documents (/api/v1, /apis, /apis/G/V) through
// the RestClient and caches the answer: a caller asking more often than `minInterval` gets
// the cached list (inside `skiff server` a refresh is ~20 in-process requests). A version
// whose document fails (an aggregated API that is down) is left out of that refresh, as
// upstream's controllers carry on with partial discovery. StaticDiscovery is for tests.
#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "client/rest_client.h"
#include "common/clock.h"

namespace skiff::controller {

struct DiscoveredResource {
  std::string group;  // "" for core
  std::string version;
  std::string resource;  // plural
  std::string kind;
  bool namespaced = true;
  std::vector<std::string> verbs;

  bool supports(std::string_view verb) const;
  client::Resource ref() const { return {group, version, resource}; }
  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // A built-in resource whose objects are stored as another one (events.k8s.io/v1 events
  // are core events): walking both would see every object twice.
  bool aliasOfAnotherResource() const;
};

class ResourceDiscovery {
 public:
  virtual ~ResourceDiscovery() = default;
  // Every served resource (no subresources) once, at the first version of its group's
  // preference order that serves it (upstream's ServerPreferredResources). Throws when
  // nothing could be discovered and nothing is cached.
  virtual std::vector<DiscoveredResource> resources() = 0;
};

class ServerDiscovery : public ResourceDiscovery {
 public:
  ServerDiscovery(client::RestClient& client,
                  std::chrono::milliseconds minInterval = std::chrono::seconds(5),
                  const Clock& clock = realClock());
  std::vector<DiscoveredResource> resources() override;

 private:
  std::vector<DiscoveredResource> discover();

  client::RestClient& client_;
  const std::chrono::milliseconds minInterval_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<DiscoveredResource> cached_;
  Clock::MonoTime refreshedAt_{};
  bool haveCache_ = false;
};

// A fixed list, set by the test (the built-in resources at their preferred versions unless set).
class StaticDiscovery : public ResourceDiscovery {
 public:
  StaticDiscovery();
  std::vector<DiscoveredResource> resources() override;
  void set(std::vector<DiscoveredResource> list);
  void add(DiscoveredResource r);
  void remove(const std::string& group, const std::string& resource);
  // resources() throws this message until cleared with "" (a server that cannot be asked).
  void failWith(std::string message);

 private:
  std::mutex mu_;
  std::vector<DiscoveredResource> list_;
  std::string failure_;
};

}  // namespace skiff::controller
