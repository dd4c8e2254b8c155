// Value types of the job engine: time, ids, exit statuses, timer kinds.
// Pure values: no syscalls, no fds. Shared by events.hpp, effects.hpp and job.hpp.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace xpcd::job {

// Monotonic time, passed into the engine with every event. The engine never
// reads a clock; tests pass a fake one.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

// One waiting lookup. The glue assigns ids (unique per job while waiting)
// and keeps the connection; the engine only says "deliver" or "fail".
using LookupId = std::uint64_t;

// One instance (one Spawn). Assigned by the engine, counting from 1; events
// about an instance carry its id so that late events about an instance that
// is already gone are recognised and ignored.
using InstanceId = std::uint64_t;

// Civil local time at minute resolution, for StartCalendarInterval. The glue
// converts to and from the wall clock (time zone, DST); the engine only
// compares fields. month 1-12, day 1-31, hour 0-23, minute 0-59.
struct CivilTime {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  auto operator<=>(const CivilTime&) const = default;
};
std::string to_string(const CivilTime& t);  // "2024-02-29 03:07"

// How an instance ended, as waitid reports it.
struct ExitStatus {
  bool signaled = false;  // killed by a signal (code is the signal) or exited (code is the status)
  int code = 0;
  static ExitStatus exited(int status) { return {false, status}; }
  static ExitStatus killed(int signal) { return {true, signal}; }
  bool success() const { return !signaled && code == 0; }
  bool operator==(const ExitStatus&) const = default;
};
// "exited with status 1", "killed by signal SIGSEGV".
std::string describe(const ExitStatus& status);
// "SIGTERM"; "signal 77" for numbers without a name.
std::string signal_name(int signal);

// The engine's monotonic timers; at most one of each kind is armed per job.
// Arming a kind that is armed replaces it. The calendar timer is armed with
// a civil time (ArmCalendar) and only cancelled through this enum.
enum class TimerKind {
  activation,      // per spawn: the instance must check in before it fires
  exit_timeout,    // per stop: ExitTimeOut, SIGKILL when it fires
  throttle,        // the backoff after a failed instance
  start_interval,  // StartInterval
  calendar,        // StartCalendarInterval (wall clock)
  idle,            // TimeOut: clean that long, the instance is asked to exit
  watchdog,        // WatchdogSec: no WATCHDOG=1 that long, SIGABRT
};
inline constexpr std::size_t kTimerKindCount = 7;
std::string_view to_string(TimerKind kind);

}  // namespace xpcd::job
