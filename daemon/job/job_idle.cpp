// Job: transactions and the exit-if-idle handshake (DESIGN 6, job.hpp,
// docs/idle-exit.md). The glue carries the messages: AskExitIfIdle goes out
// on the checkin channel; clean/dirty, busy and exiting come back as events.
#include <algorithm>
#include <cmath>

#include "job/job.hpp"

namespace xpcd::job {

// The handshake needs the checkin channel; a service that checks in has
// transactions unless its manifest says EnableTransactions=false, and
// EnablePressuredExit implies them (launchd).
bool Job::transactions_enabled() const {
  if (!uses_checkin()) return false;
  return spec_.enable_pressured_exit || spec_.enable_transactions.value_or(true);
}

// TimeOut from the manifest, else xpcd.toml's default; none for a job kept
// alive (it would be started again at once) or without transactions. A
// conditional KeepAlive that holds (or a non-empty QueueDirectories) is
// checked when the timer fires: it would start the job again at once too.
std::optional<Duration> Job::idle_timeout() const {
  if (!transactions_enabled() || spec_.keep_alive.always) return std::nullopt;
  if (!spec_.idle_timeout) return config_.idle_timeout;
  const double seconds = *spec_.idle_timeout;
  if (!(seconds > 0)) return std::nullopt;  // TimeOut=0: never idle out
  const double capped = std::min(seconds, 1e9);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(capped));
}

void Job::arm_idle() {
  if (state_ != State::running || status_.dirty) return;
  if (const auto timeout = idle_timeout()) arm(TimerKind::idle, now_ + *timeout);
}

// Precondition: running and clean.
void Job::ask_exit_if_idle(std::string reason) {
  cancel(TimerKind::idle);
  state_ = State::draining;
  log(LogEvent::exit_if_idle,
      named("asked pid " + std::to_string(status_.pid) + " to exit if idle (" + reason + ")"));
  emit(AskExitIfIdle{status_.instance, std::move(reason)});
  if (const auto timeout = exit_timeout(spec_.exit_timeout)) arm(TimerKind::exit_timeout, now_ + *timeout);
}

// Only transitions are reported (0 <-> 1 transactions). While draining,
// the answer to exit-if-idle says what happens; but a dirty instance is
// never killed for idleness, so its ExitTimeOut waits while it is dirty.
void Job::on(const Transactions& e) {
  if (!current(e.instance)) return;
  status_.dirty = e.dirty;
  if (state_ == State::draining) {
    if (e.dirty) return cancel(TimerKind::exit_timeout);
    if (const auto timeout = exit_timeout(spec_.exit_timeout)) arm(TimerKind::exit_timeout, now_ + *timeout);
    return;
  }
  if (state_ != State::running) return;
  if (e.dirty) return cancel(TimerKind::idle);
  arm_idle();
}

// It has work (a transaction, a queued message, unread data): it goes on,
// takes what waited during the handshake, and is asked again after another
// idle timeout. If the handshake was for a stop, the stop goes on as for a
// dirty instance.
void Job::on(const Busy& e) {
  if (!current(e.instance) || state_ != State::draining) return;
  cancel(TimerKind::exit_timeout);
  ++status_.busy_answers;
  log(LogEvent::busy, named("pid " + std::to_string(status_.pid) + " is busy, it goes on"));
  state_ = State::running;
  if (std::exchange(stop_after_drain_, false)) return begin_stop(StopCause::requested);
  if (!waiting_.empty()) {
    emit(DeliverLookups{std::move(waiting_)});
    waiting_.clear();
  }
  arm_idle();
}

// Its connections are parked with the glue; its exit is a free one.
// ExitTimeOut stays armed: it must now exit.
void Job::on(const ExitingIdle& e) {
  if (!current(e.instance) || state_ != State::draining) return;
  cancel(TimerKind::watchdog);
  state_ = State::stopping;
  stop_cause_ = StopCause::idle;
}

// EnablePressuredExit: a clean instance goes now, idle timeout or not; not
// honoured with KeepAlive=true (launchd).
void Job::on(const MemoryPressure&) {
  if (state_ != State::running || status_.dirty || !spec_.enable_pressured_exit || !transactions_enabled() ||
      spec_.keep_alive.always || standing_demand()) {
    return;
  }
  ++status_.pressured_exits;
  ask_exit_if_idle("memory-pressure");
}

// A requested stop (Stop, kickstart -k, Bootout): a clean instance that
// checked in goes through the handshake, anything else gets SIGTERM.
void Job::request_stop() {
  if (state_ == State::draining) {
    stop_after_drain_ = true;
    return cancel(TimerKind::watchdog);  // ExitTimeOut governs a stop
  }
  if (state_ == State::running && transactions_enabled() && !status_.dirty && status_.checked_in) {
    stop_after_drain_ = true;
    cancel(TimerKind::watchdog);
    return ask_exit_if_idle("stop");
  }
  begin_stop(StopCause::requested);
}

}  // namespace xpcd::job
