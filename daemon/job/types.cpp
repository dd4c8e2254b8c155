// Descriptions of the engine's value types (types.hpp, effects.hpp).
#include <string.h>  // sigabbrev_np (glibc 2.32): a table lookup, no syscall

#include <cstdio>

#include "job/effects.hpp"
#include "job/types.hpp"

namespace xpcd::job {

std::string to_string(const CivilTime& t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", t.year, t.month, t.day, t.hour, t.minute);
  return buf;
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbrev;
}

std::string describe(const ExitStatus& status) {
  if (status.signaled) return "killed by signal " + signal_name(status.code);
  return "exited with status " + std::to_string(status.code);
}

std::string_view to_string(TimerKind kind) {
  switch (kind) {
    case TimerKind::activation: return "activation";
    case TimerKind::exit_timeout: return "exit-timeout";
    case TimerKind::throttle: return "throttle";
    case TimerKind::start_interval: return "start-interval";
    case TimerKind::calendar: return "calendar";
    case TimerKind::idle: return "idle";
    case TimerKind::watchdog: return "watchdog";
  }
  return "?";
}

std::string_view to_string(LogEvent event) {
  switch (event) {
    case LogEvent::instance_failed: return "instance-failed";
    case LogEvent::throttled: return "throttled";
    case LogEvent::deadline_passed: return "deadline-passed";
    case LogEvent::escalated: return "escalated";
    case LogEvent::calendar_never: return "calendar-never";
    case LogEvent::lookup_refused: return "lookup-refused";
    case LogEvent::exit_if_idle: return "exit-if-idle";
    case LogEvent::busy: return "busy";
    case LogEvent::idle_exit: return "idle-exit";
    case LogEvent::relaunched: return "relaunched";
    case LogEvent::watchdog: return "watchdog";
  }
  return "?";
}

namespace {

std::string ids(const std::vector<LookupId>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

std::string ms(TimePoint t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) + "ms";
}

struct Describe {
  std::string operator()(const Spawn& e) const { return "Spawn{" + std::to_string(e.instance) + "}"; }
  std::string operator()(const Kill& e) const {
    return "Kill{" + std::to_string(e.instance) + "," + signal_name(e.signal) + "}";
  }
  std::string operator()(const ArmTimer& e) const {
    return "ArmTimer{" + std::string(to_string(e.kind)) + "," + ms(e.at) + "}";
  }
  std::string operator()(const CancelTimer& e) const { return "CancelTimer{" + std::string(to_string(e.kind)) + "}"; }
  std::string operator()(const ArmCalendar& e) const { return "ArmCalendar{" + to_string(e.at) + "}"; }
  std::string operator()(const DeliverLookups& e) const { return "DeliverLookups" + ids(e.ids); }
  std::string operator()(const FailLookups& e) const { return "FailLookups{" + ids(e.ids) + ",\"" + e.reason + "\"}"; }
  std::string operator()(const AskExitIfIdle& e) const {
    return "AskExitIfIdle{" + std::to_string(e.instance) + "," + e.reason + "}";
  }
  std::string operator()(const TerminationImminent& e) const {
    return "TerminationImminent{" + std::to_string(e.instance) + "}";
  }
  std::string operator()(const WatchSockets& e) const { return e.on ? "WatchSockets{on}" : "WatchSockets{off}"; }
  std::string operator()(const Refused& e) const { return "Refused{\"" + e.reason + "\"}"; }
  std::string operator()(const Removed&) const { return "Removed{}"; }
  std::string operator()(const Log& e) const {
    return "Log{" + std::string(to_string(e.event)) + ",\"" + e.text + "\"}";
  }
};

}  // namespace

std::string to_string(const Effect& effect) { return std::visit(Describe{}, effect); }

}  // namespace xpcd::job
