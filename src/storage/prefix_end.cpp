#include "storage/store.h"

namespace skiff::storage {
std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // whole keyspace: etcd uses "\0" as "no end"
}
}  // namespace skiff::storage
