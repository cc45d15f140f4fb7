#include "controller/cron_schedule.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace skiff::controller {
namespace {

constexpr int64_t kDay = 86400;

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Proleptic Gregorian calendar <-> days since 1970-01-01 (the classic era-based algorithm).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = floorDiv(y, 400);
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};

Civil civilFromSeconds(int64_t s) {
  int64_t days = floorDiv(s, kDay);
  int64_t sod = s - days * kDay;
  int64_t z = days + 719468;
  const int64_t era = floorDiv(z, 146097);
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  Civil c;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2);
  c.hour = static_cast<unsigned>(sod / 3600);
  c.minute = static_cast<unsigned>(sod % 3600 / 60);
  c.second = static_cast<unsigned>(sod % 60);
  c.weekday = static_cast<unsigned>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return c;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::vector<std::string> fields(const std::string& s) {
  std::istringstream in(s);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

struct Bounds {
  int min, max;
  const std::vector<std::string>* names;  // names[i] is value min+i... see nameValue
};

const std::vector<std::string> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
const std::vector<std::string> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// A non-negative decimal, with robfig's error wording.
bool parseNumber(const std::string& s, int& out, std::string* error) {
  if (s.empty() || s.size() > 9) {
    *error = "failed to parse int from " + s;
    return false;
  }
  if (s[0] == '-') {
    *error = "negative number (" + s + ") not allowed: " + s;
    return false;
  }
  for (char ch : s)
    if (!std::isdigit(static_cast<unsigned char>(ch))) {
      *error =
          "failed to parse int from " + s + ": strconv.Atoi: parsing \"" + s + "\": invalid syntax";
      return false;
    }
  out = std::stoi(s);
  return true;
}

bool parseValue(const std::string& s, const Bounds& b, int& out, std::string* error) {
  if (b.names) {
    auto l = lower(s);
    for (size_t i = 0; i < b.names->size(); ++i)
      if ((*b.names)[i] == l) {
        // Months are named from 1, days from 0: the bound's minimum is the first name's value.
        out = b.min + static_cast<int>(i);
        return true;
      }
  }
  return parseNumber(s, out, error);
}

// One comma-separated term ("*", "N", "N-M", each with an optional "/step") into `bits`.
bool parseRange(const std::string& expr, const Bounds& b, uint64_t& bits, bool& star,
                std::string* error) {
  auto rangeAndStep = split(expr, '/');
  auto lowAndHigh = split(rangeAndStep[0], '-');
  bool single = lowAndHigh.size() == 1;
  int start = 0, end = 0, step = 1;
  bool isStar = false;
  if (lowAndHigh[0] == "*" || lowAndHigh[0] == "?") {
    start = b.min;
    end = b.max;
    isStar = true;
  } else {
    if (!parseValue(lowAndHigh[0], b, start, error)) return false;
    if (lowAndHigh.size() == 1) {
      end = start;
    } else if (lowAndHigh.size() == 2) {
      if (!parseValue(lowAndHigh[1], b, end, error)) return false;
    } else {
      *error = "too many hyphens: " + expr;
      return false;
    }
  }
  if (rangeAndStep.size() == 2) {
    if (!parseNumber(rangeAndStep[1], step, error)) return false;
    // "N/step" means "N-max/step".
    if (single) end = b.max;
    // A stepped star restricts the field (robfig drops the star bit), which matters for
    // the day-of-month/day-of-week OR rule.
    if (step > 1) isStar = false;
  } else if (rangeAndStep.size() > 2) {
    *error = "too many slashes: " + expr;
    return false;
  }
  if (start < b.min) {
    *error = "beginning of range (" + std::to_string(start) + ") below minimum (" +
             std::to_string(b.min) + "): " + expr;
    return false;
  }
  if (end > b.max) {
    *error = "end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(b.max) +
             "): " + expr;
    return false;
  }
  if (start > end) {
    *error = "beginning of range (" + std::to_string(start) + ") beyond end of range (" +
             std::to_string(end) + "): " + expr;
    return false;
  }
  if (step == 0) {
    *error = "step of range should be a positive number: " + expr;
    return false;
  }
  for (int v = start; v <= end; v += step) bits |= uint64_t{1} << v;
  if (isStar) star = true;
  return true;
}

bool parseField(const std::string& field, const Bounds& b, uint64_t& bits, bool& star,
                std::string* error) {
  for (const auto& term : split(field, ','))
    if (!parseRange(term, b, bits, star, error)) return false;
  return true;
}

// Go's time.ParseDuration for what "@every" takes: a sequence of <number><unit>, units
// h, m, s, ms, us/µs, ns, with decimal fractions. Returns nanoseconds.
std::optional<double> parseGoDuration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  if (s == "0") return 0.0;
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return std::nullopt;
    double n = std::strtod(s.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && !std::isdigit(static_cast<unsigned char>(s[k])) && s[k] != '.') ++k;
    std::string unit = s.substr(j, k - j);
    double mult;
    if (unit == "h")
      mult = 3600e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "us" || unit == "\xC2\xB5s")
      mult = 1e3;
    else if (unit == "ns")
      mult = 1;
    else
      return std::nullopt;
    total += n * mult;
    i = k;
  }
  return total;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t beInt(const std::string& data, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(data[pos + i]);
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

TimeZone TimeZone::utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

std::optional<TimeZone> TimeZone::load(const std::string& requested) {
  std::string name = requested;
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return utc();
  std::optional<std::string> data;
  if (name == "Local") {
    const char* tz = std::getenv("TZ");
    std::string env = tz ? tz : "";
    if (!env.empty() && env[0] == ':') env = env.substr(1);
    if (!env.empty() && env != "Local") {
      if (env == "UTC") return utc();
      auto z = load(env);
      if (z) z->name_ = "Local";
      return z ? z : utc();
    }
    data = readFile("/etc/localtime");
    if (!data) return utc();
  } else {
    // Go accepts only plain relative names: no "..", no absolute paths.
    if (name[0] == '/' || name.find("..") != std::string::npos ||
        name.find('\\') != std::string::npos)
      return std::nullopt;
    std::vector<std::string> dirs;
    if (const char* zi = std::getenv("ZONEINFO"); zi && *zi) dirs.push_back(zi);
    dirs.push_back("/usr/share/zoneinfo");
    dirs.push_back("/usr/share/lib/zoneinfo");
    dirs.push_back("/usr/lib/locale/TZ");
    for (const auto& d : dirs)
      if ((data = readFile(d + "/" + name))) break;
    if (!data) return std::nullopt;
  }
  // TZif (RFC 8536): prefer the 64-bit data block of version 2+ files.
  const std::string& f = *data;
  auto header = [&](size_t pos, int64_t c[6]) {
    if (pos + 44 > f.size() || f.compare(pos, 4, "TZif") != 0) return false;
    for (int i = 0; i < 6; ++i) c[i] = beInt(f, pos + 20 + 4 * i, 4);
    for (int i = 0; i < 6; ++i)
      if (c[i] < 0) return false;
    return true;
  };
  int64_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  if (!header(0, c)) return std::nullopt;
  size_t pos = 44;
  int timeSize = 4;
  if (f[4] >= '2') {
    pos += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (!header(pos, c)) return std::nullopt;
    pos += 44;
    timeSize = 8;
  }
  const int64_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0 || pos + timecnt * (timeSize + 1) + typecnt * 6 > f.size()) return std::nullopt;
  std::vector<int32_t> typeOffsets;
  size_t typesAt = pos + timecnt * (timeSize + 1);
  for (int64_t i = 0; i < typecnt; ++i)
    typeOffsets.push_back(static_cast<int32_t>(beInt(f, typesAt + i * 6, 4)));
  TimeZone z;
  z.name_ = requested;
  z.initialOffset_ = typeOffsets[0];
  for (int64_t i = 0; i < timecnt; ++i) {
    int64_t t = beInt(f, pos + i * timeSize, timeSize);
    auto idx = static_cast<unsigned char>(f[pos + timecnt * timeSize + i]);
    if (idx >= typeOffsets.size()) return std::nullopt;
    z.transitions_.push_back(t);
    z.offsets_.push_back(typeOffsets[idx]);
  }
  return z;
}

int64_t TimeZone::offsetAt(int64_t utcSeconds) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utcSeconds);
  if (it == transitions_.begin()) return initialOffset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

int64_t TimeZone::toUtc(int64_t local) const {
  int64_t o = offsetAt(local - offsetAt(local));
  if (offsetAt(local - o) == o) return local - o;
  // Inside a forward jump no offset is consistent: read the wall time with the offset that
  // was in effect before the jump, which lands after it (Go: 02:30 on a spring-forward day
  // becomes 03:30).
  return local - offsetAt(local - o - kDay);
}

std::optional<CronSchedule> CronSchedule::parse(const std::string& input, std::string* error,
                                                const TimeZone& defaultZone) {
  std::string dummy;
  if (!error) error = &dummy;
  std::string spec = trim(input);
  if (spec.empty()) {
    *error = "empty spec string";
    return std::nullopt;
  }
  CronSchedule s;
  s.zone_ = defaultZone;
  if (spec.rfind("TZ=", 0) == 0 || spec.rfind("CRON_TZ=", 0) == 0) {
    size_t eq = spec.find('='), sp = spec.find_first_of(" \t");
    std::string zoneName =
        spec.substr(eq + 1, sp == std::string::npos ? std::string::npos : sp - eq - 1);
    auto zone = TimeZone::load(zoneName);
    if (!zone) {
      *error = "provided bad location " + zoneName + ": unknown time zone " + zoneName;
      return std::nullopt;
    }
    s.zone_ = *zone;
    spec = sp == std::string::npos ? "" : trim(spec.substr(sp));
  }
  if (!spec.empty() && spec[0] == '@') {
    static const std::vector<std::pair<std::string, std::string>> descriptors = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    bool found = false;
    for (const auto& [d, expansion] : descriptors)
      if (spec == d) {
        spec = expansion;
        found = true;
      }
    if (!found) {
      if (spec.rfind("@every ", 0) == 0) {
        auto ns = parseGoDuration(trim(spec.substr(7)));
        if (!ns) {
          *error = "failed to parse duration " + spec + ": time: invalid duration \"" +
                   trim(spec.substr(7)) + "\"";
          return std::nullopt;
        }
        s.everySeconds_ = std::max<int64_t>(1, static_cast<int64_t>(*ns / 1e9));
        return s;
      }
      *error = "unrecognized descriptor: " + spec;
      return std::nullopt;
    }
  }
  auto f = fields(spec);
  if (f.size() != 5) {
    *error = "expected exactly 5 fields, found " + std::to_string(f.size()) + ": [";
    for (size_t i = 0; i < f.size(); ++i) *error += (i ? " " : "") + f[i];
    *error += "]";
    return std::nullopt;
  }
  bool ignored = false;
  if (!parseField(f[0], {0, 59, nullptr}, s.minutes_, ignored, error) ||
      !parseField(f[1], {0, 23, nullptr}, s.hours_, ignored, error) ||
      !parseField(f[2], {1, 31, nullptr}, s.dom_, s.domStar_, error) ||
      !parseField(f[3], {1, 12, &kMonthNames}, s.months_, ignored, error) ||
      !parseField(f[4], {0, 6, &kDayNames}, s.dow_, s.dowStar_, error))
    return std::nullopt;
  return s;
}

bool CronSchedule::dayMatches(int year, unsigned month, unsigned day) const {
  bool domMatch = (dom_ >> day) & 1;
  unsigned weekday = civilFromSeconds(daysFromCivil(year, month, day) * kDay).weekday;
  bool dowMatch = (dow_ >> weekday) & 1;
  if (domStar_ || dowStar_) return domMatch && dowMatch;
  return domMatch || dowMatch;
}

std::optional<SysSeconds> CronSchedule::next(SysSeconds t) const {
  const int64_t now = t.time_since_epoch().count();
  if (everySeconds_ > 0) return SysSeconds(std::chrono::seconds(now + everySeconds_));
  // Walk wall-clock time in the schedule's zone, jumping whole months, days, hours and
  // minutes that cannot match (robfig's algorithm).
  int64_t local = floorDiv(now + zone_.offsetAt(now), 60) * 60 + 60;
  const int64_t yearLimit = civilFromSeconds(local).year + 5;
  while (true) {
    Civil c = civilFromSeconds(local);
    if (c.year > yearLimit) return std::nullopt;
    if (!((months_ >> c.month) & 1)) {
      int64_t y = c.year + (c.month == 12), m = c.month == 12 ? 1 : c.month + 1;
      local = daysFromCivil(y, static_cast<unsigned>(m), 1) * kDay;
      continue;
    }
    if (!dayMatches(static_cast<int>(c.year), c.month, c.day)) {
      local = (floorDiv(local, kDay) + 1) * kDay;
      continue;
    }
    if (!((hours_ >> c.hour) & 1)) {
      local = (floorDiv(local, 3600) + 1) * 3600;
      continue;
    }
    if (!((minutes_ >> c.minute) & 1)) {
      local += 60;
      continue;
    }
    int64_t utc = zone_.toUtc(local);
    if (utc <= now) {  // a repeated wall-clock hour read before `t`
      local += 60;
      continue;
    }
    return SysSeconds(std::chrono::seconds(utc));
  }
}

std::string formatRfc3339In(SysSeconds t, const TimeZone& zone) {
  int64_t s = t.time_since_epoch().count();
  int64_t off = zone.offsetAt(s);
  Civil c = civilFromSeconds(s + off);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u",
                        static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  std::string out(buf, static_cast<size_t>(n));
  if (off == 0) return out + "Z";
  int64_t a = off < 0 ? -off : off;
  std::snprintf(buf, sizeof buf, "%c%02lld:%02lld", off < 0 ? '-' : '+',
                static_cast<long long>(a / 3600), static_cast<long long>(a % 3600 / 60));
  return out + buf;
}

std::string formatRfc1123z(SysSeconds t) {
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Civil c = civilFromSeconds(t.time_since_epoch().count());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02u:%02u:%02u +0000", days[c.weekday], c.day,
                months[c.month - 1], static_cast<long long>(c.year), c.hour, c.minute, c.second);
  return buf;
}

}  // namespace skiff::controller
