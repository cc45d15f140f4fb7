// swagger 2.0 -> OpenAPI 3.0, per group-version, in the shape upstream's /openapi/v3/<gv>
// has (which is what kubectl 1.32 parses):
//  * refs: #/definitions/X -> #/components/schemas/X; a property that is a ref becomes
//    {allOf:[{$ref}], <siblings>} like upstream, since OpenAPI 3.0 ignores $ref siblings
//    and the x-kubernetes-patch-* extensions kubectl's strategic merge reads sit there;
//  * shared #/parameters/X are inlined (kubectl looks for a parameter *named*
//    fieldValidation on the kind's PATCH operation and does not follow refs);
//  * query/path parameters move type/format/uniqueItems into `schema`;
//  * the `in: body` parameter becomes requestBody, one media type per `consumes` entry;
//  * responses get `content`, one media type per `produces` entry;
//  * consumes/produces/schemes disappear; x-kubernetes-* extensions stay where they were.
#include "api/openapi_v3.h"

#include <boost/json.hpp>
#include <deque>
#include <map>
#include <set>

namespace skiff::api::openapi_v3 {
namespace json = boost::json;

namespace {

constexpr std::string_view kV2DefPrefix = "#/definitions/";
constexpr std::string_view kV2ParamPrefix = "#/parameters/";
constexpr std::string_view kV3SchemaPrefix = "#/components/schemas/";

// Parameter keywords that OpenAPI 3 moves from the parameter into its `schema`.
constexpr std::string_view kParamSchemaKeys[] = {
    "type", "format", "items", "default", "enum", "uniqueItems", "minimum", "maximum", "pattern"};

std::string rewriteRef(std::string_view ref) {
  if (ref.substr(0, kV2DefPrefix.size()) == kV2DefPrefix)
    return std::string(kV3SchemaPrefix) + std::string(ref.substr(kV2DefPrefix.size()));
  return std::string(ref);
}

json::value convertSchema(const json::value& in, bool isProperty);

json::object convertSchemaObject(const json::object& in, bool isProperty) {
  json::object out;
  const json::value* ref = in.if_contains("$ref");
  if (ref && ref->is_string()) {
    json::object target;
    target["$ref"] = rewriteRef(ref->as_string());
    // Fields (and refs with siblings) are wrapped as upstream does; bare item refs stay bare.
    if (isProperty || in.size() > 1) {
      json::array allOf;
      allOf.push_back(std::move(target));
      out["allOf"] = std::move(allOf);
    } else {
      return target;
    }
  }
  for (const auto& [key, value] : in) {
    if (key == "$ref") continue;
    if (key == "properties" && value.is_object()) {
      json::object props;
      for (const auto& [name, sub] : value.as_object()) props[name] = convertSchema(sub, true);
      out[key] = std::move(props);
    } else if ((key == "items" || key == "additionalProperties" || key == "not") &&
               value.is_object()) {
      out[key] = convertSchema(value, false);
    } else if ((key == "allOf" || key == "anyOf" || key == "oneOf") && value.is_array()) {
      json::array subs;
      for (const auto& sub : value.as_array()) subs.push_back(convertSchema(sub, false));
      out[key] = std::move(subs);
    } else {
      out[key] = value;  // type, format, required, enum, default, x-kubernetes-*, ...
    }
  }
  return out;
}

json::value convertSchema(const json::value& in, bool isProperty) {
  if (!in.is_object()) return in;
  return convertSchemaObject(in.as_object(), isProperty);
}

// Collects the schema names referenced (#/components/schemas/X) anywhere below `v`.
void collectSchemaRefs(const json::value& v, std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [key, sub] : v.as_object()) {
      if (key == "$ref" && sub.is_string()) {
        std::string_view ref = sub.as_string();
        if (ref.substr(0, kV3SchemaPrefix.size()) == kV3SchemaPrefix)
          out.emplace(ref.substr(kV3SchemaPrefix.size()));
      } else {
        collectSchemaRefs(sub, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& sub : v.as_array()) collectSchemaRefs(sub, out);
  }
}

class Converter {
 public:
  explicit Converter(const json::object& v2) {
    if (auto* p = v2.if_contains("parameters"); p && p->is_object())
      sharedParams_ = &p->as_object();
    if (auto* d = v2.if_contains("definitions"); d && d->is_object())
      definitions_ = &d->as_object();
  }

  json::object pathItem(const json::object& item) const {
    json::object out;
    for (const auto& [key, value] : item) {
      if (key == "parameters" && value.is_array()) {
        json::array params;
        for (const auto& p : value.as_array())
          if (auto conv = parameter(resolveParam(p)); !conv.empty())
            params.push_back(std::move(conv));
        out[key] = std::move(params);
      } else if (value.is_object()) {
        out[key] = operation(value.as_object());
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  json::object componentSchemas(const json::object& paths) const {
    std::set<std::string> wanted;
    collectSchemaRefs(paths, wanted);
    std::set<std::string> done;
    std::deque<std::string> queue(wanted.begin(), wanted.end());
    json::object schemas;
    std::map<std::string, json::value> converted;  // sorted: deterministic output
    while (!queue.empty()) {
      std::string name = std::move(queue.front());
      queue.pop_front();
      if (!done.insert(name).second || !definitions_) continue;
      const json::value* def = definitions_->if_contains(name);
      if (!def) continue;  // a dangling ref stays dangling; tests catch it
      json::value conv = convertSchema(*def, false);
      std::set<std::string> next;
      collectSchemaRefs(conv, next);
      for (const auto& n : next)
        if (!done.count(n)) queue.push_back(n);
      converted.emplace(std::move(name), std::move(conv));
    }
    for (auto& [name, schema] : converted) schemas[name] = std::move(schema);
    return schemas;
  }

 private:
  const json::object& resolveParam(const json::value& p) const {
    static const json::object empty;
    if (!p.is_object()) return empty;
    const auto& obj = p.as_object();
    const json::value* ref = obj.if_contains("$ref");
    if (!ref || !ref->is_string()) return obj;
    std::string_view name = ref->as_string();
    if (name.substr(0, kV2ParamPrefix.size()) != kV2ParamPrefix || !sharedParams_) return empty;
    const json::value* target = sharedParams_->if_contains(name.substr(kV2ParamPrefix.size()));
    return target && target->is_object() ? target->as_object() : empty;
  }

  // A non-body parameter in OpenAPI 3 form; empty for body parameters and garbage.
  static json::object parameter(const json::object& p) {
    json::object out;
    const json::value* in = p.if_contains("in");
    if (!in || !in->is_string() || in->as_string() == "body") return out;
    json::object schema;
    for (const auto& [key, value] : p) {
      bool toSchema = false;
      for (auto k : kParamSchemaKeys) toSchema |= (key == k);
      if (toSchema)
        schema[key] = key == "items" ? convertSchema(value, false) : value;
      else
        out[key] = value;
    }
    if (!schema.empty()) out["schema"] = std::move(schema);
    return out;
  }

  static json::array stringList(const json::object& op, std::string_view key) {
    json::array out;
    if (auto* v = op.if_contains(key); v && v->is_array()) out = v->as_array();
    if (out.empty()) out.push_back("application/json");
    return out;
  }

  static json::object content(const json::array& mediaTypes, const json::value& schema) {
    json::object out;
    for (const auto& mt : mediaTypes) {
      if (!mt.is_string()) continue;
      json::object media;
      media["schema"] = convertSchema(schema, false);
      out[mt.as_string()] = std::move(media);
    }
    return out;
  }

  json::object operation(const json::object& op) const {
    json::object out;
    json::array params;
    json::object requestBody;
    if (auto* ps = op.if_contains("parameters"); ps && ps->is_array()) {
      for (const auto& raw : ps->as_array()) {
        const json::object& p = resolveParam(raw);
        if (auto* in = p.if_contains("in"); in && in->is_string() && in->as_string() == "body") {
          static const json::value anySchema = json::object{};
          const json::value* schema = p.if_contains("schema");
          requestBody["content"] =
              content(stringList(op, "consumes"), schema ? *schema : anySchema);
          if (auto* req = p.if_contains("required")) requestBody["required"] = *req;
        } else if (auto conv = parameter(p); !conv.empty()) {
          params.push_back(std::move(conv));
        }
      }
    }
    for (const auto& [key, value] : op) {
      if (key == "consumes" || key == "produces" || key == "schemes") continue;
      if (key == "parameters") {
        if (!params.empty()) out[key] = std::move(params);
        if (!requestBody.empty()) out["requestBody"] = std::move(requestBody);
      } else if (key == "responses" && value.is_object()) {
        json::object responses;
        json::array produces = stringList(op, "produces");
        for (const auto& [code, resp] : value.as_object()) {
          json::object r;
          if (resp.is_object()) {
            for (const auto& [rk, rv] : resp.as_object()) {
              if (rk == "schema")
                r["content"] = content(produces, rv);
              else
                r[rk] = rv;
            }
          }
          responses[code] = std::move(r);
        }
        out[key] = std::move(responses);
      } else {
        out[key] =
            value;  // operationId, tags, x-kubernetes-action, x-kubernetes-group-version-kind
      }
    }
    return out;
  }

  const json::object* sharedParams_ = nullptr;
  const json::object* definitions_ = nullptr;
};

}  // namespace

std::string groupVersionPathOf(std::string_view path) {
  // Split "/apis/apps/v1/..." into its first segments.
  std::string_view segs[3];
  size_t n = 0, pos = 0;
  while (n < 3 && pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    segs[n++] = path.substr(pos, end - pos);
    pos = end;
  }
  if (n >= 2 && segs[0] == "api") return "api/" + std::string(segs[1]);
  if (n >= 3 && segs[0] == "apis")
    return "apis/" + std::string(segs[1]) + "/" + std::string(segs[2]);
  return {};
}

json::object buildGroupVersionDocument(const json::object& v2, std::string_view gvPath) {
  Converter conv(v2);
  json::object paths;
  if (auto* p = v2.if_contains("paths"); p && p->is_object()) {
    for (const auto& [path, item] : p->as_object()) {
      if (!item.is_object() || groupVersionPathOf(path) != gvPath) continue;
      paths[path] = conv.pathItem(item.as_object());
    }
  }

  json::object components;
  components["schemas"] = conv.componentSchemas(paths);
  if (auto* sec = v2.if_contains("securityDefinitions"); sec && sec->is_object())
    components["securitySchemes"] = *sec;

  json::object doc;
  doc["openapi"] = "3.0.0";
  if (auto* info = v2.if_contains("info"))
    doc["info"] = *info;
  else
    doc["info"] = json::object{{"title", "Kubernetes"}, {"version", "unversioned"}};
  doc["paths"] = std::move(paths);
  doc["components"] = std::move(components);
  return doc;
}

}  // namespace skiff::api::openapi_v3
