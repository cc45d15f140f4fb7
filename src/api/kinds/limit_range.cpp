// LimitRange (upstream pkg/registry/core/limitrange): container defaults from max and min.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultLimitRange(json::object& lr) {
  forEachObject(ensureObject(lr, "spec"), "limits", [](json::object& item) {
    if (str(item, "type") != "Container") return;
    // Work on copies and write back: inserts into `item` relocate its members.
    json::object def =
        childObject(item, "default") ? *childObject(item, "default") : json::object{};
    json::object defReq =
        childObject(item, "defaultRequest") ? *childObject(item, "defaultRequest") : json::object{};
    json::object max = childObject(item, "max") ? *childObject(item, "max") : json::object{};
    json::object min = childObject(item, "min") ? *childObject(item, "min") : json::object{};
    for (const auto& kv : max)
      if (!def.contains(kv.key())) def[kv.key()] = kv.value();
    for (const auto& kv : def) {
      if (defReq.contains(kv.key())) continue;
      defReq[kv.key()] = min.contains(kv.key()) ? min[kv.key()] : kv.value();
    }
    item["default"] = std::move(def);
    item["defaultRequest"] = std::move(defReq);
  });
}

}  // namespace
}  // namespace defaulting

namespace json = boost::json;

void addLimitRangeKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "", .kind = "LimitRange", .defaults = defaulting::defaultLimitRange});
}

}  // namespace skiff::api
