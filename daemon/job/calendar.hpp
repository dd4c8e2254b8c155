// StartCalendarInterval: the next local minute a calendar entry matches.
// Pure functions over civil time values; the glue reads the wall clock,
// converts with the local time zone and arms a CLOCK_REALTIME timer.
// Semantics are cron's (crontab(5)), as launchd documents them:
//  * an unset field is a wildcard (Hour=3 alone fires every minute of 03:xx);
//  * Weekday 0 and 7 are both Sunday;
//  * Day and Weekday both set: a date matching either fires (cron's rule);
//  * a Day a month does not have (31 in April, 30 in February) never fires
//    in that month; Day=29 Month=2 fires only in leap years.
#pragma once

#include <optional>
#include <vector>

#include "job/types.hpp"
#include "manifest/job_spec.hpp"

namespace xpcd::job {

// How far ahead next_fire looks: nine years covers the longest gap between
// two matches of any satisfiable entry (Feb 29 skips at most 8 years, across
// a century year like 2100). Past this, an entry matches no date at all.
inline constexpr int kCalendarSearchYears = 9;

// The first minute strictly after `after` that matches `entry`, or nullopt
// if none does (Day=30 Month=2) or `after` is not a valid civil time.
std::optional<CivilTime> next_fire(const manifest::CalendarInterval& entry, const CivilTime& after);
// The earliest next_fire of any entry (StartCalendarInterval as an array).
std::optional<CivilTime> next_fire(const std::vector<manifest::CalendarInterval>& entries, const CivilTime& after);

// Day of the week, 0 = Sunday ... 6 = Saturday. Precondition: a valid date.
int weekday_of(int year, int month, int day);

}  // namespace xpcd::job
