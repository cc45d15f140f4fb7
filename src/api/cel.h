// A subset of CEL (the Common Expression Language) for CRD x-kubernetes-validations rules:
// literals, `self` and `oldSelf`, field selection and indexing, the arithmetic, comparison,
// logical, `in` and ternary operators, has(), size(), string functions (startsWith,
// endsWith, contains, matches, lowerAscii, upperAscii, trim), conversions (int, double,
// string), and the macros all, exists, exists_one, map and filter. A rule using anything
// else fails to compile with a message naming it, so a CRD is refused rather than a rule
// silently ignored. Evaluation is over JSON values as the object stores them.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::api::cel {

struct Node;

class Program {
 public:
  // Compiles `expression`; throws std::invalid_argument naming what is not supported.
  static Program compile(std::string_view expression);

  // Whether the rule reads oldSelf (a transition rule: evaluated on updates only).
  bool usesOldSelf() const { return usesOldSelf_; }

  struct Result {
    std::optional<boost::json::value> value;  // empty on an evaluation error
    std::string error;
  };
  Result evaluate(const boost::json::value& self, const boost::json::value* oldSelf) const;

 private:
  std::shared_ptr<const Node> root_;
  bool usesOldSelf_ = false;
};

}  // namespace skiff::api::cel
