// CustomResourceDefinition (upstream pkg/registry/apiextensions): v1 defaults, the cleanup
// finalizer on DELETE, and validation (upstream's apiextensions validation, the rules users
// meet most): the name is "<plural>.<group>", names are DNS labels, exactly one storage
// version, every version has a structural schema (a type everywhere, "object" at the root),
// printer columns and scale paths are well formed, scope is immutable. CEL rules
// (x-kubernetes-validations) must compile in skiff's CEL subset; a rule beyond it is refused
// with a message naming what is not supported, never ignored.
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>

#include "api/cel.h"
#include "api/custom_resource.h"
#include "api/json_access.h"
#include "api/jsonpath.h"
#include "api/kind_strategy.h"
#include "api/validation_internal.h"
#include "common/ids.h"

namespace skiff::api::validation {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void dns1035(const std::string& value, const std::string& path, Errors& errs) {
  for (const auto& m : validateDns1035Label(value)) errs.invalid(path, quote(value), m);
}

// Structural schema rules, applied to every node: a type is given unless the node preserves
// unknown fields or is an int-or-string; CEL rules are refused.
void validateSchemaNode(const json::object& s, const std::string& path, bool root, Errors& errs) {
  const std::string type = str(s, "type");
  const bool preserve = s.contains("x-kubernetes-preserve-unknown-fields");
  const bool intOrString = s.contains("x-kubernetes-int-or-string");
  if (root) {
    if (type.empty())
      errs.required(path + ".type", "must not be empty at the root");
    else if (type != "object")
      errs.invalid(path + ".type", quote(type), "must be object at the root");
  } else if (type.empty() && !preserve && !intOrString) {
    errs.required(path + ".type", "must not be empty for specified object fields");
  }
  if (!type.empty() && type != "object" && type != "array" && type != "string" &&
      type != "integer" && type != "number" && type != "boolean")
    errs.notSupported(path + ".type", quote(type),
                      {"array", "boolean", "integer", "number", "object", "string"});
  const auto& rules = arr(s, "x-kubernetes-validations");
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!rules[i].is_object()) continue;
    const auto& r = rules[i].as_object();
    const std::string p = index(path + ".x-kubernetes-validations", i);
    if (r.contains("messageExpression"))
      errs.forbidden(p + ".messageExpression",
                     "messageExpression is not supported by this server (skiff)");
    const std::string rule = str(r, "rule");
    if (rule.empty()) {
      errs.required(p + ".rule");
      continue;
    }
    try {
      cel::Program::compile(rule);
    } catch (const std::invalid_argument& e) {
      // The CEL subset skiff evaluates (api/cel.h): anything beyond it is refused by name.
      errs.invalid(p + ".rule", quote(rule), std::string("compilation failed: ") + e.what());
    }
  }
  if (const json::object* props = objPtr(s, "properties")) {
    if (type == "array") errs.forbidden(path + ".properties", "must not be specified for arrays");
    for (const auto& [name, sub] : *props) {
      const std::string p = path + ".properties[" + std::string(name) + "]";
      if (sub.is_object()) validateSchemaNode(sub.as_object(), p, false, errs);
      if (root && name == "metadata" && sub.is_object()) {
        // Only name and generateName may be constrained, and only as strings.
        for (const auto& [field, v] : obj(sub.as_object(), "properties"))
          if (field != "name" && field != "generateName")
            errs.forbidden(p + ".properties[" + std::string(field) + "]",
                           "must not be specified at the root (only name and generateName)");
      }
    }
  }
  if (const json::value* items = s.if_contains("items")) {
    if (items->is_object())
      validateSchemaNode(items->as_object(), path + ".items", false, errs);
    else
      errs.forbidden(path + ".items", "items must be a schema object and not an array");
  } else if (type == "array") {
    errs.required(path + ".items", "must be specified");
  }
  if (const json::value* ap = s.if_contains("additionalProperties"); ap && ap->is_object()) {
    if (s.contains("properties"))
      errs.forbidden(path + ".additionalProperties",
                     "additionalProperties and properties are mutual exclusive");
    validateSchemaNode(ap->as_object(), path + ".additionalProperties", false, errs);
  }
  if (const json::value* pattern = s.if_contains("pattern"); pattern && pattern->is_string()) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    re2::RE2 re(std::string(pattern->as_string()), options);
    if (!re.ok())
      errs.invalid(path + ".pattern", quote(pattern->as_string()),
                   "must be a valid regular expression: " + re.error());
  }
  const std::string listType = str(s, "x-kubernetes-list-type");
  if (!listType.empty() && listType != "atomic" && listType != "set" && listType != "map")
    errs.notSupported(path + ".x-kubernetes-list-type", quote(listType), {"atomic", "set", "map"});
  if (listType == "map" && arr(s, "x-kubernetes-list-map-keys").empty())
    errs.required(path + ".x-kubernetes-list-map-keys",
                  "must not be empty if x-kubernetes-list-type is map");
}

void validateColumns(const json::array& columns, const std::string& path, Errors& errs) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!columns[i].is_object()) continue;
    const auto& c = columns[i].as_object();
    const std::string p = index(path, i);
    if (str(c, "name").empty()) errs.required(p + ".name");
    const std::string type = str(c, "type");
    if (type.empty())
      errs.required(p + ".type");
    else if (type != "integer" && type != "number" && type != "string" && type != "boolean" &&
             type != "date")
      errs.notSupported(p + ".type", quote(type),
                        {"integer", "number", "string", "boolean", "date"});
    const std::string jsonPath = str(c, "jsonPath");
    if (jsonPath.empty())
      errs.required(p + ".jsonPath");
    else if (!JsonPath::parse(jsonPath))
      errs.invalid(p + ".jsonPath", quote(jsonPath), "must be a valid JSON path");
  }
}

void validateScale(const json::object& scale, const std::string& path, Errors& errs) {
  auto simplePath = [&](const std::string& field, const std::string& value, const char* prefix) {
    auto parsed = JsonPath::parse(value);
    if (!parsed || !parsed->fields() || !value.starts_with(".")) {
      errs.invalid(path + "." + field, quote(value), "must be a simple json path");
    } else if (!std::string_view(value).starts_with(prefix)) {
      errs.invalid(path + "." + field, quote(value),
                   std::string("should be a json path under ") + prefix);
    }
  };
  const std::string spec = str(scale, "specReplicasPath");
  if (spec.empty())
    errs.required(path + ".specReplicasPath");
  else
    simplePath("specReplicasPath", spec, ".spec.");
  const std::string status = str(scale, "statusReplicasPath");
  if (status.empty())
    errs.required(path + ".statusReplicasPath");
  else
    simplePath("statusReplicasPath", status, ".status.");
  const std::string selector = str(scale, "labelSelectorPath");
  if (!selector.empty() && !selector.starts_with(".spec.") && !selector.starts_with(".status."))
    errs.invalid(path + ".labelSelectorPath", quote(selector),
                 "should be a json path under either .spec or .status");
}

void validateVersions(const json::array& versions, Errors& errs) {
  if (versions.empty()) {
    errs.required("spec.versions", "must have exactly one version marked as storage version");
    return;
  }
  int storage = 0;
  std::set<std::string> names;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (!versions[i].is_object()) continue;
    const auto& v = versions[i].as_object();
    const std::string p = index("spec.versions", i);
    const std::string name = str(v, "name");
    if (name.empty())
      errs.required(p + ".name");
    else
      dns1035(name, p + ".name", errs);
    if (!name.empty() && !names.insert(name).second) errs.duplicate(p + ".name", quote(name));
    if (const json::value* s = v.if_contains("storage"); s && s->is_bool() && s->as_bool())
      ++storage;
    const json::object* schema = objPtr(obj(v, "schema"), "openAPIV3Schema");
    if (!schema)
      errs.required(p + ".schema.openAPIV3Schema", "schemas are required");
    else
      validateSchemaNode(*schema, p + ".schema.openAPIV3Schema", true, errs);
    validateColumns(arr(v, "additionalPrinterColumns"), p + ".additionalPrinterColumns", errs);
    if (const json::object* scale = objPtr(obj(v, "subresources"), "scale"))
      validateScale(*scale, p + ".subresources.scale", errs);
  }
  if (storage != 1)
    errs.invalid("spec.versions", std::to_string(storage) + " storage versions",
                 "must have exactly one version marked as storage version");
}

}  // namespace

void validateCrd(const json::object& o, const json::object* old, Errors& errs) {
  const auto& spec = obj(o, "spec");
  const auto& names = obj(spec, "names");
  const std::string g = str(spec, "group"), plural = str(names, "plural");
  const std::string name = str(obj(o, "metadata"), "name");
  if (!name.empty() && name != plural + "." + g)
    errs.invalid("metadata.name", quote(name), "must be spec.names.plural+\".\"+spec.group");
  if (g.empty()) {
    errs.required("spec.group");
  } else {
    for (const auto& m : validateDns1123Subdomain(g)) errs.invalid("spec.group", quote(g), m);
    if (g.find('.') == std::string::npos)
      errs.invalid("spec.group", quote(g), "should be a domain with at least one dot");
  }
  const std::string scope = str(spec, "scope");
  if (scope.empty())
    errs.required("spec.scope");
  else if (scope != "Cluster" && scope != "Namespaced")
    errs.notSupported("spec.scope", quote(scope), {"Cluster", "Namespaced"});
  if (plural.empty())
    errs.required("spec.names.plural");
  else
    dns1035(plural, "spec.names.plural", errs);
  if (const std::string singular = str(names, "singular"); !singular.empty())
    dns1035(singular, "spec.names.singular", errs);
  const std::string kindName = str(names, "kind"), listKind = str(names, "listKind");
  if (kindName.empty())
    errs.required("spec.names.kind");
  else
    dns1035(lower(kindName), "spec.names.kind", errs);
  if (!listKind.empty()) dns1035(lower(listKind), "spec.names.listKind", errs);
  if (!kindName.empty() && kindName == listKind)
    errs.invalid("spec.names.listKind", quote(listKind), "kind and listKind may not be the same");
  for (const auto& s : arr(names, "shortNames"))
    if (s.is_string()) dns1035(std::string(s.as_string()), "spec.names.shortNames", errs);
  validateVersions(arr(spec, "versions"), errs);
  if (old) {
    const std::string oldScope = str(obj(*old, "spec"), "scope");
    if (!oldScope.empty() && scope != oldScope)
      errs.invalid("spec.scope", quote(scope), "field is immutable");
    const std::string oldGroup = str(obj(*old, "spec"), "group");
    if (!oldGroup.empty() && g != oldGroup)
      errs.invalid("spec.group", quote(g), "field is immutable");
  }
}

}  // namespace skiff::api::validation

namespace skiff::api {

namespace json = boost::json;

namespace {
// Upstream's v1 defaults: conversion strategy None; singular and listKind from the kind.
void defaultCrd(json::object& obj) {
  json::object& spec =
      obj["spec"].is_object() ? obj["spec"].as_object() : obj["spec"].emplace_object();
  json::value& conversion = spec["conversion"];
  if (!conversion.is_object()) conversion = json::object{{"strategy", "None"}};
  json::value& names = spec["names"];
  if (names.is_object()) {
    auto& n = names.as_object();
    const json::value* k = n.if_contains("kind");
    std::string kindName = k && k->is_string() ? std::string(k->as_string()) : "";
    if (!kindName.empty()) {
      json::value& singular = n["singular"];
      if (!singular.is_string() || singular.as_string().empty()) {
        std::string lower = kindName;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        singular = lower;
      }
      json::value& listKind = n["listKind"];
      if (!listKind.is_string() || listKind.as_string().empty()) listKind = kindName + "List";
    }
  }
}

// On DELETE: the cleanup finalizer and the Terminating condition upstream's CRD storage sets.
// A CRD then goes only after its objects (apiserver/crd_controller.h).
bool prepareCrdDeletion(json::object& crd) {
  json::object& meta = crd["metadata"].as_object();
  json::value& finalizers = meta["finalizers"];
  if (!finalizers.is_array()) finalizers.emplace_array();
  auto& list = finalizers.as_array();
  if (std::find(list.begin(), list.end(), json::value(kCrdCleanupFinalizer)) == list.end())
    list.push_back(json::value(kCrdCleanupFinalizer));
  json::value& status = crd["status"];
  if (!status.is_object()) status.emplace_object();
  json::value& conditions = status.as_object()["conditions"];
  if (!conditions.is_array()) conditions.emplace_array();
  json::array kept;
  for (auto& c : conditions.as_array())
    if (!c.is_object() || api::stringAt(c.as_object(), {"type"}) != "Terminating")
      kept.push_back(std::move(c));
  kept.push_back(json::object{{"type", "Terminating"},
                              {"status", "True"},
                              {"lastTransitionTime", formatTime(std::chrono::system_clock::now())},
                              {"reason", "InstanceDeletionInProgress"},
                              {"message", "CustomResource deletion is in progress"}});
  conditions = std::move(kept);
  return true;  // always waits for the finalizer
}
}  // namespace

void addCrdKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "apiextensions.k8s.io",
                 .kind = "CustomResourceDefinition",
                 .defaults = defaultCrd,
                 .validate = validation::validateCrd,
                 .prepareForDelete = prepareCrdDeletion});
}

}  // namespace skiff::api
