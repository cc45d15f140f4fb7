// The conformance fixture: every test in store_*_conformance_test.cpp runs against each
// backend through the Store interface only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "storage/store.h"
#include "store_test_util.h"

namespace skiff::storage::testing {

struct Backend {
  std::string name;
  std::function<StorePtr(const TempDir&, const CompactionPolicy&)> open;
};

// The fixture's stores do not compact by themselves: tests compact explicitly.
inline CompactionPolicy noBackgroundCompaction() {
  return CompactionPolicy{.interval = {}, .retention = {}};
}

inline std::vector<Backend> allBackends() {
  return {
      {"memory", [](const TempDir&, const CompactionPolicy& c) { return openMemoryStore(c); }},
      {"sqlite",
       [](const TempDir& dir, const CompactionPolicy& c) {
         SqliteOptions o;
         o.path = dir.file("store.db");
         o.compaction = c;
         return openSqliteStore(o);
       }},
  };
}

inline std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { store = GetParam().open(dir, noBackgroundCompaction()); }
  void TearDown() override { store.reset(); }

  TempDir dir;
  StorePtr store;
};

}  // namespace skiff::storage::testing
