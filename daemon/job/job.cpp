// Job: dispatch, demand, gates and effect helpers (job.hpp). The instance's
// transitions are in job_instance.cpp, control requests in job_control.cpp.
#include "job/job.hpp"

#include <algorithm>
#include <cerrno>

#include "job/calendar.hpp"
#include "job/throttle.hpp"

namespace xpcd::job {

std::string_view to_string(State state) {
  switch (state) {
    case State::stopped: return "stopped";
    case State::spawning: return "spawning";
    case State::running: return "running";
    case State::draining: return "draining";
    case State::stopping: return "stopping";
    case State::throttled: return "throttled";
    case State::removed: return "removed";
  }
  return "?";
}

std::string_view to_string(StopCause cause) {
  switch (cause) {
    case StopCause::requested: return "requested";
    case StopCause::deadline: return "deadline";
    case StopCause::announced: return "announced";
    case StopCause::idle: return "idle";
    case StopCause::watchdog: return "watchdog";
  }
  return "?";
}

std::optional<Duration> exit_timeout(std::int64_t seconds) {
  if (seconds <= 0) return std::nullopt;
  return std::chrono::seconds{std::min<std::int64_t>(seconds, 1'000'000'000)};
}

bool spawn_error_is_transient(int error) {
  switch (error) {
    case EAGAIN: case ENOMEM: case EMFILE: case ENFILE: case EINTR: case EBUSY: case ETXTBSY: case ENOBUFS:
      return true;
    default:
      return false;
  }
}

Job::Job(manifest::JobSpec spec, Config config)
    : spec_(std::move(spec)), config_(config), throttle_interval_(throttle_interval(spec_.throttle_interval)) {}

Effects Job::handle(const Event& event, TimePoint now) {
  now_ = now;
  out_.clear();
  if (state_ != State::removed) {
    std::visit([this](const auto& e) { on(e); }, event);
    if (state_ != State::removed) sync_socket_watch();
  } else if (const auto* lookup = std::get_if<Lookup>(&event)) {
    fail_one(lookup->id, named("job was removed"));
  } else if (std::holds_alternative<Kickstart>(event) || std::holds_alternative<Stop>(event) ||
             std::holds_alternative<Signal>(event)) {
    refuse(named("job was removed"));
  }
  return std::move(out_);
}

// --- demand and gates ---

bool Job::live() const {
  switch (state_) {
    case State::spawning: case State::running: case State::draining: case State::stopping: return true;
    case State::stopped: case State::throttled: case State::removed: return false;
  }
  return false;
}

bool Job::can_start() const { return loaded_ && !disabled_ && !removing_ && !(spec_.launch_only_once && launched_); }

std::string Job::cannot_start_reason() const {
  if (removing_) return named("job is being removed");
  if (disabled_) return named("job is disabled");
  if (spec_.launch_only_once && launched_) return named("LaunchOnlyOnce is set and the job has already run");
  return named("job is not loaded");
}

bool Job::standing_demand() const {
  return !waiting_.empty() || kick_pending_ || run_at_load_pending_ || queue_nonempty_ ||
         keep_alive_.standing(spec_.keep_alive);
}

std::string Job::standing_reason() const {
  if (kick_pending_) return "kickstart";
  if (!waiting_.empty()) return "lookup";
  if (run_at_load_pending_) return spec_.run_at_load ? "RunAtLoad" : "RunAtLoad (implied by KeepAlive.SuccessfulExit)";
  if (queue_nonempty_) return "QueueDirectories";
  if (spec_.keep_alive.always) return "KeepAlive";
  return "KeepAlive (a condition holds)";
}

// One-shot demand (sockets, timers, paths): starts the job only if nothing
// runs and nothing is pending; a job already up or throttled ignores it.
void Job::start_if_idle(std::string because) {
  if (state_ == State::stopped && can_start()) start(std::move(because));
}

void Job::refuse(std::string reason) {
  ++refusals_;
  last_refusal_ = reason;
  emit(Refused{std::move(reason)});
}

void Job::fail_waiting(const std::string& reason) {
  if (waiting_.empty()) return;
  emit(FailLookups{std::move(waiting_), reason});
  waiting_.clear();
}

void Job::fail_one(LookupId id, const std::string& reason) {
  emit(FailLookups{{id}, reason});
  log(LogEvent::lookup_refused, reason);
}

// The end of a Bootout: nothing of the job may stay armed or watched.
void Job::finish_removal() {
  for (std::size_t k = 0; k < kTimerKindCount; ++k) cancel(static_cast<TimerKind>(k));
  if (watching_sockets_) emit(WatchSockets{false});
  watching_sockets_ = false;
  state_ = State::removed;
  emit(Removed{});
}

// Sockets listeners are watched exactly while a readable one would start
// the job: stopped and startable. While an instance runs, it owns the
// listeners; while throttled, queued connections wait for the backoff.
void Job::sync_socket_watch() {
  const bool want = !spec_.sockets.empty() && state_ == State::stopped && can_start();
  if (want == watching_sockets_) return;
  watching_sockets_ = want;
  emit(WatchSockets{want});
}

// --- effect helpers ---

void Job::arm(TimerKind kind, TimePoint at) {
  deadline_[static_cast<std::size_t>(kind)] = at;
  emit(ArmTimer{kind, at});
}

void Job::cancel(TimerKind kind) {
  auto& d = deadline_[static_cast<std::size_t>(kind)];
  if (!d) return;
  d.reset();
  emit(CancelTimer{kind});
}

// The calendar timer runs on the wall clock; its slot in deadline_ only
// records that it is armed.
void Job::arm_calendar(const CivilTime& now_civil) {
  const std::optional<CivilTime> next = next_fire(spec_.calendar, now_civil);
  if (!next) {
    deadline_[static_cast<std::size_t>(TimerKind::calendar)].reset();
    return log(LogEvent::calendar_never, named("StartCalendarInterval matches no date; it will never fire"));
  }
  deadline_[static_cast<std::size_t>(TimerKind::calendar)] = TimePoint::max();
  emit(ArmCalendar{*next});
}

void Job::log(LogEvent event, const std::string& text) { emit(Log{event, text}); }

// --- lookups ---

// What a lookup does in each state: deliver, hold, hold and start, or fail.
void Job::on(const Lookup& e) {
  const bool held = state_ != State::running;
  if (held && !e.parked && waiting_.size() >= limits::kMaxWaitingLookups) {
    return fail_one(e.id, named("too many lookups waiting for the job to start (limit " +
                                std::to_string(limits::kMaxWaitingLookups) + ")"));
  }
  switch (state_) {
    case State::running: return emit(DeliverLookups{{e.id}});
    case State::spawning: case State::draining: return waiting_.push_back(e.id);
    case State::stopped:
      if (!can_start()) return fail_one(e.id, cannot_start_reason());
      waiting_.push_back(e.id);
      return start("lookup");
    case State::stopping:
      if (!can_start()) return fail_one(e.id, cannot_start_reason());
      return waiting_.push_back(e.id);
    case State::throttled:
      if (permanent_failure_) return fail_one(e.id, status_.last_failure);
      return waiting_.push_back(e.id);
    case State::removed: return fail_one(e.id, named("job was removed"));
  }
}

// --- one-shot and standing demand from the glue ---

void Job::on(const SocketReadable&) { start_if_idle("socket"); }

void Job::on(const WatchPathChanged&) { start_if_idle("WatchPaths"); }

void Job::on(const QueueDirectoriesChanged& e) {
  queue_nonempty_ = e.nonempty;
  if (queue_nonempty_) start_if_idle("QueueDirectories");
}

void Job::on(const PathStateChanged& e) {
  keep_alive_.set_path(e.path, e.exists);
  if (standing_demand()) start_if_idle(standing_reason());
}

void Job::on(const OtherJobChanged& e) {
  keep_alive_.set_job(e.label, e.enabled);
  if (standing_demand()) start_if_idle(standing_reason());
}

void Job::on(const CalendarFired& e) {
  arm_calendar(e.civil);
  start_if_idle("StartCalendarInterval");
}

}  // namespace xpcd::job
