#include "api/structural_schema.h"

#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <deque>
#include <set>
#include <stdexcept>

#include "api/json_access.h"
#include "api/unknown_fields.h"
#include "api/validation_internal.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

std::optional<double> number(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::optional<int64_t> count(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || !v->is_number()) return std::nullopt;
  return static_cast<int64_t>(v->to_number<double>());
}

bool flag(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_bool() && v->as_bool();
}

std::shared_ptr<StructuralNode> compileNode(const json::object& s) {
  auto n = std::make_shared<StructuralNode>();
  n->type = stringAt(s, {"type"});
  n->format = stringAt(s, {"format"});
  n->nullable = flag(s, "nullable");
  n->preserveUnknownFields = flag(s, "x-kubernetes-preserve-unknown-fields");
  n->intOrString = flag(s, "x-kubernetes-int-or-string");
  n->embeddedResource = flag(s, "x-kubernetes-embedded-resource");
  n->uniqueItems = flag(s, "uniqueItems");
  for (const auto& [name, sub] : objectOrEmpty(s, {"properties"}))
    if (sub.is_object()) n->properties[std::string(name)] = compileNode(sub.as_object());
  if (const json::value* items = s.if_contains("items"); items && items->is_object())
    n->items = compileNode(items->as_object());
  if (const json::value* ap = s.if_contains("additionalProperties"); ap && ap->is_object())
    n->additionalProperties = compileNode(ap->as_object());
  for (const auto& r : arrayOrEmpty(s, {"required"}))
    if (r.is_string()) n->required.emplace_back(r.as_string());
  if (const json::value* d = s.if_contains("default")) n->defaultValue = *d;
  n->enumValues = arrayOrEmpty(s, {"enum"});
  n->minimum = number(s, "minimum");
  n->maximum = number(s, "maximum");
  n->multipleOf = number(s, "multipleOf");
  n->exclusiveMinimum = flag(s, "exclusiveMinimum");
  n->exclusiveMaximum = flag(s, "exclusiveMaximum");
  n->minLength = count(s, "minLength");
  n->maxLength = count(s, "maxLength");
  n->minItems = count(s, "minItems");
  n->maxItems = count(s, "maxItems");
  n->minProperties = count(s, "minProperties");
  n->maxProperties = count(s, "maxProperties");
  n->pattern = stringAt(s, {"pattern"});
  if (!n->pattern.empty()) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(n->pattern, options);
    if (!re->ok())
      throw std::invalid_argument("pattern " + n->pattern + " does not compile: " + re->error());
    n->patternRegex = std::move(re);
  }
  n->listType = stringAt(s, {"x-kubernetes-list-type"});
  for (const auto& k : arrayOrEmpty(s, {"x-kubernetes-list-map-keys"}))
    if (k.is_string()) n->listMapKeys.emplace_back(k.as_string());
  auto compileAll = [](const json::array& list, std::vector<std::shared_ptr<StructuralNode>>& out) {
    for (const auto& sub : list)
      if (sub.is_object()) out.push_back(compileNode(sub.as_object()));
  };
  compileAll(arrayOrEmpty(s, {"allOf"}), n->allOf);
  compileAll(arrayOrEmpty(s, {"anyOf"}), n->anyOf);
  compileAll(arrayOrEmpty(s, {"oneOf"}), n->oneOf);
  if (const json::value* no = s.if_contains("not"); no && no->is_object())
    n->notSchema = compileNode(no->as_object());
  for (const auto& r : arrayOrEmpty(s, {"x-kubernetes-validations"})) {
    if (!r.is_object()) continue;
    const auto& o = r.as_object();
    StructuralNode::Rule rule{{},
                              stringAt(o, {"rule"}),
                              stringAt(o, {"message"}),
                              stringAt(o, {"fieldPath"}),
                              stringAt(o, {"reason"})};
    if (o.contains("messageExpression"))
      throw std::invalid_argument("messageExpression is not supported (rule " + rule.rule + ")");
    try {
      rule.program = cel::Program::compile(rule.rule);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("compilation failed for rule " + rule.rule + ": " + e.what());
    }
    n->rules.push_back(std::move(rule));
  }
  return n;
}

std::string childPath(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

// ---- pruning ----

bool keepsTypeMeta(const StructuralNode& node, bool root) { return root || node.embeddedResource; }

void pruneValue(json::value& v, const StructuralNode& node, const std::string& path,
                std::vector<std::string>& pruned, bool root);

void pruneObject(json::object& o, const StructuralNode& node, const std::string& path,
                 std::vector<std::string>& pruned, bool root) {
  for (auto it = o.begin(); it != o.end();) {
    const std::string key(it->key());
    const std::string p = childPath(path, key);
    if (keepsTypeMeta(node, root) && (key == "apiVersion" || key == "kind" || key == "metadata")) {
      ++it;
      continue;
    }
    const StructuralNode* sub = nullptr;
    if (auto prop = node.properties.find(key); prop != node.properties.end())
      sub = prop->second.get();
    else if (node.additionalProperties)
      sub = node.additionalProperties.get();
    if (!sub) {
      if (!node.preserveUnknownFields) {
        pruned.push_back(p);
        it = o.stable_erase(it);  // keeps the order of the other fields
        continue;
      }
      ++it;
      continue;
    }
    if (it->value().is_null() && !sub->nullable && !sub->preserveUnknownFields) {
      // Upstream drops nulls of non-nullable fields before defaulting and validation.
      it = o.stable_erase(it);  // keeps the order of the other fields
      continue;
    }
    pruneValue(it->value(), *sub, p, pruned, false);
    ++it;
  }
}

void pruneValue(json::value& v, const StructuralNode& node, const std::string& path,
                std::vector<std::string>& pruned, bool root) {
  if (v.is_object()) {
    pruneObject(v.as_object(), node, path, pruned, root);
  } else if (v.is_array() && node.items) {
    size_t i = 0;
    for (auto& item : v.as_array())
      pruneValue(item, *node.items, path + "[" + std::to_string(i++) + "]", pruned, false);
  }
}

// ---- defaulting ----

void defaultValue(json::value& v, const StructuralNode& node);

void defaultObject(json::object& o, const StructuralNode& node) {
  for (const auto& [name, sub] : node.properties) {
    json::value* present = o.if_contains(name);
    if (!present && sub->defaultValue) present = &(o[name] = *sub->defaultValue);
    if (present) defaultValue(*present, *sub);
  }
  if (node.additionalProperties)
    for (auto& kv : o)
      if (!node.properties.contains(std::string(kv.key())))
        defaultValue(kv.value(), *node.additionalProperties);
}

void defaultValue(json::value& v, const StructuralNode& node) {
  if (v.is_object())
    defaultObject(v.as_object(), node);
  else if (v.is_array() && node.items)
    for (auto& item : v.as_array()) defaultValue(item, *node.items);
}

// ---- validation ----

std::string jsonTypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "";
}

bool isIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  double d = v.as_double();
  return std::isfinite(d) && std::floor(d) == d;
}

bool typeMatches(const StructuralNode& node, const json::value& v) {
  if (node.intOrString) return v.is_string() || isIntegral(v);
  const std::string& t = node.type;
  if (t.empty()) return true;
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return isIntegral(v);
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_bool();
  return true;
}

// Go's %v of a JSON number or other scalar, as field.Invalid renders values.
std::string goValue(const json::value& v) {
  if (v.is_string()) return validation::quote(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) {
    double d = v.as_double();
    if (std::floor(d) == d && std::fabs(d) < 1e21) return std::to_string(static_cast<int64_t>(d));
    json::value copy = d;
    return json::serialize(copy);
  }
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_null()) return "null";
  return json::serialize(v);
}

// %v of a float64 bound ("1", "2.5").
std::string goNumber(double d) { return goValue(json::value(d)); }

bool validFormat(const std::string& format, const std::string& s) {
  static const re2::RE2 dateTime(
      R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
  static const re2::RE2 date(R"(^\d{4}-\d{2}-\d{2}$)");
  static const re2::RE2 uuid(
      R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)");
  static const re2::RE2 ipv4(
      R"(^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$)");
  static const re2::RE2 byteFmt(R"(^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$)");
  static const re2::RE2 hostname(
      R"(^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$)");
  if (format == "date-time") return re2::RE2::FullMatch(s, dateTime);
  if (format == "date") return re2::RE2::FullMatch(s, date);
  if (format == "uuid") return re2::RE2::FullMatch(s, uuid);
  if (format == "ipv4") return re2::RE2::FullMatch(s, ipv4);
  if (format == "ipv6")
    return s.find(':') != std::string::npos &&
           s.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  if (format == "byte") return re2::RE2::FullMatch(s, byteFmt);
  if (format == "hostname") return s.size() <= 255 && re2::RE2::FullMatch(s, hostname);
  return true;  // formats upstream does not check either are accepted
}

class Validator {
 public:
  std::vector<StatusCause> take() { return errs_.take(); }

  void value(const json::value& v, const StructuralNode& node, const std::string& path,
             const json::value* old = nullptr) {
    if (v.is_null()) {
      if (node.nullable || node.preserveUnknownFields || node.type.empty()) return;
      typeError(path, node, v);
      return;
    }
    if (!typeMatches(node, v)) {
      typeError(path, node, v);
      return;
    }
    if (!node.enumValues.empty()) checkEnum(v, node, path);
    if (v.is_string())
      stringRules(v.as_string(), node, path);
    else if (v.is_number())
      numberRules(v, node, path);
    else if (v.is_array())
      arrayRules(v.as_array(), node, path);
    else if (v.is_object())
      objectRules(v.as_object(), node, path, false,
                  old && old->is_object() ? &old->as_object() : nullptr);
    combinators(v, node, path);
    if (!node.rules.empty()) celRules(v, node, path, old);
  }

  // x-kubernetes-validations: each rule must evaluate to true (transition rules only when
  // the old value exists), reported as upstream does: "Invalid value: \"object\": <message>".
  void celRules(const json::value& v, const StructuralNode& node, const std::string& path,
                const json::value* old) {
    const std::string type = node.type.empty() ? jsonTypeName(v) : node.type;
    for (const auto& rule : node.rules) {
      if (rule.program.usesOldSelf() && !old) continue;
      auto result = rule.program.evaluate(v, old);
      std::string field = path;
      if (!rule.fieldPath.empty())
        field += rule.fieldPath.front() == '.' ? rule.fieldPath : "." + rule.fieldPath;
      if (!result.value) {
        errs_.invalid(field, validation::quote(type),
                      result.error + " evaluating rule: " + rule.rule);
        continue;
      }
      if (result.value->is_bool() && result.value->as_bool()) continue;
      std::string message = rule.message.empty() ? "failed rule: " + rule.rule : rule.message;
      if (!result.value->is_bool()) message = "rule did not evaluate to a bool: " + rule.rule;
      if (rule.reason == "FieldValueRequired")
        errs_.required(field, message);
      else if (rule.reason == "FieldValueForbidden")
        errs_.forbidden(field, message);
      else if (rule.reason == "FieldValueDuplicate")
        errs_.duplicate(field, message);
      else
        errs_.invalid(field, validation::quote(type), message);
    }
  }

  // root: the object itself, whose apiVersion, kind and metadata are the server's.
  void objectRules(const json::object& o, const StructuralNode& node, const std::string& path,
                   bool root = false, const json::object* old = nullptr) {
    for (const auto& r : node.required)
      if (!o.contains(r)) errs_.required(childPath(path, r));
    if (node.maxProperties && static_cast<int64_t>(o.size()) > *node.maxProperties)
      tooMany(path, static_cast<int64_t>(o.size()), *node.maxProperties);
    if (node.minProperties && static_cast<int64_t>(o.size()) < *node.minProperties)
      errs_.invalid(path, std::to_string(o.size()),
                    path + " in body should have at least " + std::to_string(*node.minProperties) +
                        " properties");
    for (const auto& kv : o) {
      const std::string key(kv.key());
      if (root && (key == "apiVersion" || key == "kind" || key == "metadata")) continue;
      auto prop = node.properties.find(key);
      const StructuralNode* sub =
          prop != node.properties.end() ? prop->second.get() : node.additionalProperties.get();
      if (sub) value(kv.value(), *sub, childPath(path, key), old ? old->if_contains(key) : nullptr);
    }
    if (node.embeddedResource) {
      if (!o.contains("apiVersion"))
        errs_.required(childPath(path, "apiVersion"), "must not be empty");
      if (!o.contains("kind")) errs_.required(childPath(path, "kind"), "must not be empty");
    }
  }

 private:
  void typeError(const std::string& path, const StructuralNode& node, const json::value& v) {
    const std::string want = node.intOrString ? "integer,string" : node.type;
    const std::string got = jsonTypeName(v);
    errs_.typeInvalid(path, validation::quote(got),
                      path + " in body must be of type " + want + ": " + validation::quote(got));
  }

  void tooMany(const std::string& path, int64_t actual, int64_t max) {
    errs_.tooMany(path, actual, max);
  }

  void checkEnum(const json::value& v, const StructuralNode& node, const std::string& path) {
    for (const auto& allowed : node.enumValues)
      if (allowed == v) return;
    std::vector<std::string> values;
    for (const auto& allowed : node.enumValues)
      values.push_back(allowed.is_string() ? std::string(allowed.as_string())
                                           : json::serialize(allowed));
    errs_.notSupported(path, goValue(v), values);
  }

  void stringRules(const json::string& s, const StructuralNode& node, const std::string& path) {
    const std::string value(s);
    // Lengths count characters (runes), as upstream's validator does.
    int64_t runes = 0;
    for (unsigned char c : value)
      if ((c & 0xC0) != 0x80) ++runes;
    if (node.maxLength && runes > *node.maxLength) errs_.tooLong(path, *node.maxLength);
    if (node.minLength && runes < *node.minLength)
      errs_.invalid(
          path, validation::quote(value),
          path + " in body should be at least " + std::to_string(*node.minLength) + " chars long");
    if (node.patternRegex && !re2::RE2::PartialMatch(value, *node.patternRegex))
      errs_.invalid(path, validation::quote(value),
                    path + " in body should match '" + node.pattern + "'");
    if (!node.format.empty() && !node.intOrString && !validFormat(node.format, value))
      errs_.typeInvalid(
          path, validation::quote(value),
          path + " in body must be of type " + node.format + ": " + validation::quote(value));
  }

  void numberRules(const json::value& v, const StructuralNode& node, const std::string& path) {
    const double d = v.to_number<double>();
    if (node.maximum && (node.exclusiveMaximum ? d >= *node.maximum : d > *node.maximum))
      errs_.invalid(path, goValue(v),
                    path + " in body should be less than " +
                        (node.exclusiveMaximum ? "" : "or equal to ") + goNumber(*node.maximum));
    if (node.minimum && (node.exclusiveMinimum ? d <= *node.minimum : d < *node.minimum))
      errs_.invalid(path, goValue(v),
                    path + " in body should be greater than " +
                        (node.exclusiveMinimum ? "" : "or equal to ") + goNumber(*node.minimum));
    if (node.multipleOf && *node.multipleOf > 0) {
      double q = d / *node.multipleOf;
      if (std::fabs(q - std::round(q)) > 1e-9)
        errs_.invalid(path, goValue(v),
                      path + " in body should be a multiple of " + goNumber(*node.multipleOf));
    }
  }

  void arrayRules(const json::array& a, const StructuralNode& node, const std::string& path) {
    const auto n = static_cast<int64_t>(a.size());
    if (node.maxItems && n > *node.maxItems) tooMany(path, n, *node.maxItems);
    if (node.minItems && n < *node.minItems)
      errs_.invalid(
          path, std::to_string(n),
          path + " in body should have at least " + std::to_string(*node.minItems) + " items");
    if (node.items)
      for (size_t i = 0; i < a.size(); ++i)
        value(a[i], *node.items, path + "[" + std::to_string(i) + "]");
    if (node.uniqueItems || node.listType == "set") {
      for (size_t i = 0; i < a.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (a[i] == a[j]) {
            errs_.duplicate(path + "[" + std::to_string(i) + "]", goValue(a[i]));
            break;
          }
    }
    if (node.listType == "map" && !node.listMapKeys.empty()) {
      std::set<std::string> seen;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_object()) continue;
        json::object key;
        for (const auto& k : node.listMapKeys)
          if (const json::value* kv = a[i].as_object().if_contains(k)) key[k] = *kv;
        if (!seen.insert(json::serialize(key)).second)
          errs_.duplicate(path + "[" + std::to_string(i) + "]", json::serialize(key));
      }
    }
  }

  void combinators(const json::value& v, const StructuralNode& node, const std::string& path) {
    for (const auto& sub : node.allOf) value(v, *sub, path);
    if (!node.anyOf.empty() && !std::any_of(node.anyOf.begin(), node.anyOf.end(),
                                            [&](const auto& s) { return passes(v, *s, path); }))
      errs_.invalid(path, goValue(v), "must validate at least one schema (anyOf)");
    if (!node.oneOf.empty()) {
      auto matches = std::count_if(node.oneOf.begin(), node.oneOf.end(),
                                   [&](const auto& s) { return passes(v, *s, path); });
      if (matches != 1)
        errs_.invalid(path, goValue(v), "must validate one and only one schema (oneOf)");
    }
    if (node.notSchema && passes(v, *node.notSchema, path))
      errs_.invalid(path, goValue(v), "must not validate the schema (not)");
  }

  static bool passes(const json::value& v, const StructuralNode& node, const std::string& path) {
    Validator probe;
    probe.value(v, node, path);
    return probe.errs_.empty();
  }

  validation::Errors errs_;
};

// ---- the apply view ----

SchemaNode* applyNode(const json::object& s, ApplySchema& out) {
  SchemaNode& n = out.nodes.emplace_back();
  const std::string type = stringAt(s, {"type"});
  using T = SchemaNode::Type;
  n.type = type == "object"    ? T::Object
           : type == "array"   ? T::Array
           : type == "string"  ? T::String
           : type == "integer" ? T::Integer
           : type == "number"  ? T::Number
           : type == "boolean" ? T::Boolean
                               : T::Any;
  n.preserveUnknown = boolAt(s, {"x-kubernetes-preserve-unknown-fields"});
  n.atomicMap = stringAt(s, {"x-kubernetes-map-type"}) == "atomic";
  const std::string listType = stringAt(s, {"x-kubernetes-list-type"});
  for (const auto& k : arrayOrEmpty(s, {"x-kubernetes-list-map-keys"}))
    if (k.is_string()) n.listKeys.emplace_back(k.as_string());
  n.listType = listType == "set"                          ? SchemaNode::ListType::Set
               : listType == "map" && !n.listKeys.empty() ? SchemaNode::ListType::Map
                                                          : SchemaNode::ListType::Atomic;
  n.listMapKeys = n.listKeys;
  std::sort(n.listMapKeys.begin(), n.listMapKeys.end());
  const json::object* props = objectAt(s, {"properties"});
  const json::object* extra = objectAt(s, {"additionalProperties"});
  n.mapLike = extra && !props;
  if (props) {
    n.hasProperties = true;
    for (const auto& [k, v] : *props)
      if (v.is_object()) n.properties.emplace(std::string(k), applyNode(v.as_object(), out));
  } else if (extra) {
    n.hasAdditional = true;
    n.additional = applyNode(*extra, out);
  }
  if (const json::object* items = objectAt(s, {"items"})) {
    n.hasItems = true;
    n.items = applyNode(*items, out);
  }
  return &n;
}

}  // namespace

std::shared_ptr<const ApplySchema> buildApplySchema(const json::object& schema) {
  auto out = std::make_shared<ApplySchema>();
  SchemaNode* root = applyNode(schema, *out);
  // apiVersion, kind and metadata are every object's, whatever the CRD declares.
  SchemaNode& r = *root;
  r.hasProperties = true;
  SchemaNode& str = out->nodes.emplace_back();
  str.type = SchemaNode::Type::String;
  r.properties["apiVersion"] = &str;
  r.properties["kind"] = &str;
  if (const SchemaNode* meta =
          FieldSchemas::builtin().root("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
    r.properties["metadata"] = meta;
  out->root = root;
  return out;
}

std::shared_ptr<const StructuralNode> compileSchema(const json::object& schema) {
  return compileNode(schema);
}

std::vector<std::string> pruneBySchema(json::object& obj, const StructuralNode& root) {
  std::vector<std::string> pruned;
  pruneObject(obj, root, "", pruned, true);
  return pruned;
}

void defaultBySchema(json::object& obj, const StructuralNode& root) { defaultObject(obj, root); }

std::vector<StatusCause> validateBySchema(const json::object& obj, const StructuralNode& root,
                                          const json::object* old) {
  Validator v;
  v.objectRules(obj, root, "", true, old);
  if (!root.rules.empty()) {
    // Rules at the root see the whole object.
    json::value self = obj;
    json::value oldSelf = old ? json::value(*old) : json::value();
    v.celRules(self, root, "<root>", old ? &oldSelf : nullptr);
  }
  return v.take();
}

}  // namespace skiff::api
