// StartCalendarInterval matching (calendar.hpp).
#include "job/calendar.hpp"

#include <chrono>

namespace xpcd::job {
namespace {

namespace chr = std::chrono;
using manifest::CalendarInterval;

bool field_matches(const std::optional<int>& field, int value) { return !field || *field == value; }

bool date_matches(const CalendarInterval& e, const chr::year_month_day& ymd) {
  if (!field_matches(e.month, static_cast<int>(static_cast<unsigned>(ymd.month())))) return false;
  const bool dom = e.day && *e.day == static_cast<int>(static_cast<unsigned>(ymd.day()));
  const bool dow = e.weekday && *e.weekday % 7 == static_cast<int>(chr::weekday(chr::sys_days(ymd)).c_encoding());
  if (e.day && e.weekday) return dom || dow;  // cron: either restricted field matching is enough
  if (e.day) return dom;
  if (e.weekday) return dow;
  return true;
}

// The first minute of the day at or after `from` (minutes since midnight)
// that matches Hour and Minute, or -1.
int first_minute(const CalendarInterval& e, int from) {
  for (int m = from; m < 24 * 60; ++m) {
    if (field_matches(e.hour, m / 60) && field_matches(e.minute, m % 60)) return m;
  }
  return -1;
}

}  // namespace

int weekday_of(int year, int month, int day) {
  const chr::year_month_day ymd{chr::year{year}, chr::month{static_cast<unsigned>(month)},
                                chr::day{static_cast<unsigned>(day)}};
  return static_cast<int>(chr::weekday(chr::sys_days(ymd)).c_encoding());
}

std::optional<CivilTime> next_fire(const CalendarInterval& entry, const CivilTime& after) {
  const chr::year_month_day start{chr::year{after.year}, chr::month{static_cast<unsigned>(after.month)},
                                  chr::day{static_cast<unsigned>(after.day)}};
  if (!start.ok() || after.hour < 0 || after.hour > 23 || after.minute < 0 || after.minute > 59) return std::nullopt;
  const chr::sys_days first{start};
  const chr::sys_days last = first + chr::days{366 * kCalendarSearchYears};
  int from = after.hour * 60 + after.minute + 1;  // strictly after
  for (chr::sys_days d = first; d <= last; d += chr::days{1}, from = 0) {
    const chr::year_month_day ymd{d};
    if (!date_matches(entry, ymd)) continue;
    const int m = first_minute(entry, from);
    if (m < 0) continue;
    return CivilTime{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                     static_cast<int>(static_cast<unsigned>(ymd.day())), m / 60, m % 60};
  }
  return std::nullopt;
}

std::optional<CivilTime> next_fire(const std::vector<CalendarInterval>& entries, const CivilTime& after) {
  std::optional<CivilTime> best;
  for (const CalendarInterval& e : entries) {
    const std::optional<CivilTime> t = next_fire(e, after);
    if (t && (!best || *t < *best)) best = t;
  }
  return best;
}

}  // namespace xpcd::job
