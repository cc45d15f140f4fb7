// PatchSchema: reads patch metadata out of OpenAPI v2 definitions (see strategic_merge_patch.h).
#include <boost/json.hpp>

#include "api/json_access.h"
#include "api/strategic_merge_patch.h"

namespace skiff::api {

namespace {

constexpr std::string_view kRefPrefix = "#/definitions/";
// Guards against $ref cycles that never reach a concrete schema.
constexpr int kMaxRefHops = 16;

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (!s.empty()) {
    size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void readMeta(const boost::json::object& node, PatchSchema::FieldMeta& meta) {
  meta.patchStrategies = splitComma(stringField(node, "x-kubernetes-patch-strategy"));
  meta.patchMergeKey = stringField(node, "x-kubernetes-patch-merge-key");
  meta.listType = stringField(node, "x-kubernetes-list-type");
  meta.listMapKeys.clear();
  if (const auto* keys = node.if_contains("x-kubernetes-list-map-keys"); keys && keys->is_array()) {
    for (const auto& k : keys->get_array()) {
      if (k.is_string()) meta.listMapKeys.emplace_back(k.get_string());
    }
  }
}

}  // namespace

PatchSchema::PatchSchema(const boost::json::object* definitions, std::string rootDefinition)
    : definitions_(definitions) {
  if (!definitions_) return;
  if (const auto* root = definitions_->if_contains(rootDefinition); root && root->is_object()) {
    name_ = std::move(rootDefinition);
    node_ = resolve(&root->get_object(), name_);
  }
}

PatchSchema::PatchSchema(const boost::json::object* definitions, const boost::json::object* node,
                         std::string name)
    : definitions_(definitions), name_(std::move(name)) {
  if (node) node_ = resolve(node, name_);
}

const boost::json::object* PatchSchema::resolve(const boost::json::object* node,
                                                std::string& name) const {
  for (int hop = 0; node && hop < kMaxRefHops; ++hop) {
    std::string ref = stringField(*node, "$ref");
    if (!ref.empty()) {
      if (!definitions_ || !ref.starts_with(kRefPrefix)) return nullptr;
      name = ref.substr(kRefPrefix.size());
      const auto* target = definitions_->if_contains(name);
      node = target && target->is_object() ? &target->get_object() : nullptr;
      continue;
    }
    const auto* allOf = node->if_contains("allOf");
    if (allOf && allOf->is_array() && !allOf->get_array().empty() &&
        allOf->get_array()[0].is_object() && !node->contains("properties")) {
      node = &allOf->get_array()[0].get_object();
      continue;
    }
    return node;
  }
  return nullptr;
}

PatchSchema PatchSchema::field(std::string_view name, FieldMeta* meta) const {
  if (meta) *meta = FieldMeta{};
  if (!node_) return {};
  const boost::json::object* member = nullptr;
  if (const auto* props = node_->if_contains("properties"); props && props->is_object()) {
    if (const auto* p = props->get_object().if_contains(name); p && p->is_object()) {
      member = &p->get_object();
    }
  }
  if (!member) {
    if (const auto* ap = node_->if_contains("additionalProperties"); ap && ap->is_object()) {
      member = &ap->get_object();
    }
  }
  if (!member) return {};
  // Patch metadata sits next to a $ref, on the member itself.
  if (meta) readMeta(*member, *meta);
  return PatchSchema(definitions_, member, name_);
}

PatchSchema PatchSchema::items() const {
  if (!node_) return {};
  const auto* items = node_->if_contains("items");
  if (!items || !items->is_object()) return {};
  return PatchSchema(definitions_, &items->get_object(), name_);
}

}  // namespace skiff::api
