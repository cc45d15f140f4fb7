// Namespace (upstream pkg/registry/core/namespace): the metadata.name label, the
// "kubernetes" finalizer, a server-owned phase, deletion through spec.finalizers and the
// system namespaces that may not be deleted. Admission of content into a terminating
// namespace is in apiserver/admission.cpp.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/json_access.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

void validateNamespace(const json::object& ns, Errors& errs) {
  const auto& fin = arr(obj(ns, "spec"), "finalizers");
  for (size_t i = 0; i < fin.size(); ++i) {
    std::string f = fin[i].is_string() ? std::string(fin[i].get_string()) : "";
    for (const auto& m : validateQualifiedName(f))
      errs.invalid(index("spec.finalizers", i), quote(f), m);
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

namespace {
void defaultNamespace(json::object& obj) {
  using namespace defaulting;
  // The kubernetes.io/metadata.name label always mirrors the name (upstream overwrites it).
  json::object& meta = ensureObject(obj, "metadata");
  if (!str(meta, "name").empty())
    ensureObject(meta, "labels")["kubernetes.io/metadata.name"] = str(meta, "name");
  json::object& spec = ensureObject(obj, "spec");
  setDefault(spec, "finalizers", json::array{"kubernetes"});
  setDefaultString(ensureObject(obj, "status"), "phase", "Active");
}

// True while a namespace still lists spec.finalizers (the namespace controller's "kubernetes").
bool hasNamespaceFinalizers(const json::object& ns) {
  const json::array* finalizers = arrayAt(ns, {"spec", "finalizers"});
  return finalizers && !finalizers->empty();
}

void prepareNamespaceForUpdate(json::object& obj, const json::object& old) {
  // A namespace's phase is owned by the server, and its spec.finalizers change only
  // through /finalize: keep both across ordinary updates.
  if (const json::value* status = old.if_contains("status")) obj["status"] = *status;
  const json::value* oldSpec = old.if_contains("spec");
  const json::value* oldFinalizers =
      oldSpec && oldSpec->is_object() ? oldSpec->as_object().if_contains("finalizers") : nullptr;
  json::value& spec = obj["spec"];
  if (!spec.is_object()) spec.emplace_object();
  if (oldFinalizers)
    spec.as_object()["finalizers"] = *oldFinalizers;
  else
    spec.as_object().erase("finalizers");
}

// Namespaces terminate through their finalizer (the namespace controller).
bool prepareNamespaceForDelete(json::object& obj) {
  if (!hasNamespaceFinalizers(obj)) return false;
  obj["status"] = json::object{{"phase", "Terminating"}};
  return true;
}
}  // namespace

void addNamespaceKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "Namespace",
                 .defaults = defaultNamespace,
                 .validate = [](const json::object& o, const json::object*,
                                validation::Errors& e) { validation::validateNamespace(o, e); },
                 .nameRule = NameRule::Label,
                 .prepareForCreate =
                     [](json::object& obj) {
                       obj["status"] = json::object{{"phase", "Active"}};
                     },
                 .prepareForUpdate = prepareNamespaceForUpdate,
                 .undeletableNames = {"default", "kube-system", "kube-public"},
                 .prepareForDelete = prepareNamespaceForDelete,
                 .holdsDeletion = hasNamespaceFinalizers,
                 .deleteVisibleInCache = true});
}

}  // namespace skiff::api
