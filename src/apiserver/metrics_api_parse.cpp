#include "apiserver/metrics_api_parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

namespace skiff::apiserver {

namespace {

enum class Metric { NodeCpu, NodeMemory, ContainerCpu, ContainerMemory, ContainerStart, Other };

Metric metricOf(std::string_view name) {
  if (name == "node_cpu_usage_seconds_total") return Metric::NodeCpu;
  if (name == "node_memory_working_set_bytes") return Metric::NodeMemory;
  if (name == "container_cpu_usage_seconds_total") return Metric::ContainerCpu;
  if (name == "container_memory_working_set_bytes") return Metric::ContainerMemory;
  if (name == "container_start_time_seconds") return Metric::ContainerStart;
  return Metric::Other;
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void skipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && space(s[i])) ++i;
}

// The labels this parser needs; others are read past.
struct Labels {
  std::string ns, pod, container;
};

// `{k="v",...}` from s[i] == '{'; false when malformed. Values are unescaped (\\, \", \n).
bool parseLabels(std::string_view s, size_t& i, Labels& out) {
  ++i;  // '{'
  for (;;) {
    skipSpace(s, i);
    if (i >= s.size()) return false;
    if (s[i] == '}') {
      ++i;
      return true;
    }
    size_t k0 = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
    std::string_view key = s.substr(k0, i - k0);
    skipSpace(s, i);
    if (key.empty() || i >= s.size() || s[i] != '=') return false;
    ++i;
    skipSpace(s, i);
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    std::string value;
    for (;;) {
      if (i >= s.size()) return false;
      char c = s[i++];
      if (c == '"') break;
      if (c == '\\') {
        if (i >= s.size()) return false;
        char e = s[i++];
        value.push_back(e == 'n' ? '\n' : e);
      } else {
        value.push_back(c);
      }
    }
    if (key == "namespace")
      out.ns = std::move(value);
    else if (key == "pod")
      out.pod = std::move(value);
    else if (key == "container")
      out.container = std::move(value);
    skipSpace(s, i);
    if (i < s.size() && s[i] == ',') ++i;
  }
}

std::optional<double> parseValue(std::string_view token) {
  if (token.empty()) return std::nullopt;
  // strtod wants a terminated string; values are short.
  std::string text(token);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::optional<int64_t> parseTimestamp(std::string_view token) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

const PodPoint* ScrapeBatch::pod(std::string_view ns, std::string_view name) const {
  auto it = std::lower_bound(
      pods.begin(), pods.end(), std::pair(ns, name),
      [](const PodPoint& p, const std::pair<std::string_view, std::string_view>& key) {
        return std::pair<std::string_view, std::string_view>(p.ns, p.name) < key;
      });
  if (it == pods.end() || it->ns != ns || it->name != name) return nullptr;
  return &*it;
}

size_t ScrapeBatch::bytes() const {
  // Heap blocks of strings past the small-string buffer count with their capacity.
  auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : size_t(0); };
  size_t n = sizeof(*this) + pods.capacity() * sizeof(PodPoint);
  for (const auto& p : pods) {
    n += heap(p.ns) + heap(p.name) + p.containers.capacity() * sizeof(ContainerPoint);
    for (const auto& c : p.containers) n += heap(c.name);
  }
  return n;
}

ScrapeBatch parseResourceMetrics(std::string_view text, int64_t nowMs) {
  ScrapeBatch batch;
  // (namespace, pod) → containers by name, while reading; flattened into sorted vectors at
  // the end.
  std::map<std::pair<std::string, std::string>, std::map<std::string, ContainerPoint>> pods;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t i = 0;
    skipSpace(line, i);
    if (i >= line.size() || line[i] == '#') continue;
    size_t n0 = i;
    while (i < line.size() && line[i] != '{' && !space(line[i])) ++i;
    const Metric metric = metricOf(line.substr(n0, i - n0));
    if (metric == Metric::Other) continue;
    Labels labels;
    skipSpace(line, i);
    if (i < line.size() && line[i] == '{' && !parseLabels(line, i, labels)) {
      ++batch.skippedLines;
      continue;
    }
    skipSpace(line, i);
    size_t v0 = i;
    while (i < line.size() && !space(line[i])) ++i;
    auto value = parseValue(line.substr(v0, i - v0));
    skipSpace(line, i);
    size_t t0 = i;
    while (i < line.size() && !space(line[i])) ++i;
    std::optional<int64_t> ts =
        t0 == i ? std::optional<int64_t>(nowMs) : parseTimestamp(line.substr(t0, i - t0));
    if (!value || !ts) {
      ++batch.skippedLines;
      continue;
    }
    switch (metric) {
      case Metric::NodeCpu:
        batch.node.cpuMs = *ts;
        batch.node.cpuSeconds = *value;
        break;
      case Metric::NodeMemory:
        batch.node.memMs = *ts;
        batch.node.memBytes = static_cast<uint64_t>(*value);
        break;
      case Metric::ContainerCpu:
      case Metric::ContainerMemory:
      case Metric::ContainerStart: {
        if (labels.ns.empty() || labels.pod.empty() || labels.container.empty()) {
          ++batch.skippedLines;
          break;
        }
        auto& c = pods[{std::move(labels.ns), std::move(labels.pod)}][labels.container];
        if (metric == Metric::ContainerCpu) {
          c.cpuMs = *ts;
          c.cpuSeconds = *value;
        } else if (metric == Metric::ContainerMemory) {
          c.memMs = *ts;
          c.memBytes = static_cast<uint64_t>(*value);
        } else {
          c.startMs = static_cast<int64_t>(std::llround(*value * 1000));
        }
        break;
      }
      case Metric::Other:
        break;
    }
  }
  batch.pods.reserve(pods.size());
  for (auto& [key, containers] : pods) {
    PodPoint p;
    p.ns = key.first;
    p.name = key.second;
    p.containers.reserve(containers.size());
    for (auto& [name, c] : containers) {
      c.name = name;
      p.containers.push_back(std::move(c));
    }
    batch.pods.push_back(std::move(p));
  }
  return batch;
}

}  // namespace skiff::apiserver
