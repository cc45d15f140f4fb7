#include "controller/cron_schedule.h"

#include <gtest/gtest.h>

#include "common/ids.h"

namespace skiff::controller::testing {
namespace {

SysSeconds at(const std::string& rfc3339) {
  std::chrono::system_clock::time_point tp;
  EXPECT_TRUE(parseTime(rfc3339, tp)) << rfc3339;
  return std::chrono::floor<std::chrono::seconds>(tp);
}

std::string fmt(SysSeconds t) { return formatRfc3339In(t, TimeZone::utc()); }

// The next activation of `spec` after `from`, formatted in UTC ("none" when there is none).
std::string nextOf(const std::string& spec, const std::string& from) {
  std::string err;
  auto s = CronSchedule::parse(spec, &err);
  if (!s) return "error: " + err;
  auto n = s->next(at(from));
  return n ? fmt(*n) : "none";
}

}  // namespace

TEST(CronSchedule, EveryMinuteIsStrictlyAfter) {
  EXPECT_EQ(nextOf("* * * * *", "2026-11-28T02:15:00Z"), "2026-11-28T02:16:00Z");
  EXPECT_EQ(nextOf("* * * * *", "2026-11-28T02:15:59Z"), "2026-11-28T02:16:00Z");
  EXPECT_EQ(nextOf("*/1 * * * *", "2026-11-28T23:59:30Z"), "2026-11-29T00:00:00Z");
}

TEST(CronSchedule, ListsRangesSteps) {
  EXPECT_EQ(nextOf("*/15 * * * *", "2026-11-28T02:15:00Z"), "2026-11-28T02:30:00Z");
  EXPECT_EQ(nextOf("5,10,50 * * * *", "2026-11-28T02:11:00Z"), "2026-11-28T02:50:00Z");
  EXPECT_EQ(nextOf("0 9-17/4 * * *", "2026-11-28T13:00:00Z"), "2026-11-28T17:00:00Z");
  EXPECT_EQ(nextOf("0 9-17/4 * * *", "2026-11-28T17:00:00Z"), "2026-11-29T09:00:00Z");
  EXPECT_EQ(nextOf("30 6/6 * * *", "2026-11-28T19:00:00Z"), "2026-11-29T06:30:00Z");
  EXPECT_EQ(nextOf("0 0 1 */3 *", "2026-02-10T00:00:00Z"), "2026-04-01T00:00:00Z");
}

TEST(CronSchedule, NamesAreCaseInsensitive) {
  // 2026-11-28 is a Saturday.
  EXPECT_EQ(nextOf("0 12 * * MON", "2026-11-28T00:00:00Z"), "2026-11-30T12:00:00Z");
  EXPECT_EQ(nextOf("0 12 * * mon-wed", "2026-12-01T13:00:00Z"), "2026-12-02T12:00:00Z");
  EXPECT_EQ(nextOf("0 0 1 Jan,jul *", "2026-11-28T00:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 * feb sun", "2026-11-28T00:00:00Z"), "2027-02-07T00:00:00Z");
}

TEST(CronSchedule, DayOfMonthAndWeekCombineLikeRobfig) {
  // Both restricted: either matches (the 13th OR a Friday).
  EXPECT_EQ(nextOf("0 0 13 * 5", "2026-11-28T00:00:00Z"), "2026-12-04T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 1 * 1", "2026-11-28T00:00:00Z"), "2026-11-30T00:00:00Z");
  // Day-of-week a star: only the day of month counts.
  EXPECT_EQ(nextOf("0 0 13 * *", "2026-11-28T00:00:00Z"), "2026-12-13T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 13 * ?", "2026-11-28T00:00:00Z"), "2026-12-13T00:00:00Z");
  // Day of month a star: only the weekday counts.
  EXPECT_EQ(nextOf("0 0 * * 5", "2026-11-28T00:00:00Z"), "2026-12-04T00:00:00Z");
  // A stepped star is a restriction, so the OR rule applies (robfig drops the star bit).
  EXPECT_EQ(nextOf("0 0 */10 * 0", "2026-11-28T00:00:00Z"), "2026-11-29T00:00:00Z");
}

TEST(CronSchedule, Descriptors) {
  EXPECT_EQ(nextOf("@hourly", "2026-11-28T02:15:00Z"), "2026-11-28T03:00:00Z");
  EXPECT_EQ(nextOf("@daily", "2026-11-28T02:15:00Z"), "2026-11-29T00:00:00Z");
  EXPECT_EQ(nextOf("@midnight", "2026-11-28T02:15:00Z"), "2026-11-29T00:00:00Z");
  EXPECT_EQ(nextOf("@weekly", "2026-11-28T02:15:00Z"), "2026-11-29T00:00:00Z");
  EXPECT_EQ(nextOf("@monthly", "2026-11-28T02:15:00Z"), "2026-12-01T00:00:00Z");
  EXPECT_EQ(nextOf("@yearly", "2026-11-28T02:15:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@annually", "2026-11-28T02:15:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@every 1h30m", "2026-11-28T02:15:00Z"), "2026-11-28T03:45:00Z");
}

TEST(CronSchedule, LeapDaysAndImpossibleDates) {
  EXPECT_EQ(nextOf("0 0 29 2 *", "2026-11-28T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 30 2 *", "2026-11-28T00:00:00Z"), "none");
  EXPECT_EQ(nextOf("0 0 31 * *", "2026-11-28T00:00:00Z"), "2026-12-31T00:00:00Z");
}

TEST(CronSchedule, RejectsMalformedSpecs) {
  std::string err;
  EXPECT_FALSE(CronSchedule::parse("* * * *", &err));
  EXPECT_EQ(err, "expected exactly 5 fields, found 4: [* * * *]");
  EXPECT_FALSE(CronSchedule::parse("60 * * * *", &err));
  EXPECT_EQ(err, "end of range (60) above maximum (59): 60");
  EXPECT_FALSE(CronSchedule::parse("* * 0 * *", &err));
  EXPECT_EQ(err, "beginning of range (0) below minimum (1): 0");
  EXPECT_FALSE(CronSchedule::parse("5-1 * * * *", &err));
  EXPECT_EQ(err, "beginning of range (5) beyond end of range (1): 5-1");
  EXPECT_FALSE(CronSchedule::parse("*/0 * * * *", &err));
  EXPECT_EQ(err, "step of range should be a positive number: */0");
  EXPECT_FALSE(CronSchedule::parse("* * * * 7", &err));
  EXPECT_FALSE(CronSchedule::parse("1-2-3 * * * *", &err));
  EXPECT_FALSE(CronSchedule::parse("a * * * *", &err));
  EXPECT_FALSE(CronSchedule::parse("* * * foo *", &err));
  EXPECT_FALSE(CronSchedule::parse("@fortnightly", &err));
  EXPECT_EQ(err, "unrecognized descriptor: @fortnightly");
  EXPECT_FALSE(CronSchedule::parse("@every nope", &err));
  EXPECT_FALSE(CronSchedule::parse("", &err));
  EXPECT_FALSE(CronSchedule::parse("TZ=Nowhere/Atlantis * * * * *", &err));
  EXPECT_EQ(err, "provided bad location Nowhere/Atlantis: unknown time zone Nowhere/Atlantis");
}

TEST(CronSchedule, TimeZones) {
  auto ny = TimeZone::load("America/New_York");
  ASSERT_TRUE(ny);
  EXPECT_FALSE(TimeZone::load("Not/AZone"));
  EXPECT_FALSE(TimeZone::load("../etc/passwd"));
  EXPECT_TRUE(TimeZone::load("Local"));
  EXPECT_EQ(TimeZone::load("")->offsetAt(0), 0);
  // 09:00 New York is 14:00 UTC in winter and 13:00 UTC in summer.
  auto s = CronSchedule::parse("0 9 * * *", nullptr, *ny);
  ASSERT_TRUE(s);
  EXPECT_EQ(fmt(*s->next(at("2026-11-28T00:00:00Z"))), "2026-11-28T14:00:00Z");
  EXPECT_EQ(fmt(*s->next(at("2026-07-01T00:00:00Z"))), "2026-07-01T13:00:00Z");
  // Prefixes select the zone like spec.timeZone does.
  EXPECT_EQ(nextOf("CRON_TZ=America/New_York 0 9 * * *", "2026-11-28T00:00:00Z"),
            "2026-11-28T14:00:00Z");
  EXPECT_EQ(nextOf("TZ=UTC 0 9 * * *", "2026-11-28T00:00:00Z"), "2026-11-28T09:00:00Z");
  // 02:30 does not exist on 2026-03-08 in New York: it runs at 03:30 EDT (07:30 UTC).
  auto dst = CronSchedule::parse("30 2 * * *", nullptr, *ny);
  EXPECT_EQ(fmt(*dst->next(at("2026-03-08T05:00:00Z"))), "2026-03-08T07:30:00Z");
  EXPECT_EQ(formatRfc3339In(at("2026-11-28T14:00:00Z"), *ny), "2026-11-28T09:00:00-05:00");
  EXPECT_EQ(formatRfc1123z(at("2026-11-28T14:05:09Z")), "Sat, 28 Nov 2026 14:05:09 +0000");
}

}  // namespace skiff::controller::testing
