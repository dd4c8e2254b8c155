// StartCalendarInterval: next_fire over civil time, and the engine's use of it.
#include "harness.hpp"
#include "job/calendar.hpp"

namespace xpcd::job::test {
namespace {

using manifest::CalendarInterval;

CivilTime ct(int y, int mo, int d, int h, int mi) { return {y, mo, d, h, mi}; }

std::optional<CivilTime> next(CalendarInterval e, CivilTime after) { return next_fire(e, after); }

}  // namespace

TEST_CASE("weekday_of counts from Sunday as 0") {
  CHECK(weekday_of(2024, 1, 1) == 1);   // Monday
  CHECK(weekday_of(2024, 2, 29) == 4);  // Thursday
  CHECK(weekday_of(2000, 2, 29) == 2);  // Tuesday
  CHECK(weekday_of(2024, 1, 7) == 0);   // Sunday
}

TEST_CASE("an entry with every field unset fires every minute") {
  CHECK(next({}, ct(2024, 1, 1, 0, 0)) == ct(2024, 1, 1, 0, 1));
  SUBCASE("across midnight, month end and year end") {
    CHECK(next({}, ct(2024, 1, 31, 23, 59)) == ct(2024, 2, 1, 0, 0));
    CHECK(next({}, ct(2024, 12, 31, 23, 59)) == ct(2025, 1, 1, 0, 0));
    CHECK(next({}, ct(2024, 2, 28, 23, 59)) == ct(2024, 2, 29, 0, 0));
    CHECK(next({}, ct(2023, 2, 28, 23, 59)) == ct(2023, 3, 1, 0, 0));
  }
}

TEST_CASE("the next fire is strictly after the given minute") {
  const CalendarInterval e{.minute = 30};
  CHECK(next(e, ct(2024, 1, 1, 10, 29)) == ct(2024, 1, 1, 10, 30));
  CHECK(next(e, ct(2024, 1, 1, 10, 30)) == ct(2024, 1, 1, 11, 30));
  CHECK(next(e, ct(2024, 1, 1, 23, 45)) == ct(2024, 1, 2, 0, 30));
}

TEST_CASE("Hour alone fires every minute of that hour, as cron does") {
  const CalendarInterval e{.hour = 3};
  CHECK(next(e, ct(2024, 1, 1, 2, 59)) == ct(2024, 1, 1, 3, 0));
  CHECK(next(e, ct(2024, 1, 1, 3, 0)) == ct(2024, 1, 1, 3, 1));
  CHECK(next(e, ct(2024, 1, 1, 3, 59)) == ct(2024, 1, 2, 3, 0));
}

TEST_CASE("Hour and Minute fire once a day") {
  const CalendarInterval e{.minute = 15, .hour = 3};
  CHECK(next(e, ct(2024, 1, 1, 3, 14)) == ct(2024, 1, 1, 3, 15));
  CHECK(next(e, ct(2024, 1, 1, 3, 15)) == ct(2024, 1, 2, 3, 15));
  CHECK(next(e, ct(2024, 12, 31, 4, 0)) == ct(2025, 1, 1, 3, 15));
}

TEST_CASE("a Day a month does not have skips that month") {
  const CalendarInterval e{.minute = 0, .hour = 0, .day = 31};
  CHECK(next(e, ct(2024, 1, 31, 0, 0)) == ct(2024, 3, 31, 0, 0));  // no Feb 31
  CHECK(next(e, ct(2024, 4, 1, 0, 0)) == ct(2024, 5, 31, 0, 0));   // no Apr 31
  CHECK(next(e, ct(2024, 1, 30, 23, 59)) == ct(2024, 1, 31, 0, 0));
  SUBCASE("Day 30 skips only February") {
    const CalendarInterval d30{.minute = 0, .hour = 0, .day = 30};
    CHECK(next(d30, ct(2024, 1, 30, 0, 0)) == ct(2024, 3, 30, 0, 0));
  }
}

TEST_CASE("February 29 fires only in leap years, skipping century years that are not") {
  const CalendarInterval e{.minute = 0, .hour = 0, .day = 29, .month = 2};
  CHECK(next(e, ct(2023, 3, 1, 0, 0)) == ct(2024, 2, 29, 0, 0));
  CHECK(next(e, ct(2024, 2, 29, 0, 0)) == ct(2028, 2, 29, 0, 0));
  CHECK(next(e, ct(2096, 3, 1, 0, 0)) == ct(2104, 2, 29, 0, 0));  // 2100 is not a leap year
  CHECK(next(e, ct(1999, 3, 1, 0, 0)) == ct(2000, 2, 29, 0, 0));  // 2000 is
}

TEST_CASE("an entry that matches no date never fires") {
  CHECK_FALSE(next({.day = 30, .month = 2}, ct(2024, 1, 1, 0, 0)).has_value());
  CHECK_FALSE(next({.day = 31, .month = 4}, ct(2024, 1, 1, 0, 0)).has_value());
  CHECK_FALSE(next({.minute = 60}, ct(2024, 1, 1, 0, 0)).has_value());
  SUBCASE("an invalid 'after' gives nothing rather than a guess") {
    CHECK_FALSE(next({}, ct(2023, 2, 29, 0, 0)).has_value());
    CHECK_FALSE(next({}, ct(2024, 1, 1, 24, 0)).has_value());
  }
}

TEST_CASE("Weekday 0 and 7 are both Sunday") {
  for (int sunday : {0, 7}) {
    CAPTURE(sunday);
    const CalendarInterval e{.minute = 0, .hour = 0, .weekday = sunday};
    CHECK(next(e, ct(2024, 1, 1, 0, 0)) == ct(2024, 1, 7, 0, 0));
    CHECK(next(e, ct(2024, 1, 7, 0, 0)) == ct(2024, 1, 14, 0, 0));
  }
}

TEST_CASE("Day and Weekday both set fire on a date matching either, as cron does") {
  const CalendarInterval e{.minute = 0, .hour = 12, .day = 10, .weekday = 5};  // the 10th, or a Friday
  CHECK(next(e, ct(2024, 1, 6, 0, 0)) == ct(2024, 1, 10, 12, 0));   // Wednesday the 10th
  CHECK(next(e, ct(2024, 1, 10, 12, 0)) == ct(2024, 1, 12, 12, 0)); // then Friday the 12th
  CHECK(next(e, ct(2024, 1, 12, 12, 0)) == ct(2024, 1, 19, 12, 0)); // next Friday
}

TEST_CASE("Month with Weekday fires on that weekday of that month only") {
  const CalendarInterval e{.minute = 0, .hour = 0, .weekday = 0, .month = 3};
  CHECK(next(e, ct(2024, 1, 1, 0, 0)) == ct(2024, 3, 3, 0, 0));
  CHECK(next(e, ct(2024, 3, 31, 0, 0)) == ct(2025, 3, 2, 0, 0));
}

TEST_CASE("Month and Day fire once a year") {
  const CalendarInterval e{.minute = 0, .hour = 0, .day = 1, .month = 1};
  CHECK(next(e, ct(2024, 1, 1, 0, 0)) == ct(2025, 1, 1, 0, 0));
}

TEST_CASE("an array of entries fires at the earliest of them") {
  const std::vector<CalendarInterval> v{{.minute = 0, .hour = 9}, {.minute = 30, .hour = 8}, {.day = 30, .month = 2}};
  CHECK(next_fire(v, ct(2024, 1, 1, 8, 0)) == ct(2024, 1, 1, 8, 30));
  CHECK(next_fire(v, ct(2024, 1, 1, 8, 30)) == ct(2024, 1, 1, 9, 0));
  CHECK_FALSE(next_fire(std::vector<CalendarInterval>{{.day = 30, .month = 2}}, ct(2024, 1, 1, 0, 0)).has_value());
  CHECK_FALSE(next_fire(std::vector<CalendarInterval>{}, ct(2024, 1, 1, 0, 0)).has_value());
}

TEST_CASE("a calendar job arms its wall-clock timer at load and starts when it fires") {
  JobSpec spec = plain_spec();
  spec.calendar.push_back({.minute = 0, .hour = 3});
  Harness h(spec);
  CHECK(h.load(ct(2024, 1, 1, 12, 0)) == Effects{ArmCalendar{ct(2024, 1, 2, 3, 0)}});
  CHECK(h.job.state() == State::stopped);
  h.advance(15h);
  CHECK(h.send(CalendarFired{ct(2024, 1, 2, 3, 0)}) == Effects{ArmCalendar{ct(2024, 1, 3, 3, 0)}, Spawn{1}});
  SUBCASE("a fire while the job runs only re-arms") {
    h.spawned();
    CHECK(h.job.state() == State::running);
    CHECK(h.send(CalendarFired{ct(2024, 1, 3, 3, 0)}) == Effects{ArmCalendar{ct(2024, 1, 4, 3, 0)}});
  }
  SUBCASE("bootout cancels it") {
    h.spawned();
    CHECK(h.send(Bootout{}) == Effects{CancelTimer{TimerKind::calendar}, Kill{1, SIGTERM},
                                       ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  }
}

TEST_CASE("a calendar that matches no date is logged once and never armed") {
  JobSpec spec = plain_spec();
  spec.calendar.push_back({.day = 30, .month = 2});
  Harness h(spec);
  CHECK(h.load() == Effects{});
  REQUIRE(h.last_logs.size() == 1);
  CHECK(h.last_logs[0].event == LogEvent::calendar_never);
  CHECK(h.send(Bootout{}) == Effects{Removed{}});
}

}  // namespace xpcd::job::test
