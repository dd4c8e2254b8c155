// Job: the life of one instance: start, ready, stop, end, backoff, and
// the reports and timers that drive them (job.hpp).
#include <algorithm>
#include <csignal>

#include "job/job.hpp"
#include "job/throttle.hpp"

namespace xpcd::job {
namespace {

std::string seconds_text(Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string cut_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // s[n] starts the cut-off part
  s.resize(n);
  return s;
}

}  // namespace

// --- transitions ---

// Precondition: stopped or throttled, can_start().
void Job::start(std::string because) {
  if (state_ == State::throttled) cancel(TimerKind::throttle);
  const InstanceId id = status_.instance + 1;
  status_ = Status{.instance = id, .started_at = now_, .last_exit = status_.last_exit,
                   .last_failure = std::move(status_.last_failure),
                   .consecutive_failures = status_.consecutive_failures, .starts = status_.starts + 1,
                   .idle_exits = status_.idle_exits, .relaunches = status_.relaunches,
                   .busy_answers = status_.busy_answers, .pressured_exits = status_.pressured_exits,
                   .watchdog_period = watchdog_period(spec_), .watchdog_kills = status_.watchdog_kills};
  status_.started_because = std::move(because);
  if (std::exchange(idle_exited_, false)) {
    status_.started_because = "relaunch after idle exit: " + status_.started_because;
    ++status_.relaunches;
    log(LogEvent::relaunched, named("started again after an idle exit"));
  }
  launched_ = true;
  run_at_load_pending_ = kick_pending_ = restart_after_throttle_ = permanent_failure_ = stop_after_drain_ = false;
  ready_ = killed_ = false;
  state_ = State::spawning;
  emit(Spawn{id});
  if (uses_checkin()) arm(TimerKind::activation, now_ + config_.activation_timeout);
}

// The instance is ready: checked in (MachServices jobs) or exec'd (others).
void Job::ready() {
  ready_ = true;
  cancel(TimerKind::activation);
  state_ = State::running;
  arm_idle();
  if (!armed(TimerKind::watchdog)) arm_watchdog();  // a WATCHDOG=1 before it armed it already
  if (waiting_.empty()) return;
  emit(DeliverLookups{std::move(waiting_)});
  waiting_.clear();
}

// Stopping by signal (request_stop, job_idle.cpp, decides when the
// handshake comes first). A requested stop of an instance that checked in
// tells it first, so its peers get termination-imminent.
void Job::begin_stop(StopCause cause) {
  cancel(TimerKind::activation);
  cancel(TimerKind::idle);
  cancel(TimerKind::watchdog);
  stop_cause_ = cause;
  state_ = State::stopping;
  if (cause == StopCause::requested && status_.checked_in) emit(TerminationImminent{status_.instance});
  // SIGABRT: systemd's default WatchdogSignal, so a hung daemon dumps core where it hangs.
  if (cause != StopCause::announced) emit(Kill{status_.instance, cause == StopCause::watchdog ? SIGABRT : SIGTERM});
  if (const auto timeout = exit_timeout(spec_.exit_timeout)) arm(TimerKind::exit_timeout, now_ + *timeout);
}

void Job::instance_ended(const End& end) {
  const bool parked = state_ == State::stopping && stop_cause_ == StopCause::idle;
  const bool requested = parked || (state_ == State::stopping && stop_cause_ == StopCause::requested);
  const bool waited_for_this = state_ == State::spawning || end.spawn_failed;
  // launchd: an instance that dies with a transaction open is relaunched.
  const bool died_dirty = !requested && status_.dirty && transactions_enabled();
  cancel(TimerKind::activation);
  cancel(TimerKind::exit_timeout);
  cancel(TimerKind::idle);
  cancel(TimerKind::watchdog);
  const std::string what = describe_end(end);
  const bool failed = record_end(end, requested, what);
  if (parked && !std::exchange(stop_after_drain_, false)) {
    ++status_.idle_exits;
    idle_exited_ = true;
    log(LogEvent::idle_exit, named("parked its connections and " + what));
  }
  stop_after_drain_ = false;
  if (waited_for_this) fail_waiting(named(what));
  if (removing_) return finish_removal();
  state_ = State::stopped;
  const bool demand = standing_demand() || died_dirty ||
                      (!requested && restart_after_exit(spec_.keep_alive, end.status));
  std::string because = standing_demand() ? standing_reason()
                        : died_dirty      ? "relaunch: the instance died with a transaction open"
                                          : "KeepAlive (after " + describe(end.status) + ")";
  if (!can_start()) return fail_waiting(cannot_start_reason());
  if (failed && !kick_pending_) {
    restart_because_ = std::move(because);
    return after_failure(demand, end.spawn_failed && end.permanent);
  }
  if (demand) start(std::move(because));
}

// "exited with status 1 before checking in", "cannot exec ...".
std::string Job::describe_end(const End& end) const {
  if (end.spawn_failed) return end.text;
  if (ready_) return describe(end.status);
  return describe(end.status) + (uses_checkin() ? " before checking in" : " before it was ready");
}

// Records the end in the status and the backoff; returns whether the
// instance failed: a spawn failure, or (unless the stop was requested) an
// instance that never became ready or ran less than ThrottleInterval.
bool Job::record_end(const End& end, bool requested, const std::string& what) {
  const bool ran_long = now_ - status_.started_at >= throttle_interval_;
  status_.pid = 0;
  if (!end.spawn_failed) status_.last_exit = end.status;
  const bool failed = end.spawn_failed || (!requested && (!ready_ || !ran_long));
  if (failed) {
    status_.last_failure = named(what);
    ++status_.consecutive_failures;
    log(LogEvent::instance_failed, status_.last_failure);
  } else if (ran_long && ready_) {
    status_.consecutive_failures = 0;
  }
  return failed;
}

// A failed instance: wait out the backoff, even with no demand now, so a
// lookup that comes during it waits too rather than respawning at once.
void Job::after_failure(bool demand, bool permanent) {
  const Duration delay = throttle_delay(throttle_interval_, status_.consecutive_failures);
  state_ = State::throttled;
  restart_after_throttle_ = demand;
  permanent_failure_ = permanent;
  status_.throttled_until = now_ + delay;
  arm(TimerKind::throttle, now_ + delay);
  log(LogEvent::throttled, named("next start in " + seconds_text(delay) + " (failure " +
                                 std::to_string(status_.consecutive_failures) + " in a row)"));
}

void Job::throttle_over() {
  status_.throttled_until.reset();
  state_ = State::stopped;
  const bool demand = restart_after_throttle_ || standing_demand();
  std::string because = standing_demand() ? standing_reason() : std::exchange(restart_because_, {});
  restart_after_throttle_ = permanent_failure_ = false;
  if (demand && can_start()) start(std::move(because) + " (after the backoff)");
}

// EXTEND_TIMEOUT_USEC, systemd's rule: the deadline becomes now + extension
// if that is later; it never moves earlier.
void Job::extend(TimerKind kind, std::chrono::microseconds extension) {
  // Clamp in microseconds: converting a huge value to nanoseconds first would overflow.
  const std::chrono::microseconds max = limits::kMaxTimeoutExtension;
  const TimePoint at = now_ + std::clamp(extension, std::chrono::microseconds::zero(), max);
  if (at > *deadline_[static_cast<std::size_t>(kind)]) arm(kind, at);
}

// --- reports about the instance ---

void Job::on(const SpawnSucceeded& e) {
  if (!current(e.instance)) return;
  status_.pid = e.pid;
  if (state_ == State::spawning && !uses_checkin()) ready();
}

void Job::on(const SpawnFailed& e) {
  if (!current(e.instance)) return;
  std::string text = e.text;
  if (text.empty()) text = "spawn failed at " + e.stage + " (errno " + std::to_string(e.error) + ")";
  instance_ended(End{ExitStatus::exited(127), true, !spawn_error_is_transient(e.error), std::move(text)});
}

void Job::on(const Exited& e) {
  if (!current(e.instance)) return;
  instance_ended(End{e.status, false, false, {}});
}

// A check-in after the instance was told to stop (deadline, kickstart -k)
// is ignored: it is being killed, and its lookups already failed or wait
// for the next instance.
void Job::on(const CheckedIn& e) {
  if (!current(e.instance)) return;
  status_.checked_in = true;
  if (state_ == State::spawning) ready();
}

void Job::on(const NotifyReady& e) {
  if (current(e.instance)) status_.notified_ready = true;
}

void Job::on(const NotifyStopping& e) {
  if (!current(e.instance) || state_ == State::stopping) return;
  if (state_ == State::spawning) fail_waiting(named("sent STOPPING=1 before checking in"));
  begin_stop(StopCause::announced);
}

void Job::on(const NotifyExtendTimeout& e) {
  if (!current(e.instance)) return;
  if (state_ == State::spawning && armed(TimerKind::activation)) extend(TimerKind::activation, e.extension);
  if (state_ == State::stopping && armed(TimerKind::exit_timeout)) extend(TimerKind::exit_timeout, e.extension);
}

void Job::on(const NotifyStatus& e) {
  if (current(e.instance)) status_.status_text = cut_utf8(e.text, limits::kMaxStatusText);
}

// --- timers ---

// A fire for a timer that is not armed, or armed later (re-armed by
// EXTEND_TIMEOUT in the same loop iteration), is stale and ignored.
void Job::on(const TimerFired& e) {
  auto& d = deadline_[static_cast<std::size_t>(e.kind)];
  if (!d || now_ < *d) return;
  d.reset();
  switch (e.kind) {
    case TimerKind::activation:
      if (state_ != State::spawning) return;
      fail_waiting(named("did not check in within " + seconds_text(now_ - status_.started_at) +
                         " (activation deadline)"));
      log(LogEvent::deadline_passed, named("did not check in in time, stopping it"));
      return begin_stop(StopCause::deadline);
    case TimerKind::exit_timeout:
      if (state_ == State::draining) {  // a clean instance that ignores exit-if-idle
        cancel(TimerKind::watchdog);
        state_ = State::stopping;
        stop_cause_ = StopCause::idle;
        killed_ = true;
        emit(Kill{status_.instance, SIGKILL});
        return log(LogEvent::escalated, named("did not answer exit-if-idle within ExitTimeOut, sent SIGKILL"));
      }
      if (state_ != State::stopping || killed_) return;
      killed_ = true;
      emit(Kill{status_.instance, SIGKILL});
      return log(LogEvent::escalated, named("still running after ExitTimeOut, sent SIGKILL"));
    case TimerKind::throttle:
      if (state_ == State::throttled) throttle_over();
      return;
    case TimerKind::start_interval:
      arm(TimerKind::start_interval, now_ + std::chrono::seconds{*spec_.start_interval});
      return start_if_idle("StartInterval");
    case TimerKind::calendar:
      return;  // the wall-clock timer reports CalendarFired
    case TimerKind::idle:
      if (state_ == State::running && !status_.dirty && !standing_demand()) ask_exit_if_idle("idle");
      return;
    case TimerKind::watchdog:
      if (!watchdog_runs() || !status_.watchdog_period) return;
      return watchdog_expired("watchdog timeout: no WATCHDOG=1 within " + seconds_text(*status_.watchdog_period));
  }
}

}  // namespace xpcd::job
