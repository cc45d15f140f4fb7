#include "cloud/cloud_provider.h"

#include <map>

namespace skiff::cloud {
namespace {
std::map<std::string, ProviderFactory>& registry() {
  static std::map<std::string, ProviderFactory> r;
  return r;
}
}  // namespace

ProviderRegistration::ProviderRegistration(std::string name, ProviderFactory factory) {
  registry()[std::move(name)] = std::move(factory);
}

std::vector<std::string> registeredProviders() {
  std::vector<std::string> names;
  for (const auto& [name, _] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<CloudProvider> makeProvider(const std::string& name, const ProviderConfig& config) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : registeredProviders()) known += (known.empty() ? "" : ", ") + n;
    throw CloudError("unknown cloud provider \"" + name + "\" (known: " + known + ")");
  }
  return it->second(config);
}

}  // namespace skiff::cloud
