// Event (upstream pkg/registry/core/event): the involved object's namespace and the type.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

void validateEvent(const json::object& ev, Errors& errs) {
  const auto& io = obj(ev, "involvedObject");
  std::string ns = str(obj(ev, "metadata"), "namespace");
  std::string ioNs = str(io, "namespace");
  if (!ioNs.empty() && !ns.empty() && ioNs != ns)
    errs.invalid("involvedObject.namespace", quote(ioNs), "does not match event.namespace");
  std::string type = str(ev, "type");
  if (!type.empty() && type != "Normal" && type != "Warning")
    errs.notSupported("type", quote(type), {"Normal", "Warning"});
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addEventKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "Event",
                 .validate = [](const json::object& o, const json::object*, validation::Errors& e) {
                   validation::validateEvent(o, e);
                 }});
}

}  // namespace skiff::api
