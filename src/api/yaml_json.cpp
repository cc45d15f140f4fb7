#include "api/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>

#include "common/api_error.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

json::value scalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return json::value(s);  // quoted or explicitly tagged: a string
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size()) return i;
  bool numeric = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' ||
                                s[0] == '+' || s[0] == '.');
  if (numeric) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() + s.size()) return d;
  }
  return json::value(s);
}

json::value toJson(const YAML::Node& node, int depth) {
  if (depth > 100) throw badRequest("yaml: document nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalarToJson(node);
    case YAML::NodeType::Sequence: {
      json::array arr;
      for (const auto& item : node) arr.push_back(toJson(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      json::object obj;
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = toJson(kv.second, depth + 1);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

json::value yamlToJson(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return toJson(root, 0);
  } catch (const YAML::Exception& e) {
    throw badRequest(std::string("error converting YAML to JSON: yaml: ") + e.what());
  }
}

}  // namespace skiff::api
