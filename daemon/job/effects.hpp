// Effects a Job (job.hpp) returns for the glue to carry out, in order.
// Plain values with ==, so tests compare them exactly, and to_string for
// test failures and debug logs.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "job/types.hpp"

namespace xpcd::job {

// Start an instance now. The glue builds the SpawnPlan from the JobSpec,
// spawns, and reports SpawnSucceeded or SpawnFailed for this instance, then
// Exited when its process ends. It holds the child's pidfd from the spawn
// on, so Kill may come before SpawnSucceeded.
struct Spawn {
  InstanceId instance;
  bool operator==(const Spawn&) const = default;
};
// Send a signal to the instance (pidfd_send_signal). A Kill for an instance
// the glue has already reaped is dropped.
struct Kill {
  InstanceId instance;
  int signal;
  bool operator==(const Kill&) const = default;
};
// Arm the job's monotonic timer of this kind (replacing it if armed); the
// glue reports TimerFired{kind} when it fires.
struct ArmTimer {
  TimerKind kind;
  TimePoint at;
  bool operator==(const ArmTimer&) const = default;
};
struct CancelTimer {
  TimerKind kind;
  bool operator==(const CancelTimer&) const = default;
};
// Arm the wall-clock timer (TimerKind::calendar) for this local time; the
// glue reports CalendarFired. Time zone and DST are the glue's business.
struct ArmCalendar {
  CivilTime at;
  bool operator==(const ArmCalendar&) const = default;
};
// Hand these lookups' service ends to the checked-in instance.
struct DeliverLookups {
  std::vector<LookupId> ids;
  bool operator==(const DeliverLookups&) const = default;
};
// Fail these lookups: write an error with the reason into each held service
// end and close it (DESIGN 5.2). The reason starts with the job's label.
struct FailLookups {
  std::vector<LookupId> ids;
  std::string reason;
  bool operator==(const FailLookups&) const = default;
};
// Send exit-if-idle on the instance's checkin channel (DESIGN 6): it
// answers busy, or parks its connections, says exiting and exits 0.
// `reason`: "idle", "memory-pressure" or "stop".
struct AskExitIfIdle {
  InstanceId instance;
  std::string reason;
  bool operator==(const AskExitIfIdle&) const = default;
};
// Tell the instance, on its checkin channel, that it is about to be
// terminated: its peer connections get termination-imminent (DESIGN 5.4).
// Comes right before the Kill SIGTERM of a stop that cannot wait.
struct TerminationImminent {
  InstanceId instance;
  bool operator==(const TerminationImminent&) const = default;
};
// Watch (or stop watching) the job's Sockets listeners for readability.
struct WatchSockets {
  bool on;
  bool operator==(const WatchSockets&) const = default;
};
// A control request (kickstart, stop, kill) that cannot be honoured, with why.
struct Refused {
  std::string reason;
  bool operator==(const Refused&) const = default;
};
// The job is booted out and has no instance left. After this effect the
// glue drops the Job (fed further events, it fails lookups and refuses
// control requests).
struct Removed {
  bool operator==(const Removed&) const = default;
};

// A decision worth one log line, made here and logged once by the glue
// (STYLE 7). `event` goes to XPCD_EVENT=, `text` names the job.
enum class LogEvent {
  instance_failed,    // exited or failed to spawn before it was ready, or ran too briefly
  throttled,          // the next start waits for the backoff
  deadline_passed,    // activation deadline: stopping an instance that did not check in
  escalated,          // ExitTimeOut passed: SIGKILL
  calendar_never,     // StartCalendarInterval matches no date
  lookup_refused,     // a lookup failed at once (limit, disabled, removed, ...)
  exit_if_idle,       // asked an instance to exit (idle, memory pressure, stop)
  busy,               // it answered busy
  idle_exit,          // it parked its connections and exited
  relaunched,         // started again for work that came after an idle exit
  watchdog,           // the watchdog expired or the instance triggered it: SIGABRT
};
std::string_view to_string(LogEvent event);
struct Log {
  LogEvent event;
  std::string text;
  bool operator==(const Log&) const = default;
};

using Effect = std::variant<Spawn, Kill, ArmTimer, CancelTimer, ArmCalendar, DeliverLookups, FailLookups,
                            AskExitIfIdle, TerminationImminent, WatchSockets, Refused, Removed, Log>;
using Effects = std::vector<Effect>;

std::string to_string(const Effect& effect);

}  // namespace xpcd::job
