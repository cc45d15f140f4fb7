// Field selectors as upstream apimachinery/pkg/fields defines them (?fieldSelector=,
// kubectl --field-selector): comma-joined `field=value`, `field==value`, `field!=value` terms.
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

class FieldSelector {
 public:
  struct Requirement {
    enum Op { Equals, NotEquals };
    std::string field;
    Op op;
    std::string value;  // unescaped
  };
  using FieldGetter = std::function<std::optional<std::string>(std::string_view field)>;

  FieldSelector() = default;  // matches everything

  // Throws ApiError 400 BadRequest with upstream's message on malformed input.
  static FieldSelector parse(std::string_view selector);

  const std::vector<Requirement>& requirements() const { return requirements_; }
  bool empty() const { return requirements_.empty(); }
  // A field the getter returns nullopt for compares as "".
  bool matches(const FieldGetter& fieldValue) const;
  // Value of `field` if the selector requires that exact value.
  std::optional<std::string> requiresExactMatch(std::string_view field) const;
  // Canonical form: terms in sorted order, values escaped.
  std::string toString() const;

 private:
  std::vector<Requirement> requirements_;
};

// Escapes `\`, `,` and `=` in a value the way upstream's fields.EscapeValue does.
std::string escapeFieldValue(std::string_view value);

// Value at a dotted path ("spec.nodeName") of an object, stringified for field selectors:
// strings as is, numbers and bools in their JSON text. Missing, null, object or array -> nullopt.
std::optional<std::string> fieldValueOf(const boost::json::object& obj,
                                        std::string_view dottedPath);

}  // namespace skiff::api
