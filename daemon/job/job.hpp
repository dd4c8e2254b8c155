// Job: the supervision state machine of one job, pure code. Events in
// (events.hpp), effects out (effects.hpp), time passed in as a value. No
// syscalls, no fds, no sd-event: the daemon's glue owns those, feeds each
// event to Job::handle on the loop thread and carries out the returned
// effects in order. Decisions are recorded in docs/job-engine.md.
//
// The model
// ---------
// Transitions (State below):
//
//   from               on                                         to
//   stopped            demand                                     spawning  (Spawn)
//   spawning           check-in (MachServices) / exec (others)    running   (DeliverLookups)
//   running, clean     TimeOut idle, memory pressure, or Stop     draining  (AskExitIfIdle,
//                                                                          ArmTimer exit_timeout)
//   draining           busy                                       running   (DeliverLookups)
//   draining           exiting (it parked its connections)        stopping  (no signal)
//   draining           ExitTimeOut                                stopping  (Kill SIGKILL)
//   spawning, running  Stop, kickstart -k, Bootout, activation    stopping  (Kill SIGTERM,
//                      deadline; STOPPING=1 (no signal)                      ArmTimer exit_timeout)
//   spawning, running, watchdog expired, WATCHDOG=trigger          stopping  (Kill SIGABRT,
//   draining                                                                 ArmTimer exit_timeout)
//   stopping           ExitTimeOut                                stopping  (Kill SIGKILL)
//   spawning, running, the instance ended (exit, spawn failure):
//   stopping             a failed instance                        throttled (ArmTimer throttle)
//                        else, demand left                        spawning
//                        else                                     stopped
//   throttled          backoff over: demand ? spawning : stopped
//   any                Bootout, once no instance is left          removed   (Removed)
//
// * stopped: no instance. Demand starts one when the gates allow (enabled,
//   not being removed, LaunchOnlyOnce not spent).
// * spawning: Spawn issued, the instance is not ready. A job with
//   MachServices (it "uses the checkin channel") is ready when it checks in
//   and has an activation deadline; any other job is ready when its exec
//   succeeded (SpawnSucceeded), since nothing in xpcd waits for it: the
//   kernel queues connections on its listeners. Lookups are held.
// * running: ready. Lookups are delivered at once.
// * draining: the instance was asked to exit if idle (DESIGN 6) and has
//   not answered. Lookups are held: they go to it if it answers busy, or to
//   the next instance if it exits.
// * stopping: the instance was asked to go (Kill SIGTERM after Stop,
//   kickstart -k, Bootout or the activation deadline) or said it is going
//   (STOPPING=1). ExitTimeOut is armed; SIGKILL when it fires. Lookups are
//   held for the next instance.
// * throttled: no instance; an instance failed (exited or failed to spawn
//   before it was ready, or ran less than ThrottleInterval) and the next
//   start waits out a capped exponential backoff. Lookups are held, and the
//   job restarts when the backoff is over, unless the failure was a spawn
//   failure that retrying cannot fix (ENOENT, EACCES, ...): then lookups fail
//   at once with that reason while the backoff lasts.
// * removed: booted out, no instance; terminal. Lookups fail, control
//   requests are refused.
//
// Demand: a waiting lookup, a kickstart, RunAtLoad (at Load or at the first
// Enable after it), KeepAlive (always, PathState, OtherJobEnabled any time;
// SuccessfulExit and Crashed judged on each exit that was not requested),
// QueueDirectories non-empty; and one-shot while stopped: a readable Sockets
// listener, StartInterval, StartCalendarInterval, WatchPaths.
//
// Failures are fast: when an instance is known never to become ready
// (exit, spawn failure, activation deadline, STOPPING=1 before check-in)
// and nobody asked it to stop, every lookup waiting for it fails at once
// with a reason naming the job and the cause. A requested stop carries
// waiting lookups over to the next instance.
//
// Watchdog (WatchdogSec, systemd's): armed when the instance becomes ready
// (systemd: "activated when the start-up is completed"), or earlier by a
// WATCHDOG=1 before it; re-armed by each WATCHDOG=1 of the current
// instance; WATCHDOG_USEC= changes the period for this instance (0: off);
// WATCHDOG=trigger expires it at once, with or without WatchdogSec. On
// expiry: SIGABRT, SIGKILL after ExitTimeOut; not a requested stop, so the
// exit is judged (KeepAlive, backoff) like any crash. Not armed while
// stopping (a requested stop through the exit-if-idle handshake included)
// or with no instance.
//
// Idle exit (docs/idle-exit.md): an instance with transactions enabled that
// stays clean for its idle timeout, or is clean under memory pressure with
// EnablePressuredExit, is asked to exit through the handshake; a requested
// stop of a clean instance uses it too. An exit after `exiting` ends the
// instance like a requested stop: not judged, no backoff, waiting lookups
// go to the next instance. A dirty instance is never asked; one that dies
// dirty is relaunched (launchd's rule).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "job/effects.hpp"
#include "job/events.hpp"
#include "job/keep_alive.hpp"
#include "job/limits.hpp"
#include "job/types.hpp"
#include "manifest/job_spec.hpp"

namespace xpcd::job {

enum class State {
  stopped,
  spawning,
  running,
  draining,
  stopping,
  throttled,
  removed,
};
std::string_view to_string(State state);

// Why the current instance is in `stopping`. Only a requested stop is
// free: its exit is not judged by SuccessfulExit/Crashed, does not count
// for the backoff, and the lookups waiting through it go to the next
// instance. (Issue 5 adds the idle-exit handshake here.)
enum class StopCause {
  requested,  // Stop, kickstart -k, Bootout
  deadline,   // the activation deadline passed before check-in
  announced,  // the instance sent STOPPING=1
  idle,       // it went through the exit-if-idle handshake (or ignored it and was killed)
  watchdog,   // the watchdog expired or was triggered: SIGABRT, judged as any crash
};
std::string_view to_string(StopCause cause);

// Daemon-wide settings the engine needs (from xpcd.toml).
struct Config {
  Duration activation_timeout = limits::kDefaultActivationTimeout;
  std::optional<Duration> idle_timeout;  // for jobs without TimeOut; unset: no idle exit for them
};

// What `xpcctl print` shows, read with Job::status().
struct Status {
  InstanceId instance = 0;           // current or last instance, 0 before the first
  int pid = 0;                       // 0 until SpawnSucceeded, and after the instance ended
  TimePoint started_at{};            // when the current/last instance was spawned
  bool checked_in = false;           // the current instance checked in
  bool notified_ready = false;       // the current instance sent READY=1
  std::optional<TimePoint> last_watchdog;  // last WATCHDOG=1 of the current instance
  std::string status_text;           // last STATUS= of the current instance
  std::optional<ExitStatus> last_exit;
  std::string last_failure;          // reason of the last failed instance, "" if none yet
  unsigned consecutive_failures = 0; // failed instances in a row (the backoff exponent)
  std::optional<TimePoint> throttled_until;
  std::size_t starts = 0;            // Spawns so far
  bool dirty = false;                // the current instance has a transaction open
  std::size_t idle_exits = 0;        // instances that parked their connections and exited
  std::size_t relaunches = 0;        // starts for work that came after an idle exit
  std::size_t busy_answers = 0;      // exit-if-idle answered busy
  std::size_t pressured_exits = 0;   // exit-if-idle sent for memory pressure
  // The current instance's watchdog period: WatchdogSec at start, changed
  // by WATCHDOG_USEC=; unset: no watchdog.
  std::optional<Duration> watchdog_period;
  std::size_t watchdog_kills = 0;    // instances sent SIGABRT by the watchdog (timeout or WATCHDOG=trigger)
  // The demand that started the current/last instance (xpcctl blame):
  // "lookup", "RunAtLoad", "KeepAlive", "kickstart", "socket",
  // "StartInterval", "StartCalendarInterval", "WatchPaths",
  // "QueueDirectories", ...; prefixed "relaunch after idle exit: " when the
  // start follows an idle exit. "" before the first start.
  std::string started_because;
};

class Job {
 public:
  explicit Job(manifest::JobSpec spec, Config config = {});

  // Feeds one event at monotonic time `now` (never earlier than the last
  // one); returns what the glue must do, in order. Never fails: an event
  // that makes no sense in the current state (a late report about an
  // instance that is gone, a timer that was cancelled) is ignored.
  Effects handle(const Event& event, TimePoint now);

  State state() const { return state_; }
  const Status& status() const { return status_; }
  const manifest::JobSpec& spec() const { return spec_; }
  const std::string& label() const { return spec_.label; }
  bool disabled() const { return disabled_; }
  bool uses_checkin() const { return !spec_.mach_services.empty(); }
  std::size_t waiting_lookups() const { return waiting_.size(); }
  // Control requests (Kickstart, Stop, Signal) refused so far, and the
  // reason of the last one: the control plane compares the count before
  // and after feeding a request to tell the caller why it was refused.
  std::size_t refusals() const { return refusals_; }
  const std::string& last_refusal() const { return last_refusal_; }

 private:
  // One handler per event type (job.cpp, job_instance.cpp, job_control.cpp).
  void on(const Load& e);
  void on(const Bootout& e);
  void on(const Enable& e);
  void on(const Disable& e);
  void on(const Lookup& e);
  void on(const SocketReadable& e);
  void on(const WatchPathChanged& e);
  void on(const QueueDirectoriesChanged& e);
  void on(const PathStateChanged& e);
  void on(const OtherJobChanged& e);
  void on(const CalendarFired& e);
  void on(const TimerFired& e);
  void on(const Kickstart& e);
  void on(const Stop& e);
  void on(const Signal& e);
  void on(const SpawnSucceeded& e);
  void on(const SpawnFailed& e);
  void on(const Exited& e);
  void on(const CheckedIn& e);
  void on(const Transactions& e);
  void on(const Busy& e);
  void on(const ExitingIdle& e);
  void on(const MemoryPressure& e);
  void on(const NotifyReady& e);
  void on(const NotifyStopping& e);
  void on(const NotifyWatchdog& e);
  void on(const NotifyWatchdogTrigger& e);
  void on(const NotifyWatchdogPeriod& e);
  void on(const NotifyExtendTimeout& e);
  void on(const NotifyStatus& e);

  // How an instance ended: an exit, or a spawn that never produced one.
  struct End {
    ExitStatus status;  // for a spawn failure: judged as exited(127)
    bool spawn_failed = false;
    bool permanent = false;  // a spawn failure retrying cannot fix
    std::string text;        // what happened, without the label
  };

  // Transitions (job_instance.cpp).
  void start(std::string because);
  void begin_stop(StopCause cause);
  void instance_ended(const End& end);
  std::string describe_end(const End& end) const;
  bool record_end(const End& end, bool requested, const std::string& what);
  void after_failure(bool demand, bool permanent);
  void throttle_over();
  void extend(TimerKind kind, std::chrono::microseconds extension);
  void ready();
  // Watchdog (job_watchdog.cpp).
  bool watchdog_runs() const;
  void arm_watchdog();
  void watchdog_expired(const std::string& why);
  // Idle exit (job_idle.cpp).
  bool transactions_enabled() const;
  std::optional<Duration> idle_timeout() const;
  void arm_idle();
  void ask_exit_if_idle(std::string reason);
  void request_stop();

  // Demand and gates (job.cpp).
  bool live() const;
  bool current(InstanceId id) const { return live() && id == status_.instance; }
  bool can_start() const;
  std::string cannot_start_reason() const;
  bool standing_demand() const;
  std::string standing_reason() const;  // which standing demand holds, for started_because
  void start_if_idle(std::string because);
  void refuse(std::string reason);
  void fail_waiting(const std::string& reason);
  void fail_one(LookupId id, const std::string& reason);
  void finish_removal();
  void sync_socket_watch();

  // Effects (job.cpp).
  void emit(Effect effect) { out_.push_back(std::move(effect)); }
  void arm(TimerKind kind, TimePoint at);
  void cancel(TimerKind kind);
  void arm_calendar(const CivilTime& now_civil);
  bool armed(TimerKind kind) const { return deadline_[static_cast<std::size_t>(kind)].has_value(); }
  void log(LogEvent event, const std::string& text);
  std::string named(const std::string& text) const { return spec_.label + ": " + text; }

  manifest::JobSpec spec_;
  Config config_;
  Duration throttle_interval_;
  State state_ = State::stopped;
  Status status_;
  KeepAliveState keep_alive_;

  bool loaded_ = false;
  bool disabled_ = false;
  bool removing_ = false;              // Bootout seen; Removed once the instance is gone
  bool launched_ = false;              // an instance was ever spawned (LaunchOnlyOnce)
  bool run_at_load_pending_ = false;   // RunAtLoad not yet honoured (job was disabled at Load)
  bool kick_pending_ = false;          // a kickstart waits for the current instance to go
  bool queue_nonempty_ = false;        // QueueDirectories
  bool restart_after_throttle_ = false;  // demand seen when the failed instance ended
  bool permanent_failure_ = false;     // the throttle follows a spawn failure retrying cannot fix
  bool ready_ = false;                 // the current instance became ready (see State::spawning)
  bool killed_ = false;                // SIGKILL already sent to the current instance
  bool watching_sockets_ = false;
  bool stop_after_drain_ = false;      // draining for a requested stop: busy means SIGTERM
  bool idle_exited_ = false;           // the last instance ended through an idle exit
  StopCause stop_cause_ = StopCause::requested;
  std::string restart_because_;        // why the job restarts when the backoff is over
  std::size_t refusals_ = 0;
  std::string last_refusal_;
  std::vector<LookupId> waiting_;
  std::array<std::optional<TimePoint>, kTimerKindCount> deadline_{};

  // Per handle() call.
  TimePoint now_{};
  Effects out_;
};

// ExitTimeOut as a duration; 0 (or less) means wait forever, as in launchd.
std::optional<Duration> exit_timeout(std::int64_t seconds);

// WatchdogSec as a duration (manifest::watchdog_usec); unset when it is off.
std::optional<Duration> watchdog_period(const manifest::JobSpec& spec);

// Whether a spawn failure with this errno can go away by itself (EAGAIN,
// ENOMEM, ETXTBSY, ...). Others (ENOENT, EACCES, ENOEXEC, EPERM, ...) need
// someone to change the system or the manifest.
bool spawn_error_is_transient(int error);

}  // namespace xpcd::job
