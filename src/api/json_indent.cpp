#include "api/json_indent.h"

#include <boost/json.hpp>

namespace skiff::api {

namespace json = boost::json;

namespace {

void newline(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<size_t>(depth) * 2, ' ');
}

void write(std::string& out, const json::value& v, int depth) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out.push_back(',');
        first = false;
        newline(out, depth + 1);
        out += json::serialize(json::string_view(kv.key()));
        out += ": ";
        write(out, kv.value(), depth + 1);
      }
      newline(out, depth);
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out.push_back(',');
        newline(out, depth + 1);
        write(out, a[i], depth + 1);
      }
      newline(out, depth);
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string indentedJson(const json::value& v) {
  std::string out;
  write(out, v, 0);
  return out;
}

}  // namespace skiff::api
