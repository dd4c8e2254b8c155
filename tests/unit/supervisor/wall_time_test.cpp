// wall_time_of (demand_watch.hpp): local civil minutes to wall-clock
// seconds across DST changes, in a zone that has them (Europe/Berlin:
// 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls
// back to 02:00 CET).
#include "supervisor/demand_watch.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

namespace {

std::time_t utc(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return ::timegm(&tm);
}

struct Zone {
  explicit Zone(const char* tz) {
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~Zone() {
    ::unsetenv("TZ");
    ::tzset();
  }
};

}  // namespace

TEST_CASE("an ordinary local minute is its wall-clock second") {
  Zone zone("Europe/Berlin");
  CHECK(xpcd::wall_time_of({2026, 6, 1, 12, 0}) == utc(2026, 6, 1, 10, 0));  // CEST, UTC+2
  CHECK(xpcd::wall_time_of({2026, 1, 1, 0, 0}) == utc(2025, 12, 31, 23, 0));  // CET, UTC+1
}

TEST_CASE("a minute skipped when DST starts fires the gap's length later") {
  Zone zone("Europe/Berlin");
  // 02:30 does not exist on 2026-03-29; 03:30 CEST is 01:30 UTC.
  CHECK(xpcd::wall_time_of({2026, 3, 29, 2, 30}) == utc(2026, 3, 29, 1, 30));
  CHECK(xpcd::wall_time_of({2026, 3, 29, 3, 0}) == utc(2026, 3, 29, 1, 0));
}

TEST_CASE("a minute repeated when DST ends fires at its first occurrence") {
  Zone zone("Europe/Berlin");
  // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
  CHECK(xpcd::wall_time_of({2026, 10, 25, 2, 30}) == utc(2026, 10, 25, 0, 30));
  CHECK(xpcd::wall_time_of({2026, 10, 25, 3, 0}) == utc(2026, 10, 25, 2, 0));
}

TEST_CASE("in UTC civil time is wall time") {
  Zone zone("UTC");
  CHECK(xpcd::wall_time_of({2024, 2, 29, 23, 59}) == utc(2024, 2, 29, 23, 59));
}
