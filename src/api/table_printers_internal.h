// Helpers shared by the per-group table printer files. Private to src/api/table_printers*.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/table_printers.h"

namespace skiff::api::tables {

using Clock = std::chrono::system_clock;
namespace json = boost::json;

// Null-safe accessors: a missing or wrongly typed field reads as empty/zero, as a Go zero value.
const json::object& obj(const json::object& o, std::string_view key);
const json::array& arr(const json::object& o, std::string_view key);
std::string str(const json::object& o, std::string_view key);
int64_t num(const json::object& o, std::string_view key);
bool boolean(const json::object& o, std::string_view key);
bool has(const json::object& o, std::string_view key);  // present and not null
// Follows a path of object keys: at(o, {"spec", "template", "spec"}).
const json::object& at(const json::object& o, std::initializer_list<std::string_view> path);

// RFC 3339 timestamps (with optional fractional seconds); nullopt when absent or malformed.
std::optional<Clock::time_point> parseTime(std::string_view s);
// Upstream translateTimestampSince: "<unknown>" when the timestamp is absent.
std::string since(std::string_view timestamp, Clock::time_point now);
std::string age(const json::object& o, Clock::time_point now);  // from metadata.creationTimestamp

// "k1=v1,k2=v2" sorted by key, "<none>" when empty (upstream labels.FormatLabels).
std::string formatLabels(const json::object& labels);
// metav1.LabelSelector rendered as upstream selector.String(): "" for an empty selector.
std::string selectorString(const json::object& selector);
// metav1.FormatLabelSelector: "<none>" for an absent or empty selector.
std::string formatLabelSelector(const json::object* selector);
// Names and images of containers joined with "," (upstream layoutContainerCells).
std::pair<std::string, std::string> containerCells(const json::array& containers);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Capacity-like fields are Quantities: printed in canonical form.
std::string quantityString(const json::value& v);

// Column constructors: NAME (string, format name) and AGE are on almost every table.
TableColumn nameColumn();
TableColumn ageColumn();
// A column without description text (kubectl never shows it; upstream's is not copied).
TableColumn col(std::string name, std::string type, int priority = 0);

// Registration, filled by each group file's register function.
using PrinterMap = std::map<std::string, TablePrinter, std::less<>>;  // key "group/resource"
void registerCorePrinters(PrinterMap& m);
void registerWorkloadPrinters(PrinterMap& m);
void registerOtherPrinters(PrinterMap& m);

}  // namespace skiff::api::tables
