// Job: the watchdog, as systemd's WatchdogSec= (job.hpp): the period, the
// pings that re-arm it, WATCHDOG_USEC= and WATCHDOG=trigger. The expiry
// itself is a stop (begin_stop with StopCause::watchdog: SIGABRT, then
// SIGKILL after ExitTimeOut), judged like any crash when the instance ends.
#include <algorithm>

#include "job/job.hpp"
#include "manifest/limits.hpp"

namespace xpcd::job {

static_assert(std::chrono::duration<double>(limits::kMaxWatchdogPeriod).count() == manifest::limits::kMaxWatchdogSec,
              "WatchdogSec's schema bound and the engine's must agree");

std::optional<Duration> watchdog_period(const manifest::JobSpec& spec) {
  const std::chrono::microseconds usec = manifest::watchdog_usec(spec);
  if (usec <= std::chrono::microseconds::zero()) return std::nullopt;
  return std::chrono::duration_cast<Duration>(usec);
}

// While an instance is up and not already going: a stop has its own
// deadline (ExitTimeOut), and systemd stops the watchdog there too. A
// requested stop that goes through the exit-if-idle handshake is a stop.
bool Job::watchdog_runs() const {
  switch (state_) {
    case State::spawning: case State::running: return true;
    case State::draining: return !stop_after_drain_;
    case State::stopping: case State::stopped: case State::throttled: case State::removed: return false;
  }
  return false;
}

// From now, for the current period; cancelled when there is none.
void Job::arm_watchdog() {
  if (status_.watchdog_period) return arm(TimerKind::watchdog, now_ + *status_.watchdog_period);
  cancel(TimerKind::watchdog);
}

// Lookups waiting for an instance that never became ready fail now, as for
// the activation deadline: this instance will not serve them.
void Job::watchdog_expired(const std::string& why) {
  ++status_.watchdog_kills;
  if (state_ == State::spawning) fail_waiting(named(why + " before checking in"));
  log(LogEvent::watchdog, named(why + ", sending SIGABRT to pid " + std::to_string(status_.pid)));
  begin_stop(StopCause::watchdog);
}

// Recorded always (xpcctl print); it re-arms the watchdog only while it
// runs. Before the instance is ready a ping starts it early, as in systemd.
void Job::on(const NotifyWatchdog& e) {
  if (!current(e.instance)) return;
  status_.last_watchdog = now_;
  if (watchdog_runs() && status_.watchdog_period) arm_watchdog();
}

// systemd: "WatchdogSec= does not need to be enabled for WATCHDOG=trigger".
void Job::on(const NotifyWatchdogTrigger& e) {
  if (!current(e.instance) || !watchdog_runs()) return;
  watchdog_expired("watchdog triggered by the instance (WATCHDOG=trigger)");
}

// systemd's WATCHDOG_USEC= override: the new period counts from now, for
// this instance only (the next one starts from WatchdogSec again); 0 turns
// the watchdog off; a period over the limit is clamped to it.
void Job::on(const NotifyWatchdogPeriod& e) {
  if (!current(e.instance) || !watchdog_runs()) return;
  const std::chrono::microseconds max = limits::kMaxWatchdogPeriod;
  const std::chrono::microseconds period = std::clamp(e.period, std::chrono::microseconds::zero(), max);
  status_.watchdog_period.reset();
  if (period > std::chrono::microseconds::zero()) status_.watchdog_period = std::chrono::duration_cast<Duration>(period);
  arm_watchdog();
}

}  // namespace xpcd::job
