// The JSONPath subset CRDs use in additionalPrinterColumns, selectableFields and the scale
// subresource (upstream's client-go jsonpath, "simple" paths): fields (.a.b, ['a.b']), array
// indexes ([0], [-1]), wildcards ([*], .*) and filters ([?(@.type=="Ready")], == and !=
// against a string, number or boolean).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

class JsonPath {
 public:
  // Parses ".spec.replicas" (with or without surrounding "{}"); nullopt when malformed.
  static std::optional<JsonPath> parse(std::string_view expression);
  // Every value the path reaches in `root`, in document order.
  std::vector<const boost::json::value*> find(const boost::json::value& root) const;
  // The same from an object, without copying it into a value.
  std::vector<const boost::json::value*> find(const boost::json::object& root) const;
  // The field names of a plain path (".spec.replicas" → {"spec", "replicas"}); nullopt when
  // it has indexes, wildcards or filters.
  std::optional<std::vector<std::string>> fields() const;

  struct Step {
    enum Kind { Field, Index, Wildcard, Filter } kind = Field;
    std::string name;          // Field; Filter: the field compared (@.name)
    long index = 0;            // Index
    bool equal = true;         // Filter: == or !=
    boost::json::value value;  // Filter: compared with
  };

 private:
  std::vector<Step> steps_;
};

}  // namespace skiff::api
