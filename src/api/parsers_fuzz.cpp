// libFuzzer target for the request-input parsers of the api layer. The first byte picks the
// parser; the rest is its input. Bad input must end in ApiError (or a std::exception from the
// JSON layer); a crash, sanitizer report or broken invariant is a bug.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/field_selector.h"
#include "api/json_patch.h"
#include "api/jsonpath.h"
#include "api/label_selector.h"
#include "api/merge_patch.h"
#include "api/strategic_merge_patch.h"
#include "common/api_error.h"

namespace {

using namespace skiff::api;

const boost::json::value& fixedDoc() {
  static const boost::json::value doc = boost::json::parse(R"({
    "metadata": {"name": "p", "labels": {"app": "web", "gen": "7"}, "finalizers": ["a", "b"]},
    "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                             "ports": [{"containerPort": 80}], "args": ["x"]},
                            {"name": "side", "image": "envoy"}],
             "tolerations": [{"key": "k"}], "nodeSelector": {"zone": "a"}},
    "list": [1, 2, 3]})");
  return doc;
}

const boost::json::object& definitions() {
  static const boost::json::object defs = boost::json::parse(R"({
    "Pod": {"properties": {"metadata": {"$ref": "#/definitions/Meta"},
                           "spec": {"$ref": "#/definitions/PodSpec"}}},
    "Meta": {"properties": {"labels": {"additionalProperties": {"type": "string"}},
                            "finalizers": {"type": "array", "items": {"type": "string"},
                                           "x-kubernetes-patch-strategy": "merge"}}},
    "PodSpec": {"properties": {
      "containers": {"type": "array", "items": {"$ref": "#/definitions/Container"},
                     "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
      "volumes": {"type": "array", "items": {"$ref": "#/definitions/PodSpec"},
                  "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"},
      "tolerations": {"type": "array", "items": {"type": "object"}},
      "loop": {"$ref": "#/definitions/Loop"}}},
    "Loop": {"$ref": "#/definitions/Loop"},
    "Container": {"properties": {
      "env": {"type": "array", "items": {"type": "object"},
              "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
      "ports": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"},
      "args": {"type": "array", "items": {"type": "string"},
               "x-kubernetes-patch-strategy": "bogus,retainKeys,merge"}}}
  })")
                                              .as_object();
  return defs;
}

[[noreturn]] void invariantBroken() { __builtin_trap(); }

void fuzzLabelSelector(std::string_view input) {
  auto s = LabelSelector::parse(input);
  auto labels = fixedDoc().at("metadata").at("labels").as_object();
  s.matches(&labels);
  s.matches(nullptr);
  // The canonical form must parse back to the same selector.
  auto again = LabelSelector::parse(s.toString());
  if (again.toString() != s.toString()) invariantBroken();
}

void fuzzFieldSelector(std::string_view input) {
  auto s = FieldSelector::parse(input);
  const auto& obj = fixedDoc().as_object();
  s.matches([&](std::string_view f) { return fieldValueOf(obj, f); });
  auto again = FieldSelector::parse(s.toString());
  if (again.requirements().size() != s.requirements().size()) invariantBroken();
}

// CRD printer columns and scale paths: any text parses or is refused; a parsed path finds
// only values inside the document.
void fuzzJsonPath(std::string_view input) {
  auto path = JsonPath::parse(input);
  if (!path) return;
  for (const auto* v : path->find(fixedDoc()))
    if (!v) invariantBroken();
  path->find(fixedDoc().as_object());
  path->fields();
}

void fuzzJson(uint8_t mode, std::string_view input) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(input, ec);
  if (ec) return;
  switch (mode) {
    case 2:
      applyJsonPatch(fixedDoc(), v);
      break;
    case 3: {
      auto merged = applyMergePatch(fixedDoc(), v);
      // A merge patch computed between two documents must reproduce the second.
      if (merged.is_object() &&
          applyMergePatch(fixedDoc(), createMergePatch(fixedDoc(), merged)) != merged) {
        invariantBroken();
      }
      break;
    }
    case 4:
      applyStrategicMergePatch(fixedDoc(), v, PatchSchema(&definitions(), "Pod"));
      break;
    case 5:
      applyStrategicMergePatch(fixedDoc(), v, PatchSchema());
      break;
    case 6: {
      auto s = LabelSelector::fromJson(v);
      auto labels = fixedDoc().at("metadata").at("labels").as_object();
      s.matches(&labels);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0] % 8;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (mode == 0) {
      fuzzLabelSelector(input);
    } else if (mode == 1) {
      fuzzFieldSelector(input);
    } else if (mode == 7) {
      fuzzJsonPath(input);
    } else {
      fuzzJson(mode, input);
    }
  } catch (const skiff::ApiError&) {
    // Rejected input: the expected outcome for most of it.
  } catch (const std::exception&) {
    // boost::json accessors on odd shapes; still a controlled failure.
  }
  return 0;
}
