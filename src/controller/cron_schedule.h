// Cron schedules as the CronJob controller reads them: upstream parses spec.schedule with
// robfig/cron's standard parser, so this follows its semantics:
// - five fields: minute hour day-of-month month day-of-week; each a comma list of "*", "?",
//   "N", "N-M", with an optional "/step"; months JAN-DEC and days SUN-SAT by name
//   (case-insensitive); day-of-week 0-6 (Sunday is 0);
// - day-of-month and day-of-week combine with OR when both are restricted, and with AND when
//   either one starts with "*" or "?" (a "*/2" step is a restriction, as in robfig);
// - descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and "@every D"
//   (a Go duration such as 1h30m, rounded down to the second, at least 1 s);
// - an optional "TZ=Zone " or "CRON_TZ=Zone " prefix selects the zone the fields are read in.
//
// Time zones come from the system tz database (TZif files under /usr/share/zoneinfo, or
// $ZONEINFO): "UTC"/"Etc/UTC" and "Local" (the process' zone: $TZ or /etc/localtime) always
// work. Offsets beyond a file's last transition keep the last offset (Debian ships "fat"
// files with explicit transitions until 2037, so this matters only after that).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace skiff::controller {

using SysSeconds = std::chrono::sys_seconds;

class TimeZone {
 public:
  // nullopt when the name is unknown (Go's time.LoadLocation fails). "" is UTC, like Go.
  static std::optional<TimeZone> load(const std::string& name);
  static TimeZone utc();
  // Offset from UTC in seconds at the UTC instant `t`.
  int64_t offsetAt(int64_t utcSeconds) const;
  // The UTC instant of a local wall-clock time (seconds since the epoch read as if UTC). A
  // time skipped by a DST jump resolves after the jump, as Go's time.Date normalises.
  int64_t toUtc(int64_t localSeconds) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC instants, ascending
  std::vector<int32_t> offsets_;      // offset in effect from transitions_[i]
  int32_t initialOffset_ = 0;         // before the first transition
};

class CronSchedule {
 public:
  // nullopt with `error` set when the spec is not a valid schedule. `defaultZone` is used
  // when the spec has no TZ= prefix.
  static std::optional<CronSchedule> parse(const std::string& spec, std::string* error,
                                           const TimeZone& defaultZone = TimeZone::utc());
  // The first activation strictly after `t`; nullopt when none comes within five years
  // (e.g. "0 0 30 2 *"), where robfig returns the zero time.
  std::optional<SysSeconds> next(SysSeconds t) const;
  const TimeZone& zone() const { return zone_; }

 private:
  bool dayMatches(int year, unsigned month, unsigned day) const;

  uint64_t minutes_ = 0, hours_ = 0, dom_ = 0, months_ = 0, dow_ = 0;
  bool domStar_ = false, dowStar_ = false;
  int64_t everySeconds_ = 0;  // > 0 for "@every"
  TimeZone zone_ = TimeZone::utc();
};

// RFC 3339 in the zone's offset ("2026-11-28T02:15:00Z" for UTC, else "...+01:00"), as Go's
// time.Format(time.RFC3339) prints a time in a location.
std::string formatRfc3339In(SysSeconds t, const TimeZone& zone);
// "Sat, 28 Nov 2026 02:15:00 +0000" (Go's time.RFC1123Z of a UTC time).
std::string formatRfc1123z(SysSeconds t);

}  // namespace skiff::controller
