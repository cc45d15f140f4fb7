// Printer registry, the default table, humanDuration and the helpers every printer uses.
#include "api/table_printers.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "api/quantity.h"
#include "api/table_printers_internal.h"

namespace skiff::api {
namespace tables {

namespace {
const json::object kEmptyObject;
const json::array kEmptyArray;
}  // namespace

const json::object& obj(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return kEmptyObject;
  return it->value().get_object();
}

const json::array& arr(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return kEmptyArray;
  return it->value().get_array();
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

int64_t num(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  const auto& v = it->value();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double()) return static_cast<int64_t>(v.get_double());
  return 0;
}

bool boolean(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_bool() && it->value().get_bool();
}

bool has(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && !it->value().is_null();
}

const json::object& at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::object* cur = &o;
  for (auto k : path) cur = &obj(*cur, k);
  return *cur;
}

std::optional<Clock::time_point> parseTime(std::string_view s) {
  // 2006-01-02T15:04:05[.frac](Z|±hh:mm)
  if (s.size() < 20) return std::nullopt;
  int y, mo, d, h, mi, sec;
  std::string buf(s);
  if (std::sscanf(buf.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0'), ++digits;
      ++pos;
    }
    while (digits++ < 6) micros *= 10;
  }
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-') && pos + 6 <= s.size()) {
    int oh = 0, om = 0;
    if (std::sscanf(buf.c_str() + pos + 1, "%2d:%2d", &oh, &om) == 2) {
      long off = (oh * 3600L + om * 60L) * (s[pos] == '+' ? 1 : -1);
      t -= off;
    }
  }
  return Clock::from_time_t(t) + std::chrono::microseconds(micros);
}

std::string since(std::string_view timestamp, Clock::time_point now) {
  auto t = parseTime(timestamp);
  if (!t) return "<unknown>";
  return humanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

std::string age(const json::object& o, Clock::time_point now) {
  return since(str(obj(o, "metadata"), "creationTimestamp"), now);
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string formatLabels(const json::object& labels) {
  std::vector<std::string> parts;
  for (const auto& kv : labels) {
    std::string v = kv.value().is_string() ? std::string(kv.value().get_string()) : "";
    parts.push_back(std::string(kv.key()) + "=" + v);
  }
  if (parts.empty()) return "<none>";
  std::sort(parts.begin(), parts.end());
  return join(parts, ",");
}

std::string selectorString(const json::object& selector) {
  // (key, rendered requirement), stably sorted by key as upstream's internalSelector.
  std::vector<std::pair<std::string, std::string>> reqs;
  for (const auto& kv : obj(selector, "matchLabels")) {
    std::string v = kv.value().is_string() ? std::string(kv.value().get_string()) : "";
    reqs.emplace_back(std::string(kv.key()), std::string(kv.key()) + "=" + v);
  }
  for (const auto& e : arr(selector, "matchExpressions")) {
    if (!e.is_object()) continue;
    const auto& req = e.get_object();
    std::string key = str(req, "key"), op = str(req, "operator");
    std::vector<std::string> values;
    for (const auto& v : arr(req, "values"))
      if (v.is_string()) values.emplace_back(v.get_string());
    std::sort(values.begin(), values.end());
    std::string r;
    if (op == "In")
      r = key + " in (" + join(values, ",") + ")";
    else if (op == "NotIn")
      r = key + " notin (" + join(values, ",") + ")";
    else if (op == "Exists")
      r = key;
    else if (op == "DoesNotExist")
      r = "!" + key;
    else
      r = key;
    reqs.emplace_back(key, r);
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(r.second);
  return join(parts, ",");
}

std::string formatLabelSelector(const json::object* selector) {
  if (!selector) return "<none>";
  std::string s = selectorString(*selector);
  return s.empty() ? "<none>" : s;
}

std::pair<std::string, std::string> containerCells(const json::array& containers) {
  std::vector<std::string> names, images;
  for (const auto& c : containers) {
    if (!c.is_object()) continue;
    names.push_back(str(c.get_object(), "name"));
    images.push_back(str(c.get_object(), "image"));
  }
  return {join(names, ","), join(images, ",")};
}

std::string quantityString(const json::value& v) {
  if (v.is_string()) {
    if (auto q = Quantity::parse(v.get_string())) return q->toString();
    return std::string(v.get_string());
  }
  if (v.is_int64()) return std::to_string(v.get_int64());
  return "0";
}

namespace {
// Our own wording (upstream reuses its ObjectMeta field docs here; kubectl never prints it).
constexpr const char* kNameDoc = "The object's name, unique within its namespace.";
constexpr const char* kCreationDoc = "When the server created the object (RFC 3339, UTC).";
}  // namespace

TableColumn nameColumn() { return TableColumn{"Name", "string", "name", kNameDoc, 0}; }
TableColumn ageColumn() { return TableColumn{"Age", "string", "", kCreationDoc, 0}; }
TableColumn col(std::string name, std::string type, int priority) {
  return TableColumn{std::move(name), std::move(type), "", "", priority};
}

namespace {

TablePrinter makeDefaultPrinter() {
  TablePrinter p;
  p.columns = {nameColumn(), TableColumn{"Created At", "date", "", kCreationDoc, 0}};
  p.cells = [](const json::object& o, Clock::time_point) {
    const auto& meta = obj(o, "metadata");
    // Upstream prints creationTimestamp re-formatted as RFC 3339 in UTC.
    std::string created;
    if (auto t = parseTime(str(meta, "creationTimestamp"))) {
      std::time_t tt = Clock::to_time_t(*t);
      std::tm tm{};
      gmtime_r(&tt, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
      created = buf;
    } else {
      created = "0001-01-01T00:00:00Z";
    }
    return json::array{json::value(str(meta, "name")), json::value(created)};
  };
  return p;
}

const PrinterMap& printers() {
  static const PrinterMap m = [] {
    PrinterMap m;
    registerCorePrinters(m);
    registerWorkloadPrinters(m);
    registerOtherPrinters(m);
    return m;
  }();
  return m;
}

}  // namespace
}  // namespace tables

const TablePrinter& tablePrinterFor(std::string_view group, std::string_view resource) {
  static const TablePrinter kDefault = tables::makeDefaultPrinter();
  std::string key;
  key.reserve(group.size() + resource.size() + 1);
  key.append(group).append("/").append(resource);
  const auto& m = tables::printers();
  auto it = m.find(key);
  return it == m.end() ? kDefault : it->second;
}

std::string humanDuration(std::chrono::seconds d) {
  const int64_t seconds = d.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s == 0 ? "" : std::to_string(s) + "s");
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  const int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m == 0 ? "" : std::to_string(m) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h == 0 ? "" : std::to_string(h) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (dy == 0 ? "" : std::to_string(dy) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

}  // namespace skiff::api
