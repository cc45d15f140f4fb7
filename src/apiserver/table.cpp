#include "apiserver/table.h"

#include <boost/json.hpp>
#include <chrono>
#include <optional>

#include "api/custom_resource.h"
#include "api/jsonpath.h"
#include "api/managed_fields_text.h"
#include "api/table_printers.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

// A printer column's cell, as upstream's CRD table convertor types it: integer, number and
// boolean cells keep their JSON type, date cells are ages, string cells print any value.
json::value customCell(const api::PrinterColumn& column, const json::value& v,
                       std::chrono::system_clock::time_point now) {
  const std::string& type = column.type;
  if (type == "string") return v.is_string() ? v : json::value(json::serialize(v));
  if (type == "integer" && v.is_number()) return static_cast<int64_t>(v.to_number<double>());
  if (type == "number" && v.is_number()) return v.to_number<double>();
  if (type == "boolean" && v.is_bool()) return v;
  if (type == "date" && v.is_string()) {
    std::chrono::system_clock::time_point t;
    if (!parseTime(std::string(v.as_string()), t)) return "<invalid>";
    return json::string(
        api::humanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - t)));
  }
  return nullptr;
}

// A custom resource's printer: Name, then its CRD version's additionalPrinterColumns (Age
// from creationTimestamp when it declares none, as upstream serves by default).
api::TablePrinter customPrinter(const api::CustomResourceBehavior& custom) {
  std::vector<api::PrinterColumn> columns = custom.columns;
  if (columns.empty())
    columns.push_back({"Age", "date", "", "the time since the object was created",
                       ".metadata.creationTimestamp", 0});
  api::TablePrinter printer;
  printer.columns.push_back({"Name", "string", "name", "the object's name", 0});
  std::vector<std::optional<api::JsonPath>> paths;
  for (const auto& c : columns) {
    printer.columns.push_back({c.name, c.type, c.format, c.description, c.priority});
    paths.push_back(api::JsonPath::parse(c.jsonPath));
  }
  printer.cells = [columns, paths](const json::object& obj,
                                   std::chrono::system_clock::time_point now) {
    json::array cells;
    const json::value* name = obj.if_contains("metadata");
    name = name && name->is_object() ? name->as_object().if_contains("name") : nullptr;
    cells.push_back(name ? *name : json::value(""));
    for (size_t i = 0; i < columns.size(); ++i) {
      auto found = paths[i] ? paths[i]->find(obj) : std::vector<const json::value*>{};
      cells.push_back(found.empty() ? json::value(nullptr)
                                    : customCell(columns[i], *found[0], now));
    }
    return cells;
  };
  return printer;
}

}  // namespace

namespace {

// The printer of a resource: its CRD version's columns, or the built-in kind's printer.
struct PrinterFor {
  api::TablePrinter custom;
  const api::TablePrinter* printer;
  explicit PrinterFor(const api::ResourceInfo& info)
      : custom(info.custom ? customPrinter(*info.custom) : api::TablePrinter{}),
        printer(info.custom ? &custom : &api::tablePrinterFor(info.group, info.plural)) {}
};

json::array columnDefinitions(const api::TablePrinter& printer) {
  json::array columns;
  for (const auto& c : printer.columns)
    columns.push_back(json::object{{"name", c.name},
                                   {"type", c.type},
                                   {"format", c.format},
                                   {"description", c.description},
                                   {"priority", c.priority}});
  return columns;
}

}  // namespace

json::object makeTable(const api::ResourceInfo& info,
                       const std::vector<const json::object*>& objects,
                       const std::string& includeObject, bool withColumns) {
  const PrinterFor p(info);
  const api::TablePrinter& printer = *p.printer;
  json::array columns;
  if (withColumns) columns = columnDefinitions(printer);
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
  json::object table{
      {"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", json::object()}};
  table["columnDefinitions"] = std::move(columns);
  table["rows"] = std::move(rows);
  return table;
}

namespace {
// The end of the JSON string starting at text[i] (the opening quote): one past the closing
// quote, or npos.
size_t skipString(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\')
      ++i;
    else if (text[i] == '"')
      return i + 1;
  }
  return std::string_view::npos;
}

// One past the end of the compact JSON value starting at text[i], or npos.
size_t skipValue(std::string_view text, size_t i) {
  if (i >= text.size()) return std::string_view::npos;
  if (text[i] == '"') return skipString(text, i);
  if (text[i] != '{' && text[i] != '[') {
    while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']') ++i;
    return i;
  }
  int depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = skipString(text, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    ++i;
  }
  return std::string_view::npos;
}
}  // namespace

std::string_view memberText(std::string_view text, std::string_view key) {
  if (text.empty() || text[0] != '{') return {};
  size_t i = 1;
  while (i < text.size() && text[i] == '"') {
    const size_t keyEnd = skipString(text, i);
    if (keyEnd == std::string_view::npos || keyEnd >= text.size() || text[keyEnd] != ':') return {};
    const size_t valueEnd = skipValue(text, keyEnd + 1);
    if (valueEnd == std::string_view::npos) return {};
    // Keys with escapes never equal a plain key: compare the raw text.
    if (text.substr(i + 1, keyEnd - i - 2) == key)
      return text.substr(keyEnd + 1, valueEnd - keyEnd - 1);
    i = valueEnd;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return {};
}

std::string serializeTable(const api::ResourceInfo& info,
                           const std::vector<const json::object*>& objects,
                           const std::string& includeObject, const json::object& listMetadata,
                           const std::vector<std::string_view>& texts) {
  const bool withTexts = texts.size() == objects.size();
  const PrinterFor p(info);
  const api::TablePrinter& printer = *p.printer;
  json::object head{
      {"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", listMetadata}};
  head["columnDefinitions"] = columnDefinitions(printer);
  std::string out = json::serialize(head);
  out.pop_back();  // the closing brace: the rows follow
  out += ",\"rows\":[";
  auto now = std::chrono::system_clock::now();
  bool first = true;
  for (size_t i = 0; i < objects.size(); ++i) {
    const json::object* obj = objects[i];
    if (!first) out += ',';
    first = false;
    out += "{\"cells\":";
    out += json::serialize(printer.cells(*obj, now));
    if (includeObject == "Object") {
      out += ",\"object\":";
      if (withTexts)
        out += texts[i];
      else
        api::appendObjectJson(out, *obj);
    } else if (includeObject != "None") {
      // The object's own metadata is serialized in place (no copy of managedFields and all),
      // or taken from the object's text when there is one.
      out += R"(,"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1")";
      if (const json::value* meta = obj->if_contains("metadata")) {
        out += ",\"metadata\":";
        const std::string_view metaText = withTexts ? memberText(texts[i], "metadata") : "";
        if (!metaText.empty())
          out += metaText;
        else if (meta->is_object())
          api::appendMetadataJson(out, meta->get_object());
        else
          out += json::serialize(*meta);
      }
      out += '}';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace skiff::apiserver
