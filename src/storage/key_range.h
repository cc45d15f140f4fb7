// KeyRange: the etcd notion of a key range shared by the store backends.
//   end empty        -> exactly `begin`
//   end == "\0"      -> every key >= begin (what prefixEnd returns for an all-0xff prefix)
//   otherwise        -> [begin, end)
// std::string comparison is bytewise unsigned (char_traits<char>), which is etcd's key order
// and SQLite's BLOB order, so both backends agree on range membership.
#pragma once

#include <string>
#include <string_view>

namespace skiff::storage {

struct KeyRange {
  std::string begin;
  std::string end;

  KeyRange() = default;
  KeyRange(std::string_view b, std::string_view e) : begin(b), end(e) {}

  bool singleKey() const { return end.empty(); }
  bool unbounded() const { return end.size() == 1 && end[0] == '\0'; }

  bool contains(std::string_view key) const {
    if (singleKey()) return key == begin;
    if (key < std::string_view(begin)) return false;
    return unbounded() || key < std::string_view(end);
  }
};

}  // namespace skiff::storage
