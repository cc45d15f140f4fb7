#include "api/quantity.h"

#include <limits>

namespace skiff::api {
namespace {

using I128 = __int128;
constexpr I128 kMax = (((I128)1) << 126);  // saturation bound, far beyond any real amount
constexpr I128 kNanoPerUnit = 1000000000;

I128 mulSat(I128 a, I128 b) {
  if (a == 0 || b == 0) return 0;
  I128 absA = a < 0 ? -a : a, absB = b < 0 ? -b : b;
  bool neg = (a < 0) != (b < 0);
  if (absA > kMax / absB) return neg ? -kMax : kMax;
  I128 r = absA * absB;
  return neg ? -r : r;
}

I128 pow10(int e) {
  I128 r = 1;
  for (int i = 0; i < e; ++i) r = mulSat(r, 10);
  return r;
}

// Division rounding away from zero: upstream rounds sub-nano amounts up in magnitude.
I128 divUp(I128 a, I128 b) {
  I128 q = a / b;
  if (q * b != a) q += (a < 0) ? -1 : 1;
  return q;
}

int64_t clamp64(I128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

// Ceil division (toward +infinity), as upstream Value()/MilliValue() round up.
I128 divCeil(I128 a, I128 b) {
  I128 q = a / b;
  if (q * b != a && a > 0) q += 1;
  return q;
}

std::string i128ToString(I128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  if (neg) v = -v;
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return neg ? "-" + s : s;
}

bool parseSuffix(std::string_view s, int& exp10, int& exp2, Quantity::Format& format) {
  exp10 = 0;
  exp2 = 0;
  format = Quantity::Format::DecimalSI;
  if (s.empty()) return true;
  if (s.size() == 2 && s[1] == 'i') {
    static constexpr std::string_view kBin = "KMGTPE";
    auto pos = kBin.find(s[0]);
    if (pos == std::string_view::npos) return false;
    exp2 = 10 * static_cast<int>(pos + 1);
    format = Quantity::Format::BinarySI;
    return true;
  }
  if (s.size() == 1) {
    switch (s[0]) {
      case 'n':
        exp10 = -9;
        return true;
      case 'u':
        exp10 = -6;
        return true;
      case 'm':
        exp10 = -3;
        return true;
      case 'k':
        exp10 = 3;
        return true;
      case 'M':
        exp10 = 6;
        return true;
      case 'G':
        exp10 = 9;
        return true;
      case 'T':
        exp10 = 12;
        return true;
      case 'P':
        exp10 = 15;
        return true;
      case 'E':
        exp10 = 18;
        return true;
      default:
        return false;
    }
  }
  if (s[0] == 'e' || s[0] == 'E') {
    std::string_view rest = s.substr(1);
    bool neg = false;
    if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
      neg = rest[0] == '-';
      rest.remove_prefix(1);
    }
    if (rest.empty() || rest.size() > 4) return false;
    int e = 0;
    for (char c : rest) {
      if (c < '0' || c > '9') return false;
      e = e * 10 + (c - '0');
    }
    exp10 = neg ? -e : e;
    format = Quantity::Format::DecimalExponent;
    return true;
  }
  return false;
}

}  // namespace

std::optional<Quantity> Quantity::parse(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  bool neg = false;
  if (text[0] == '+' || text[0] == '-') {
    neg = text[0] == '-';
    ++i;
  }
  I128 mantissa = 0;
  int digits = 0, fracDigits = 0, dropped = 0;
  bool seenDot = false, anyDigit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (seenDot) return std::nullopt;
      seenDot = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    anyDigit = true;
    // Keep 36 significant digits; later ones only matter below nano precision or overflow.
    if (digits < 36) {
      mantissa = mantissa * 10 + (c - '0');
      if (mantissa != 0) ++digits;
      if (seenDot) ++fracDigits;
    } else if (!seenDot) {
      ++dropped;  // integer digit beyond precision: scales the value up
    }
    // Fractional digits beyond 36 significant ones are far below nano precision: ignored.
  }
  if (!anyDigit) return std::nullopt;
  int exp10 = 0, exp2 = 0;
  Format format;
  if (!parseSuffix(text.substr(i), exp10, exp2, format)) return std::nullopt;

  I128 v = mantissa;
  for (int k = 0; k < exp2; ++k) v = mulSat(v, 2);
  int scale = exp10 - fracDigits + dropped + 9;  // to nano-units
  if (scale >= 0) {
    v = mulSat(v, pow10(scale));
  } else if (scale < -36) {
    v = v == 0 ? 0 : 1;
  } else {
    v = divUp(v, pow10(-scale));
  }
  Quantity q;
  q.nanos_ = neg ? -v : v;
  q.format_ = format;
  return q;
}

Quantity Quantity::fromValue(int64_t value, Format format) {
  Quantity q;
  q.nanos_ = mulSat(value, kNanoPerUnit);
  q.format_ = format;
  return q;
}

Quantity Quantity::fromMilli(int64_t milli, Format format) {
  Quantity q;
  q.nanos_ = mulSat(milli, 1000000);
  q.format_ = format;
  return q;
}

int64_t Quantity::value() const { return clamp64(divCeil(nanos_, kNanoPerUnit)); }
int64_t Quantity::milliValue() const { return clamp64(divCeil(nanos_, 1000000)); }

Quantity& Quantity::operator+=(const Quantity& o) {
  nanos_ += o.nanos_;
  if (nanos_ > kMax) nanos_ = kMax;
  if (nanos_ < -kMax) nanos_ = -kMax;
  return *this;
}

Quantity& Quantity::operator-=(const Quantity& o) {
  nanos_ -= o.nanos_;
  if (nanos_ > kMax) nanos_ = kMax;
  if (nanos_ < -kMax) nanos_ = -kMax;
  return *this;
}

std::string Quantity::toString() const {
  if (nanos_ == 0) return "0";
  I128 mag = nanos_ < 0 ? -nanos_ : nanos_;
  std::string sign = nanos_ < 0 ? "-" : "";
  // Binary form only for whole amounts of at least 1024, as upstream.
  if (format_ == Format::BinarySI && mag % kNanoPerUnit == 0 && mag / kNanoPerUnit >= 1024) {
    I128 units = mag / kNanoPerUnit;
    static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int k = 0;
    while (k < 6 && units % 1024 == 0) {
      units /= 1024;
      ++k;
    }
    return sign + i128ToString(units) + kSuffix[k];
  }
  // Decimal: the largest power-of-1000 exponent that keeps the mantissa whole.
  int exp = -9;
  I128 m = mag;
  while (exp < 18 && m % 1000 == 0) {
    m /= 1000;
    exp += 3;
  }
  if (format_ == Format::DecimalExponent) {
    if (exp < 0) {
      // Upstream falls back to SI suffixes for fractions in exponent form too.
    } else {
      return sign + i128ToString(m) + (exp == 0 ? "" : "e" + std::to_string(exp));
    }
  }
  const char* suffix = "";
  switch (exp) {
    case -9:
      suffix = "n";
      break;
    case -6:
      suffix = "u";
      break;
    case -3:
      suffix = "m";
      break;
    case 0:
      suffix = "";
      break;
    case 3:
      suffix = "k";
      break;
    case 6:
      suffix = "M";
      break;
    case 9:
      suffix = "G";
      break;
    case 12:
      suffix = "T";
      break;
    case 15:
      suffix = "P";
      break;
    default:
      suffix = "E";
      break;
  }
  return sign + i128ToString(m) + suffix;
}

}  // namespace skiff::api
