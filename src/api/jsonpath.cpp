#include "api/jsonpath.h"

#include <boost/json.hpp>
#include <cctype>

namespace skiff::api {

namespace json = boost::json;

namespace {

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$';
}

// Parses a filter literal: "x" or 'x', a number, true/false.
std::optional<json::value> parseLiteral(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return json::value(json::string(s.substr(1, s.size() - 2)));
  if (s == "true") return json::value(true);
  if (s == "false") return json::value(false);
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  if (ec || !v.is_number()) return std::nullopt;
  return v;
}

bool sameValue(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  return a == b;
}

}  // namespace

std::optional<JsonPath> JsonPath::parse(std::string_view e) {
  if (e.size() >= 2 && e.front() == '{' && e.back() == '}') e = e.substr(1, e.size() - 2);
  JsonPath path;
  size_t i = 0;
  if (i < e.size() && e[i] == '$') ++i;
  while (i < e.size()) {
    Step step;
    if (e[i] == '.') {
      ++i;
      if (i < e.size() && e[i] == '*') {
        step.kind = Step::Wildcard;
        ++i;
      } else {
        size_t start = i;
        while (i < e.size() && isNameChar(e[i])) ++i;
        if (i == start) return std::nullopt;
        step.name = std::string(e.substr(start, i - start));
      }
    } else if (e[i] == '[') {
      size_t close = e.find(']', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inner = e.substr(i + 1, close - i - 1);
      i = close + 1;
      if (inner == "*") {
        step.kind = Step::Wildcard;
      } else if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"') &&
                 inner.back() == inner.front()) {
        step.name = std::string(inner.substr(1, inner.size() - 2));
      } else if (inner.starts_with("?(") && inner.ends_with(")")) {
        std::string_view cond = inner.substr(2, inner.size() - 3);
        size_t op = cond.find("==");
        step.equal = op != std::string_view::npos;
        if (!step.equal) op = cond.find("!=");
        if (op == std::string_view::npos) return std::nullopt;
        std::string_view lhs = cond.substr(0, op);
        while (!lhs.empty() && lhs.back() == ' ') lhs.remove_suffix(1);
        if (!lhs.starts_with("@.")) return std::nullopt;
        auto literal = parseLiteral(cond.substr(op + 2));
        if (!literal) return std::nullopt;
        step.kind = Step::Filter;
        step.name = std::string(lhs.substr(2));
        step.value = *literal;
      } else {
        try {
          size_t used = 0;
          step.index = std::stol(std::string(inner), &used);
          if (used != inner.size()) return std::nullopt;
        } catch (...) {
          return std::nullopt;
        }
        step.kind = Step::Index;
      }
    } else {
      return std::nullopt;
    }
    path.steps_.push_back(std::move(step));
  }
  return path;
}

namespace {
void advance(const JsonPath::Step& step, const json::value& v,
             std::vector<const json::value*>& next) {
  switch (step.kind) {
    case JsonPath::Step::Field:
      if (v.is_object())
        if (const json::value* f = v.as_object().if_contains(step.name)) next.push_back(f);
      break;
    case JsonPath::Step::Index:
      if (v.is_array()) {
        const auto& a = v.as_array();
        long idx = step.index < 0 ? static_cast<long>(a.size()) + step.index : step.index;
        if (idx >= 0 && idx < static_cast<long>(a.size())) next.push_back(&a[idx]);
      }
      break;
    case JsonPath::Step::Wildcard:
      if (v.is_array())
        for (const auto& item : v.as_array()) next.push_back(&item);
      else if (v.is_object())
        for (const auto& kv : v.as_object()) next.push_back(&kv.value());
      break;
    case JsonPath::Step::Filter:
      if (v.is_array())
        for (const auto& item : v.as_array()) {
          const json::value* f =
              item.is_object() ? item.as_object().if_contains(step.name) : nullptr;
          if (f && sameValue(*f, step.value) == step.equal) next.push_back(&item);
        }
      break;
  }
}
}  // namespace

std::vector<const json::value*> JsonPath::find(const json::value& root) const {
  std::vector<const json::value*> current{&root}, next;
  for (const auto& step : steps_) {
    next.clear();
    for (const json::value* v : current) advance(step, *v, next);
    current.swap(next);
  }
  return current;
}

std::vector<const json::value*> JsonPath::find(const json::object& root) const {
  if (steps_.empty()) return {};
  std::vector<const json::value*> current, next;
  const Step& first = steps_.front();
  if (first.kind == Step::Field) {
    if (const json::value* f = root.if_contains(first.name)) current.push_back(f);
  } else if (first.kind == Step::Wildcard) {
    for (const auto& kv : root) current.push_back(&kv.value());
  }
  for (size_t i = 1; i < steps_.size(); ++i) {
    next.clear();
    for (const json::value* v : current) advance(steps_[i], *v, next);
    current.swap(next);
  }
  return current;
}

std::optional<std::vector<std::string>> JsonPath::fields() const {
  std::vector<std::string> out;
  for (const auto& s : steps_) {
    if (s.kind != Step::Field) return std::nullopt;
    out.push_back(s.name);
  }
  return out;
}

}  // namespace skiff::api
