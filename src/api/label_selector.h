// Label selectors as upstream apimachinery/pkg/labels defines them: the string syntax used by
// ?labelSelector= and kubectl -l, and metav1.LabelSelector objects inside API objects.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

class LabelSelector {
 public:
  enum class Op {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan
  };

  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;  // sorted and unique when parsed from a string

    bool matches(const boost::json::object* labels) const;
    std::string toString() const;
  };

  // The empty selector: matches everything.
  LabelSelector() = default;
  static LabelSelector everything() { return {}; }
  // Matches no object; what a null metav1.LabelSelector means.
  static LabelSelector nothing();

  // Parses the string syntax; throws ApiError 400 BadRequest with upstream's message.
  static LabelSelector parse(std::string_view selector);
  // Converts a metav1.LabelSelector {matchLabels, matchExpressions}; JSON null -> nothing().
  static LabelSelector fromJson(const boost::json::value& selector);

  // labels may be nullptr (object without labels).
  bool matches(const boost::json::object* labels) const;
  // True when the selector does not restrict anything (matches everything).
  bool empty() const { return !nothing_ && requirements_.empty(); }
  bool matchesNothing() const { return nothing_; }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // Value of `key` if the selector can only match that exact value (=, ==, or in with one value).
  std::optional<std::string> requiresExactMatch(std::string_view key) const;
  // Canonical form, as upstream prints it: requirements sorted by key, values sorted.
  std::string toString() const;

 private:
  std::vector<Requirement> requirements_;
  bool nothing_ = false;
};

}  // namespace skiff::api
