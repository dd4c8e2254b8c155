// Job: loading, removal, enable/disable and the control verbs (job.hpp).
#include "job/job.hpp"

namespace xpcd::job {

void Job::on(const Load& e) {
  if (loaded_) return;
  loaded_ = true;
  disabled_ = spec_.disabled;
  // launchd: SuccessfulExit implies RunAtLoad (the job must run once for an
  // exit status to judge). KeepAlive=true starts it through standing demand.
  run_at_load_pending_ = spec_.run_at_load || spec_.keep_alive.successful_exit.has_value();
  if (spec_.start_interval && *spec_.start_interval > 0) {
    arm(TimerKind::start_interval, now_ + std::chrono::seconds{*spec_.start_interval});
  }
  if (!spec_.calendar.empty()) arm_calendar(e.civil);
  if (standing_demand()) start_if_idle(standing_reason());
}

// Unload: waiting lookups fail now (no instance will serve them), nothing
// new starts, a live instance is stopped, and Removed comes once it is gone.
void Job::on(const Bootout&) {
  removing_ = true;
  kick_pending_ = false;
  fail_waiting(named("job was removed"));
  cancel(TimerKind::start_interval);
  cancel(TimerKind::calendar);
  switch (state_) {
    case State::spawning: return begin_stop(StopCause::requested);
    case State::running: case State::draining: return request_stop();
    case State::stopping: return;  // already going; its exit finishes the removal
    case State::stopped: case State::throttled: case State::removed: return finish_removal();
  }
}

// Enabling honours standing demand (KeepAlive, RunAtLoad not yet honoured,
// QueueDirectories) at once.
void Job::on(const Enable&) {
  if (!disabled_) return;
  disabled_ = false;
  if (standing_demand()) start_if_idle(standing_reason());
}

// Disabling stops new starts but leaves a live instance alone (launchctl
// disable does not stop a job). Lookups that could only be served by a
// next instance fail now.
void Job::on(const Disable&) {
  if (disabled_) return;
  disabled_ = true;
  switch (state_) {
    case State::throttled:
      cancel(TimerKind::throttle);
      status_.throttled_until.reset();
      state_ = State::stopped;
      return fail_waiting(cannot_start_reason());
    case State::stopping: case State::stopped: return fail_waiting(cannot_start_reason());
    case State::spawning: case State::running: case State::draining: case State::removed: return;
  }
}

// kickstart starts the job now, skipping any backoff; -k stops a live
// instance first and starts a new one when it is gone. Refused when the
// gates forbid a start (disabled, LaunchOnlyOnce spent, being removed).
void Job::on(const Kickstart& e) {
  const bool up = live() && state_ != State::stopping;
  if (up && !e.kill_running) return;  // already running: nothing to do
  if (!can_start()) return refuse(cannot_start_reason());
  switch (state_) {
    case State::spawning:
      kick_pending_ = true;
      return begin_stop(StopCause::requested);
    case State::running: case State::draining:
      kick_pending_ = true;
      return request_stop();
    case State::stopping: kick_pending_ = true; return;
    case State::stopped: case State::throttled: return start("kickstart");
    case State::removed: return;
  }
}

// launchctl stop: stop the instance; whatever demand remains (KeepAlive,
// waiting lookups) starts the next one, without backoff.
void Job::on(const Stop&) {
  switch (state_) {
    case State::spawning: return begin_stop(StopCause::requested);
    case State::running: case State::draining: return request_stop();
    case State::stopping: return;
    case State::stopped: case State::throttled: case State::removed: return refuse(named("not running"));
  }
}

void Job::on(const Signal& e) {
  if (!live()) return refuse(named("not running"));
  emit(Kill{status_.instance, e.signal});
}

}  // namespace xpcd::job
