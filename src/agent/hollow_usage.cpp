#include "agent/hollow_usage.h"

#include <boost/json.hpp>

#include "api/quantity.h"

namespace json = boost::json;

namespace skiff::agent {

std::optional<uint64_t> parseCpuNanoCores(const std::string& text) {
  auto q = api::Quantity::parse(text);
  if (!q || q->sign() < 0) return std::nullopt;
  return static_cast<uint64_t>(q->milliValue()) * 1'000'000;
}

std::optional<uint64_t> parseMemoryBytes(const std::string& text) {
  auto q = api::Quantity::parse(text);
  if (!q || q->sign() < 0) return std::nullopt;
  return static_cast<uint64_t>(q->value());
}

SyntheticPodUsage syntheticUsageOf(const json::object& pod, const SyntheticPodUsage& defaults) {
  SyntheticPodUsage u = defaults;
  auto* meta = pod.if_contains("metadata");
  auto* ann = meta && meta->is_object() ? meta->as_object().if_contains("annotations") : nullptr;
  if (!ann || !ann->is_object()) return u;
  auto text = [&](const char* key) -> std::string {
    auto* v = ann->as_object().if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (auto cpu = text(kSyntheticCpuAnnotation); !cpu.empty())
    if (auto v = parseCpuNanoCores(cpu)) u.cpuNanoCores = *v;
  if (auto mem = text(kSyntheticMemoryAnnotation); !mem.empty())
    if (auto v = parseMemoryBytes(mem)) u.memoryBytes = *v;
  return u;
}

uint64_t SyntheticCounters::advance(const std::string& key, uint64_t nanoCores,
                                    Clock::time_point now, Clock::time_point since) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = counters_.try_emplace(key);
  Counter& c = it->second;
  if (inserted) {
    c.at = since < now ? since : now;
    c.rate = nanoCores;
  }
  if (now > c.at) {
    double dt = std::chrono::duration<double>(now - c.at).count();
    c.nanos += static_cast<double>(c.rate) * dt;
    c.at = now;
  }
  c.rate = nanoCores;
  return static_cast<uint64_t>(c.nanos);
}

void SyntheticCounters::prune(std::chrono::seconds age, Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::erase_if(counters_, [&](const auto& kv) { return now - kv.second.at > age; });
}

size_t SyntheticCounters::size() const {
  std::lock_guard lock(mu_);
  return counters_.size();
}

}  // namespace skiff::agent
