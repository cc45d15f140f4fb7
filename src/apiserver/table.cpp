#include "apiserver/table.h"

#include <boost/json.hpp>
#include <chrono>

#include "api/table_printers.h"

namespace skiff::apiserver {

namespace json = boost::json;

json::object makeTable(const api::ResourceInfo& info,
                       const std::vector<const json::object*>& objects,
                       const std::string& includeObject, bool withColumns) {
  const auto& printer = api::tablePrinterFor(info.group, info.plural);
  json::array columns;
  if (withColumns) {
    for (const auto& c : printer.columns)
      columns.push_back(json::object{{"name", c.name},
                                     {"type", c.type},
                                     {"format", c.format},
                                     {"description", c.description},
                                     {"priority", c.priority}});
  }
  auto now = std::chrono::system_clock::now();
  json::array rows;
  rows.reserve(objects.size());
  for (const json::object* obj : objects) {
    json::object row{{"cells", printer.cells(*obj, now)}};
    if (includeObject == "Object") {
      row["object"] = *obj;
    } else if (includeObject != "None") {
      json::object partial{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
      if (auto* meta = obj->if_contains("metadata")) partial["metadata"] = *meta;
      row["object"] = std::move(partial);
    }
    rows.push_back(std::move(row));
  }
  json::object table{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", json::object()}};
  table["columnDefinitions"] = std::move(columns);
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace skiff::apiserver
