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
  std::function<StorePtr(const TempDir&)> open;
};

inline std::vector<Backend> allBackends() {
  return {
      {"memory", [](const TempDir&) { return openMemoryStore(); }},
      {"sqlite",
       [](const TempDir& dir) {
         SqliteOptions o;
         o.path = dir.file("store.db");
         o.compactInterval = std::chrono::seconds(0);  // tests compact explicitly
         return openSqliteStore(o);
       }},
  };
}

inline std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { store = GetParam().open(dir); }
  void TearDown() override { store.reset(); }

  TempDir dir;
  StorePtr store;
};

}  // namespace skiff::storage::testing
