// Store micro benchmarks (Google Benchmark): `ninja -C build store_bench && build/store_bench`.
// Creates from N threads show how well group commit amortises one SQLite transaction.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "storage/store.h"

namespace {

using skiff::storage::StorePtr;
StorePtr gStore;
std::string gPath;
std::atomic<int64_t> gKey{0};

void openSqlite(const benchmark::State&) {
  spdlog::set_level(spdlog::level::warn);  // no "store opened" line per run
  gPath = (std::filesystem::temp_directory_path() /
           ("skiff-store-bench-" + std::to_string(getpid()) + ".db"))
              .string();
  skiff::storage::SqliteOptions o;
  o.path = gPath;
  o.compaction.interval = {};  // the bench measures writes, not compaction
  gStore = skiff::storage::openSqliteStore(o);
}

void openMemory(const benchmark::State&) {
  gStore = skiff::storage::openMemoryStore({.interval = {}, .retention = {}});
}

void closeStore(const benchmark::State&) {
  gStore.reset();
  if (!gPath.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(gPath + suffix);
    gPath.clear();
  }
}

// ~1 KiB, the order of a small Kubernetes object.
const std::string kValue(1024, 'x');

void BM_Create(benchmark::State& state) {
  for (auto _ : state) {
    auto res = gStore->create("/registry/pods/default/p-" + std::to_string(gKey++), kValue);
    if (!res.succeeded) state.SkipWithError("create failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Create)
    ->Setup(openSqlite)
    ->Teardown(closeStore)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime()
    ->Name("sqlite/create");
BENCHMARK(BM_Create)
    ->Setup(openMemory)
    ->Teardown(closeStore)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime()
    ->Name("memory/create");

// List of a 10,000-object prefix at the current revision.
void openFilledSqlite(const benchmark::State& state) {
  openSqlite(state);
  for (int i = 0; i < 10000; ++i) gStore->create("/registry/cm/ns/c-" + std::to_string(i), kValue);
}

void BM_RangePrefix(benchmark::State& state) {
  for (auto _ : state) {
    auto r = gStore->range("/registry/cm/", skiff::storage::prefixEnd("/registry/cm/"), 500);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_RangePrefix)
    ->Setup(openFilledSqlite)
    ->Teardown(closeStore)
    ->Name("sqlite/range500of10k");

}  // namespace
