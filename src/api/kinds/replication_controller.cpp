// ReplicationController (upstream pkg/registry/core/replicationcontroller): defaulting
// (selector and labels from the template), validation, and the v1 orphaning default on delete.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultReplicationController(json::object& rc) {
  json::object& spec = ensureObject(rc, "spec");
  json::value tmplLabels;  // copied: the inserts below may relocate the template
  if (auto* tmpl = childObject(spec, "template")) {
    applyPodSpecDefaults(ensureObject(*tmpl, "spec"));
    if (auto* tmeta = childObject(*tmpl, "metadata"); tmeta && childObject(*tmeta, "labels"))
      tmplLabels = (*tmeta)["labels"];
  }
  setDefault(spec, "replicas", 1);
  if (tmplLabels.is_object() && emptyMapOrMissing(spec, "selector")) spec["selector"] = tmplLabels;
  json::object& meta = ensureObject(rc, "metadata");  // spec may dangle from here on
  if (tmplLabels.is_object() && emptyMapOrMissing(meta, "labels")) meta["labels"] = tmplLabels;
}

}  // namespace
}  // namespace defaulting

namespace json = boost::json;

namespace validation {
namespace {
void validateReplicationController(const json::object& o, const json::object*, Errors& errs) {
  const auto& spec = obj(o, "spec");
  validateNonnegative(spec, "replicas", "spec", errs);
  const auto& selector = obj(spec, "selector");
  if (selector.empty())
    errs.required("spec.selector");
  else
    validateLabels(selector, "spec.selector", errs);
  const auto& labels = obj(obj(obj(spec, "template"), "metadata"), "labels");
  if (!has(spec, "template")) {
    errs.required("spec.template");
  } else {
    for (const auto& kv : selector) {
      auto it = labels.find(kv.key());
      if (it == labels.end() || it->value() != kv.value()) {
        errs.invalid("spec.template.metadata.labels", goMap(labels),
                     "`selector` does not match template `labels`");
        break;
      }
    }
    validatePodSpec(obj(obj(spec, "template"), "spec"), "spec.template.spec", errs);
  }
}
}  // namespace
}  // namespace validation

void addReplicationControllerKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "ReplicationController",
                 .defaults = defaulting::defaultReplicationController,
                 .validate = validation::validateReplicationController,
                 .orphansByDefault = true});
}

}  // namespace skiff::api
