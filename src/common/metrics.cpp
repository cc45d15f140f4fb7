#include "common/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

// jemalloc's control interface, present when the binary links jemalloc (the skiff binary
// does; unit tests use glibc's malloc): a weak reference is null otherwise.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace skiff {

Metrics& Metrics::global() {
  static Metrics metrics(true);
  return metrics;
}

std::string Metrics::escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string Metrics::formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

namespace {

// HELP text escapes only backslash and newline.
std::string escapeHelp(const std::string& h) {
  std::string out;
  for (char c : h) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string renderLabels(const MetricLabels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    if (!key.empty()) key += ",";
    key += k;
    key += "=\"";
    key += Metrics::escapeLabelValue(v);
    key += "\"";
  }
  return key;
}
std::string withLabel(const std::string& labels, const std::string& extra) {
  return labels.empty() ? extra : labels + "," + extra;
}
std::string header(const std::string& name, const std::string& type, const std::string& help) {
  return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name,
                     escapeHelp(help.empty() ? name + " (skiff)" : help), name, type);
}
std::string sampleLine(const std::string& name, const std::string& labels, double v) {
  return labels.empty() ? fmt::format("{} {}\n", name, Metrics::formatValue(v))
                        : fmt::format("{}{{{}}} {}\n", name, labels, Metrics::formatValue(v));
}

}  // namespace

MetricsCollectorHandle& MetricsCollectorHandle::operator=(MetricsCollectorHandle&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = o.owner_;
    id_ = o.id_;
    o.owner_ = nullptr;
  }
  return *this;
}

void MetricsCollectorHandle::reset() {
  if (owner_) owner_->unregister(id_);
  owner_ = nullptr;
}

void Metrics::increment(const std::string& name, const MetricLabels& labels, double delta) {
  slot(name, renderLabels(labels)).fetch_add(delta, std::memory_order_relaxed);
}

std::atomic<double>& Metrics::slot(const std::string& name, const std::string& labels) {
  {
    std::shared_lock lock(mu_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto it = family->second.series.find(labels);
      if (it != family->second.series.end()) return *it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto& value = families_[name].series[labels];
  if (!value) value = std::make_unique<std::atomic<double>>(0);
  return *value;
}

void Metrics::setGauge(const std::string& name, double value) { setGauge(name, {}, value); }

void Metrics::setGauge(const std::string& name, const MetricLabels& labels, double value) {
  slot(name, renderLabels(labels)).store(value, std::memory_order_relaxed);
  std::unique_lock lock(mu_);
  families_[name].type = "gauge";
}

void Metrics::remove(const std::string& name, const MetricLabels& labels) {
  std::unique_lock lock(mu_);
  auto family = families_.find(name);
  if (family == families_.end()) return;
  auto key = renderLabels(labels);
  family->second.series.erase(key);
  family->second.histograms.erase(key);
}

std::atomic<double>& Metrics::series(const std::string& name, const MetricLabels& labels) {
  return slot(name, renderLabels(labels));
}

Metrics::Histogram& Metrics::histogramSeries(const std::string& name, const MetricLabels& labels,
                                             const std::vector<double>& buckets) {
  return histogram(name, renderLabels(labels), buckets);
}

void Metrics::observe(const std::string& name, const MetricLabels& labels, double value,
                      const std::vector<double>& buckets) {
  // One lookup and one bucket per observation (the scheduler observes twice per pod): the
  // cumulative counts Prometheus expects are summed when rendered.
  observe(histogram(name, renderLabels(labels), buckets), value);
}

void Metrics::observe(Histogram& h, double value) {
  size_t bucket = std::lower_bound(h.upper.begin(), h.upper.end(), value) - h.upper.begin();
  h.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  h.sum.fetch_add(value, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
}

Metrics::Histogram& Metrics::histogram(const std::string& name, const std::string& labels,
                                       const std::vector<double>& buckets) {
  {
    std::shared_lock lock(mu_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto it = family->second.histograms.find(labels);
      if (it != family->second.histograms.end()) return *it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto& family = families_[name];
  family.type = "histogram";
  auto& h = family.histograms[labels];
  if (!h) {
    h = std::make_unique<Histogram>();
    h->upper = buckets;
    std::sort(h->upper.begin(), h->upper.end());
    h->upper.erase(std::unique(h->upper.begin(), h->upper.end()), h->upper.end());
    // +Inf is always the implicit last bucket.
    while (!h->upper.empty() && std::isinf(h->upper.back())) h->upper.pop_back();
    h->counts = std::make_unique<std::atomic<double>[]>(h->upper.size() + 1);
  }
  return *h;
}

std::vector<double> Metrics::exponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::unique_lock lock(mu_);
  auto& family = families_[name];
  family.type = type;
  family.help = help;
}

MetricsCollectorHandle Metrics::collect(const std::string& name, const std::string& type,
                                        const std::string& help,
                                        std::function<std::vector<MetricSample>()> fn) {
  std::lock_guard lock(collectorsMu_);
  uint64_t id = nextCollector_++;
  collectors_[id] = Collector{name, type, help, std::move(fn)};
  return MetricsCollectorHandle(this, id);
}

void Metrics::unregister(uint64_t id) {
  std::lock_guard lock(collectorsMu_);
  collectors_.erase(id);
}

std::string Metrics::render() const {
  // Each family's block, by name: Prometheus wants one HELP/TYPE per family and all of a
  // family's samples together.
  std::map<std::string, std::string> blocks;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, family] : families_) {
      if (family.series.empty() && family.histograms.empty()) continue;  // described, never used
      std::string out = header(name, family.type, family.help);
      for (const auto& [labels, value] : family.series)
        out += sampleLine(name, labels, value->load(std::memory_order_relaxed));
      // Every bucket is listed from the first observation, empty ones with 0, in increasing
      // order with cumulative counts, and +Inf equal to _count.
      for (const auto& [labels, h] : family.histograms) {
        double cumulative = 0;
        for (size_t i = 0; i <= h->upper.size(); ++i) {
          cumulative += h->counts[i].load(std::memory_order_relaxed);
          std::string le =
              i < h->upper.size() ? "le=\"" + formatValue(h->upper[i]) + "\"" : "le=\"+Inf\"";
          out += sampleLine(name + "_bucket", withLabel(labels, le), cumulative);
        }
        out += sampleLine(name + "_sum", labels, h->sum.load(std::memory_order_relaxed));
        out += sampleLine(name + "_count", labels, cumulative);
      }
      blocks[name] = std::move(out);
    }
  }
  {
    std::lock_guard lock(collectorsMu_);
    for (const auto& [id, c] : collectors_) {
      std::vector<MetricSample> samples;
      try {
        samples = c.fn();
      } catch (const std::exception&) {
        continue;  // a failing source leaves its family out of this scrape
      }
      std::string& out = blocks[c.name];
      if (out.empty()) out = header(c.name, c.type, c.help);
      for (const auto& s : samples) out += sampleLine(c.name, renderLabels(s.labels), s.value);
    }
  }
  std::string out;
  for (auto& [name, block] : blocks) out += block;
  if (processMetrics_) out += renderProcessMetrics();
  return out;
}

namespace {

// The allocator's own figures, when it is jemalloc: bytes the program holds in allocations,
// and bytes of the allocator's pages resident (allocations, their size-class rounding,
// free space not yet returned, metadata).
void renderAllocatorMetrics(std::string& out) {
  if (!mallctl) return;
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  if (mallctl("epoch", &epoch, &len, &epoch, len) != 0) return;  // refresh the statistics
  auto stat = [&](const char* name, const char* metric, const char* help) {
    size_t value = 0, n = sizeof value;
    if (mallctl(name, &value, &n, nullptr, 0) != 0) return;
    out += header(metric, "gauge", help);
    out += sampleLine(metric, "", static_cast<double>(value));
  };
  stat("stats.allocated", "skiff_malloc_allocated_bytes",
       "Bytes in allocations the process holds (jemalloc).");
  stat("stats.resident", "skiff_malloc_resident_bytes",
       "Bytes of the allocator's pages resident in RAM: allocations, rounding, free space not "
       "yet returned to the kernel, metadata (jemalloc).");
}
}  // namespace

std::string renderProcessMetrics() {
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start at field 3, the state.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  if (f.size() < 22) return "";
  // f[0] is field 3: utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  auto field = [&](int n) { return std::stod(f[static_cast<size_t>(n - 3)]); };
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (tick <= 0) tick = 100;
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double bootTime = 0;
  std::ifstream procStat("/proc/stat");
  for (std::string line; std::getline(procStat, line);)
    if (line.rfind("btime ", 0) == 0) bootTime = std::stod(line.substr(6));
  double openFds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++openFds;
    ::closedir(d);
    openFds -= 1;  // the directory stream's own descriptor
  }
  struct rlimit rl {};
  double maxFds = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<double>(rl.rlim_cur) : 0;
  std::string out;
  auto gauge = [&](const char* name, const char* type, const char* help, double v) {
    out += header(name, type, help);
    out += sampleLine(name, "", v);
  };
  gauge("process_cpu_seconds_total", "counter",
        "CPU time this process used, user plus system, in seconds.",
        (field(14) + field(15)) / tick);
  gauge("process_max_fds", "gauge",
        "The limit on open file descriptors (RLIMIT_NOFILE) of this process.", maxFds);
  gauge("process_open_fds", "gauge", "File descriptors this process has open.", openFds);
  gauge("process_resident_memory_bytes", "gauge", "Bytes of this process's memory resident in RAM.",
        field(24) * page);
  gauge("process_start_time_seconds", "gauge",
        "When this process started, in seconds since the Unix epoch.", bootTime + field(22) / tick);
  gauge("process_virtual_memory_bytes", "gauge",
        "Bytes of virtual address space this process has mapped.", field(23));
  renderAllocatorMetrics(out);
  return out;
}

}  // namespace skiff
