// Test-side protobuf writer: builds wire bytes by hand, independently of the codec under
// test, so decoding is checked against bytes laid out exactly as the Go encoder does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::api::testing {

class Pb {
 public:
  Pb& varint(std::uint32_t n, std::uint64_t v) {
    key(n, 0);
    put(v);
    return *this;
  }
  Pb& str(std::uint32_t n, std::string_view s) {
    key(n, 2);
    put(s.size());
    bytes.append(s);
    return *this;
  }
  Pb& msg(std::uint32_t n, const Pb& m) { return str(n, m.bytes); }
  // Map entries {1: key, 2: value}.
  Pb& entry(std::uint32_t n, std::string_view k, std::string_view v) {
    return msg(n, Pb().str(1, k).str(2, v));
  }
  Pb& entry(std::uint32_t n, std::string_view k, const Pb& v) {
    return msg(n, Pb().str(1, k).msg(2, v));
  }
  Pb& raw(std::string_view b) {
    bytes.append(b);
    return *this;
  }

  std::string bytes;

 private:
  void key(std::uint32_t n, int wireType) { put((std::uint64_t(n) << 3) | unsigned(wireType)); }
  void put(std::uint64_t v) {
    while (v >= 0x80) {
      bytes.push_back(char((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes.push_back(char(v));
  }
};

// "k8s\0" + runtime.Unknown{typeMeta{apiVersion, kind}, raw}, as kubectl sends it.
inline std::string wrapObject(std::string_view apiVersion, std::string_view kind, const Pb& raw) {
  Pb unknown;
  unknown.msg(1, Pb().str(1, apiVersion).str(2, kind)).msg(2, raw).str(3, "").str(4, "");
  return std::string("k8s\0", 4) + unknown.bytes;
}

inline std::string fromHex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(char(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

}  // namespace skiff::api::testing
