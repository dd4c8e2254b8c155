// Events the glue feeds into a Job (job.hpp). Each is a plain value; the
// glue builds them from sd-event callbacks, the bootstrap socket, the
// checkin channel, NOTIFY_SOCKET datagrams and the control plane.
// Events about an instance carry its InstanceId; the engine ignores those
// about an instance that is no longer current (late or reordered reports).
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include "job/types.hpp"

namespace xpcd::job {

// --- life of the job ---
struct Load {               // the job was bootstrapped; always the first event
  CivilTime civil;          // local time now, to arm StartCalendarInterval
};
struct Bootout {};          // unload: stop, fail waiting lookups, then Removed
struct Enable {};           // xpcctl enable
struct Disable {};          // xpcctl disable: no new starts; a live instance is left alone

// --- demand ---
struct Lookup {             // a client looked up one of the job's MachServices
  LookupId id;
  bool parked = false;      // a connection parked at an idle exit, handed back: not new demand, never refused for the limit
};
struct SocketReadable {};   // a Sockets listener became readable while watched
struct WatchPathChanged {}; // one of WatchPaths changed
struct QueueDirectoriesChanged {  // QueueDirectories: whether any of them is non-empty now
  bool nonempty;
};
struct PathStateChanged {   // KeepAlive.PathState: the path now exists or not
  std::string path;
  bool exists;
};
struct OtherJobChanged {    // KeepAlive.OtherJobEnabled: that label is now loaded and enabled or not
  std::string label;
  bool enabled;
};
struct CalendarFired {      // the wall-clock timer of ArmCalendar fired
  CivilTime civil;          // local time now (the minute it fired for)
};
struct TimerFired {         // a monotonic timer of ArmTimer fired
  TimerKind kind;
};
struct Kickstart {          // xpcctl kickstart [-k]
  bool kill_running = false;
};
struct Stop {};             // stop the running instance (launchctl stop): demand may restart it
struct Signal {             // xpcctl kill SIGNAL
  int signal;
};

// --- the instance ---
struct SpawnSucceeded {     // exec succeeded (the exec-status pipe read EOF)
  InstanceId instance;
  int pid;
};
struct SpawnFailed {        // the launcher failed before or at exec
  InstanceId instance;
  std::string stage;        // the launcher's step: "exec", "setuid", "chdir", ...
  int error;                // errno
  std::string text;         // what a user can act on: "cannot exec /usr/bin/nope: No such file or directory"
};
struct Exited {             // the instance's process ended (pidfd)
  InstanceId instance;
  ExitStatus status;
};
struct CheckedIn {          // the instance called checkin on its checkin channel
  InstanceId instance;
};
// --- transactions and the idle-exit handshake (DESIGN 6, docs/idle-exit.md) ---
struct Transactions {       // checkin "clean" / "dirty": the instance's transaction count left or reached 0
  InstanceId instance;
  bool dirty;
};
struct Busy {               // the answer to exit-if-idle: it has work, it goes on
  InstanceId instance;
};
struct ExitingIdle {        // "exiting": it parked every connection and exits 0
  InstanceId instance;
};
struct MemoryPressure {};   // the PSI trigger on /proc/pressure/memory fired

struct NotifyReady {        // NOTIFY_SOCKET READY=1
  InstanceId instance;
};
struct NotifyStopping {     // STOPPING=1
  InstanceId instance;
};
struct NotifyWatchdog {     // WATCHDOG=1: the keep-alive ping, re-arms the watchdog
  InstanceId instance;
};
struct NotifyWatchdogTrigger {  // WATCHDOG=trigger: act as if the watchdog expired now
  InstanceId instance;
};
struct NotifyWatchdogPeriod {   // WATCHDOG_USEC=N: this instance's watchdog period from now on (0: off)
  InstanceId instance;
  std::chrono::microseconds period;
};
struct NotifyExtendTimeout {  // EXTEND_TIMEOUT_USEC=
  InstanceId instance;
  std::chrono::microseconds extension;
};
struct NotifyStatus {       // STATUS=
  InstanceId instance;
  std::string text;
};

using Event = std::variant<Load, Bootout, Enable, Disable, Lookup, SocketReadable, WatchPathChanged,
                           QueueDirectoriesChanged, PathStateChanged, OtherJobChanged, CalendarFired, TimerFired,
                           Kickstart, Stop, Signal, SpawnSucceeded, SpawnFailed, Exited, CheckedIn, Transactions, Busy,
                           ExitingIdle, MemoryPressure, NotifyReady, NotifyStopping, NotifyWatchdog,
                           NotifyWatchdogTrigger, NotifyWatchdogPeriod, NotifyExtendTimeout, NotifyStatus>;

}  // namespace xpcd::job
