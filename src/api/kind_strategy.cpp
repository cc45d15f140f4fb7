#include "api/kind_strategy.h"

#include <string>
#include <unordered_map>

namespace skiff::api {

const KindStrategy* kindStrategy(std::string_view group, std::string_view kind) {
  // Built once from the list in kinds/all.cpp; keyed "group/Kind" (core: "/Kind").
  static const std::unordered_map<std::string, const KindStrategy*> byKind = [] {
    std::unordered_map<std::string, const KindStrategy*> m;
    for (const KindStrategy& s : builtinKindStrategies())
      m.emplace(std::string(s.group) + "/" + std::string(s.kind), &s);
    return m;
  }();
  std::string key;
  key.reserve(group.size() + kind.size() + 1);
  key.append(group).append("/").append(kind);
  auto it = byKind.find(key);
  return it == byKind.end() ? nullptr : it->second;
}

}  // namespace skiff::api
