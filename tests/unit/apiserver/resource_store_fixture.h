// What the API server unit tests that drive a ResourceStore directly share: the built-in
// registry over a memory Store, its watch cache and admission, and a "default" namespace.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/admission.h"
#include "apiserver/resource_store.h"

namespace skiff::apiserver::testing {

class ResourceStoreFixture : public ::testing::Test {
 protected:
  explicit ResourceStoreFixture(AdmissionOptions admissionOptions = {})
      : admission{caches, std::move(admissionOptions)} {}

  void SetUp() override {
    for (const auto& r : registry.all()) caches.cacheFor(r.storagePrefix());
    caches.start();
    RequestContext ctx;
    resources.create(info("namespaces"), "",
                     boost::json::parse(R"({"metadata":{"name":"default"}})"), ctx);
  }
  const api::ResourceInfo& info(const std::string& plural, const std::string& group = "",
                                const std::string& version = "v1") {
    return *registry.find(group, version, plural);
  }

  const api::ResourceRegistry& registry = api::ResourceRegistry::builtin();
  storage::StorePtr store = storage::openMemoryStore();
  CacheHub caches{*store};
  Admission admission;
  ResourceStore resources{*store, caches, admission};
};

}  // namespace skiff::apiserver::testing
