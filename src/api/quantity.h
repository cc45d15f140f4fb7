// Quantity: the fixed-point resource amount of upstream's resource.Quantity ("100m", "64Mi",
// "1.5", "2e3"). Used by validation (requests <= limits), table printers (capacities) and the
// scheduler (resource fit). Values are held exactly in nano-units, which covers every amount a
// cluster meets (up to ~1.7e29); sub-nano fractions round up like upstream.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::api {

class Quantity {
 public:
  // How the amount is written back out (upstream keeps the suffix family of the input).
  enum class Format { DecimalSI, BinarySI, DecimalExponent };

  Quantity() = default;

  // Parses upstream's grammar: <sign>?<digits>[.<digits>]<suffix>, suffix one of
  // Ki Mi Gi Ti Pi Ei | n u m "" k M G T P E | e<int> E<int>. nullopt when malformed.
  static std::optional<Quantity> parse(std::string_view text);
  static Quantity fromValue(int64_t value, Format format = Format::DecimalSI);
  static Quantity fromMilli(int64_t milli, Format format = Format::DecimalSI);

  // Whole units, rounded up (ceil) and saturated to int64, as upstream Value().
  int64_t value() const;
  // Thousandths, rounded up and saturated, as upstream MilliValue().
  int64_t milliValue() const;

  bool isZero() const { return nanos_ == 0; }
  int sign() const { return nanos_ < 0 ? -1 : (nanos_ > 0 ? 1 : 0); }
  Format format() const { return format_; }

  // Canonical form as upstream String(): "500m", "1536Mi", "2k", "1e3".
  std::string toString() const;

  Quantity& operator+=(const Quantity& o);
  Quantity& operator-=(const Quantity& o);
  friend Quantity operator+(Quantity a, const Quantity& b) { return a += b; }
  friend Quantity operator-(Quantity a, const Quantity& b) { return a -= b; }
  // Compares amounts only; the format does not take part.
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    return a.nanos_ <=> b.nanos_;
  }
  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }

 private:
  __int128 nanos_ = 0;  // the amount in units of 1e-9
  Format format_ = Format::DecimalSI;
};

}  // namespace skiff::api
