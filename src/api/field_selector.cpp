#include "api/field_selector.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/go_text.h"
#include "common/api_error.h"

namespace skiff::api {

namespace {

// Splits on commas that are not escaped by a backslash.
std::vector<std::string_view> splitTerms(std::string_view s) {
  std::vector<std::string_view> terms;
  if (s.empty()) return terms;
  size_t start = 0;
  bool inSlash = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (inSlash) {
      inSlash = false;
    } else if (c == '\\') {
      inSlash = true;
    } else if (c == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(s.substr(start));
  return terms;
}

// The first operator occurrence wins; at one position "!=" and "==" beat "=".
bool splitTerm(std::string_view term, std::string_view& lhs, std::string_view& op,
               std::string_view& rhs) {
  for (size_t i = 0; i < term.size(); ++i) {
    for (std::string_view candidate : {"!=", "==", "="}) {
      if (term.substr(i).starts_with(candidate)) {
        lhs = term.substr(0, i);
        op = candidate;
        rhs = term.substr(i + candidate.size());
        return true;
      }
    }
  }
  return false;
}

std::string unescapeValue(std::string_view s) {
  std::string out;
  bool inSlash = false;
  for (char c : s) {
    if (inSlash) {
      if (c != '\\' && c != ',' && c != '=') {
        throw badRequest("invalid field selector: invalid escape sequence: \\" + std::string(1, c));
      }
      out += c;
      inSlash = false;
    } else if (c == '\\') {
      inSlash = true;
    } else if (c == ',' || c == '=') {
      // Upstream prints the rune with %v, i.e. as its code point number.
      throw badRequest("invalid field selector: unescaped character in value: " +
                       std::to_string(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  if (inSlash) throw badRequest("invalid field selector: invalid escape sequence: \\");
  return out;
}

}  // namespace

std::string escapeFieldValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

FieldSelector FieldSelector::parse(std::string_view selector) {
  auto parts = splitTerms(selector);
  std::sort(parts.begin(), parts.end());
  FieldSelector s;
  for (auto part : parts) {
    if (part.empty()) continue;
    std::string_view lhs, op, rhs;
    if (!splitTerm(part, lhs, op, rhs)) {
      throw badRequest("invalid selector: '" + std::string(selector) + "'; can't understand '" +
                       std::string(part) + "'");
    }
    auto value = unescapeValue(rhs);
    // An empty field with an empty value selects everything, as upstream's Transform does.
    if (lhs.empty() && value.empty()) continue;
    s.requirements_.push_back(Requirement{std::string(lhs),
                                          op == "!=" ? Requirement::NotEquals : Requirement::Equals,
                                          std::move(value)});
  }
  return s;
}

bool FieldSelector::matches(const FieldGetter& fieldValue) const {
  for (const auto& r : requirements_) {
    std::string have = fieldValue(r.field).value_or("");
    if ((have == r.value) != (r.op == Requirement::Equals)) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::requiresExactMatch(std::string_view field) const {
  for (const auto& r : requirements_) {
    if (r.field == field && r.op == Requirement::Equals) return r.value;
  }
  return std::nullopt;
}

std::string FieldSelector::toString() const {
  std::string out;
  for (const auto& r : requirements_) {
    if (!out.empty()) out += ',';
    out += r.field + (r.op == Requirement::Equals ? "=" : "!=") + escapeFieldValue(r.value);
  }
  return out;
}

std::optional<std::string> fieldValueOf(const boost::json::object& obj,
                                        std::string_view dottedPath) {
  const boost::json::object* cur = &obj;
  const boost::json::value* v = nullptr;
  while (true) {
    auto dot = dottedPath.find('.');
    auto segment = dottedPath.substr(0, dot);
    v = cur->if_contains(segment);
    if (!v) return std::nullopt;
    if (dot == std::string_view::npos) break;
    cur = v->if_object();
    if (!cur) return std::nullopt;
    dottedPath.remove_prefix(dot + 1);
  }
  switch (v->kind()) {
    case boost::json::kind::string:
      return std::string(v->get_string());
    case boost::json::kind::bool_:
      return v->get_bool() ? "true" : "false";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return goFormat(*v);
    default:
      return std::nullopt;
  }
}

}  // namespace skiff::api
