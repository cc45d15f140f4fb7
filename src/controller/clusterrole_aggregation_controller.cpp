// ClusterRole aggregation (upstream's clusterrole-aggregation controller): a ClusterRole
// with an aggregationRule gets, as its rules, the union of the rules of every other
// ClusterRole its selectors match — selectors in order, matched roles by name, each rule
// once. That is how admin, edit and view grow when a ClusterRole labelled
// rbac.authorization.k8s.io/aggregate-to-view (…) appears. Any ClusterRole change requeues
// every aggregated role (a handful), as upstream does.
#include <algorithm>

#include "api/label_selector.h"
#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

const client::Resource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};

const json::array* selectorsOf(const json::object& role) {
  return arrayAt(role, {"aggregationRule", "clusterRoleSelectors"});
}

class ClusterRoleAggregationController : public QueueController {
 public:
  explicit ClusterRoleAggregationController(ControllerContext& ctx)
      : QueueController(ctx, "clusterrole-aggregation", "clusterrole-aggregation-controller"),
        roles_(ctx.informers.informer(kClusterRoles)) {
    auto requeueAggregated = [this](const json::object&) {
      for (const auto& role : roles_.list())
        if (selectorsOf(*role)) enqueue(*role);
    };
    roles_.addEventHandler({
        .onAdd = requeueAggregated,
        .onUpdate = [requeueAggregated](const json::object&,
                                        const json::object& r) { requeueAggregated(r); },
        .onDelete = requeueAggregated,
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto role = roles_.get(key);
    if (!role) return;
    const json::array* selectors = selectorsOf(*role);
    if (!selectors) return;
    const std::string self = stringAt(*role, {"metadata", "name"});
    auto all = roles_.list();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return stringAt(*a, {"metadata", "name"}) < stringAt(*b, {"metadata", "name"});
    });
    json::array rules;
    for (const auto& selectorJson : *selectors) {
      auto selector = api::LabelSelector::fromJson(selectorJson);
      for (const auto& other : all) {
        if (stringAt(*other, {"metadata", "name"}) == self) continue;
        if (!selector.matches(objectAt(*other, {"metadata", "labels"}))) continue;
        for (const auto& rule : api::arrayOrEmpty(*other, {"rules"}))
          if (std::find(rules.begin(), rules.end(), rule) == rules.end()) rules.push_back(rule);
      }
    }
    if (rules == api::arrayOrEmpty(*role, {"rules"})) return;
    // A merge patch replaces the whole list, and names the version it read, so a role
    // changed meanwhile is recomputed from the newer state rather than overwritten.
    json::object patch{
        {"metadata", {{"resourceVersion", stringAt(*role, {"metadata", "resourceVersion"})}}},
        {"rules", std::move(rules)}};
    try {
      client_.patch(kClusterRoles, "", self, client::PatchType::Merge, patch);
    } catch (const ApiError& e) {
      if (e.code() == 404) return;
      throw;
    }
  }

 private:
  client::SharedInformer& roles_;
};

ControllerRegistration reg("clusterrole-aggregation", [](ControllerContext& ctx) {
  return std::make_unique<ClusterRoleAggregationController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
