// Endpoints and EndpointSlice (upstream pkg/registry/core/endpoint, discovery/endpointslice):
// port protocols default to TCP.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace json = boost::json;

namespace {
void defaultEndpoints(json::object& obj) {
  using namespace defaulting;
  forEachObject(obj, "subsets", [](json::object& ss) {
    forEachObject(ss, "ports", [](json::object& p) { setDefaultString(p, "protocol", "TCP"); });
  });
}

void defaultEndpointSlice(json::object& obj) {
  using namespace defaulting;
  forEachObject(obj, "ports", [](json::object& p) {
    setDefault(p, "name", "");
    setDefaultString(p, "protocol", "TCP");
  });
}
}  // namespace

void addEndpointsKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "", .kind = "Endpoints", .defaults = defaultEndpoints});
  out.push_back(
      {.group = "discovery.k8s.io", .kind = "EndpointSlice", .defaults = defaultEndpointSlice});
}

}  // namespace skiff::api
