// Server-side Table printers: the columns and cells upstream's API server returns when kubectl
// asks for `as=Table` (what `kubectl get` prints). One printer per resource, matching
// pkg/printers/internalversion in Kubernetes v1.32. Cells always include the priority-1
// ("-o wide") columns, as upstream's server generates wide rows and kubectl hides them.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

struct TableColumn {
  std::string name, type, format, description;
  int priority = 0;
};

struct TablePrinter {
  std::vector<TableColumn> columns;
  // One row's cells for an object, one per column; `now` is the reference for ages.
  std::function<boost::json::array(const boost::json::object& obj,
                                   std::chrono::system_clock::time_point now)>
      cells;
};

// The printer for a resource (group "" = core, plural resource name). Resources without an
// upstream printer get upstream's default table: Name and "Created At" (RFC 3339 date).
const TablePrinter& tablePrinterFor(std::string_view group, std::string_view resource);

// Upstream's duration.HumanDuration: "5s", "3m20s", "4h", "2d3h", "45d", "3y120d";
// "<invalid>" for durations below -1s (clock skew is tolerated down to that).
std::string humanDuration(std::chrono::seconds d);

}  // namespace skiff::api
