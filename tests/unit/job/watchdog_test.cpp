// The watchdog (WatchdogSec, WATCHDOG=1, WATCHDOG=trigger, WATCHDOG_USEC=):
// armed when the instance is up, re-armed by its pings, SIGABRT then SIGKILL
// when it expires, and the exit judged like any crash.
#include "harness.hpp"

namespace xpcd::job::test {

namespace {

// A plain KeepAlive job with a 10 s watchdog: up once exec succeeded.
JobSpec watched_spec(double seconds = 10) {
  JobSpec s = plain_spec();
  s.keep_alive.always = true;
  s.watchdog_sec = seconds;
  return s;
}

bool logged(const Harness& h, LogEvent event, const std::string& text) {
  for (const Log& l : h.last_logs) {
    if (l.event == event && l.text == text) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the watchdog is armed when the instance is up and re-armed by each WATCHDOG=1") {
  Harness h(watched_spec());
  CHECK(h.load() == Effects{Spawn{1}});
  CHECK(h.job.status().watchdog_period == Duration(10s));
  CHECK(h.spawned() == Effects{ArmTimer{TimerKind::watchdog, t(10s)}});
  h.advance(6s);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{ArmTimer{TimerKind::watchdog, t(16s)}});
  CHECK(h.job.status().last_watchdog == t(6s));
  h.advance(4s);
  CHECK(h.fire(TimerKind::watchdog) == Effects{});  // the first deadline, replaced: stale
  CHECK(h.job.state() == State::running);
  h.advance(5s);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{ArmTimer{TimerKind::watchdog, t(25s)}});
  CHECK(h.job.status().watchdog_kills == 0);
}

TEST_CASE("an expired watchdog sends SIGABRT, then SIGKILL after ExitTimeOut; the exit is a crash") {
  Harness h(watched_spec());
  h.load();
  h.spawned(321);
  h.advance(10s);
  CHECK(h.fire(TimerKind::watchdog) == Effects{Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(30s)}});
  CHECK(logged(h, LogEvent::watchdog,
               "com.example.plain: watchdog timeout: no WATCHDOG=1 within 10 s, sending SIGABRT to pid 321"));
  CHECK(h.job.state() == State::stopping);
  CHECK(h.job.status().watchdog_kills == 1);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});  // too late: a ping does not stop the stop
  SUBCASE("it dies of the SIGABRT: judged as a crash, KeepAlive restarts it (it ran long enough: no backoff)") {
    CHECK(h.killed(SIGABRT) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2}});
    CHECK(h.job.status().last_exit == ExitStatus::killed(SIGABRT));
    CHECK(h.job.status().watchdog_kills == 1);  // kept across instances, as the other counters
    CHECK(h.spawned() == Effects{ArmTimer{TimerKind::watchdog, h.now + 10s}});
  }
  SUBCASE("it ignores SIGABRT: SIGKILL after ExitTimeOut") {
    h.advance(20s);
    CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
    CHECK(h.killed(SIGKILL) == Effects{Spawn{2}});
  }
}

TEST_CASE("a watchdog kill of a young instance counts for the backoff, and for KeepAlive.Crashed") {
  JobSpec spec = watched_spec(2);
  spec.keep_alive = {};
  spec.keep_alive.crashed = true;
  spec.run_at_load = true;
  Harness h(spec);
  CHECK(h.load() == Effects{Spawn{1}});
  h.spawned();
  h.advance(2s);
  CHECK(h.fire(TimerKind::watchdog) == Effects{Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(22s)}});
  CHECK(h.killed(SIGABRT) == Effects{CancelTimer{TimerKind::exit_timeout}, ArmTimer{TimerKind::throttle, t(12s)}});
  CHECK(h.job.status().consecutive_failures == 1);
  h.advance(10s);
  CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}});
}

TEST_CASE("WATCHDOG=trigger acts as an expiry at once, with or without WatchdogSec") {
  SUBCASE("with WatchdogSec") {
    Harness h(watched_spec());
    h.load();
    h.spawned(55);
    h.advance(1s);
    CHECK(h.send(NotifyWatchdogTrigger{h.id()}) ==
          Effects{CancelTimer{TimerKind::watchdog}, Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(21s)}});
    CHECK(
        logged(h, LogEvent::watchdog,
               "com.example.plain: watchdog triggered by the instance (WATCHDOG=trigger), sending SIGABRT to pid 55"));
    CHECK(h.job.status().watchdog_kills == 1);
    CHECK(h.send(NotifyWatchdogTrigger{h.id()}) == Effects{});  // already stopping
  }
  SUBCASE("without") {
    Harness h(watched_spec(0));
    h.load();
    h.spawned();
    CHECK(h.send(NotifyWatchdogTrigger{h.id()}) ==
          Effects{Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(20s)}});
  }
}

TEST_CASE("WATCHDOG_USEC= changes the period of this instance only, from now; 0 turns it off") {
  Harness h(watched_spec());
  h.load();
  h.spawned();
  h.advance(1s);
  CHECK(h.send(NotifyWatchdogPeriod{h.id(), 3s}) == Effects{ArmTimer{TimerKind::watchdog, t(4s)}});
  CHECK(h.job.status().watchdog_period == Duration(3s));
  h.advance(2s);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{ArmTimer{TimerKind::watchdog, t(6s)}});
  SUBCASE("it expires with the new period") {
    h.advance(3s);
    CHECK(h.fire(TimerKind::watchdog) == Effects{Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(26s)}});
    CHECK(logged(h, LogEvent::watchdog,
                 "com.example.plain: watchdog timeout: no WATCHDOG=1 within 3 s, sending SIGABRT to pid 100"));
  }
  SUBCASE("0 turns it off; pings then only are recorded") {
    CHECK(h.send(NotifyWatchdogPeriod{h.id(), 0us}) == Effects{CancelTimer{TimerKind::watchdog}});
    CHECK_FALSE(h.job.status().watchdog_period);
    h.advance(1h);
    CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});
    CHECK(h.job.status().last_watchdog == h.now);
  }
  SUBCASE("a period over the limit is clamped to it") {
    CHECK(h.send(NotifyWatchdogPeriod{h.id(), 48h}) == Effects{ArmTimer{TimerKind::watchdog, h.now + 24h}});
    CHECK(h.send(NotifyWatchdogPeriod{h.id(), std::chrono::microseconds{std::int64_t{1} << 62}}) ==
          Effects{ArmTimer{TimerKind::watchdog, h.now + 24h}});
  }
  SUBCASE("the next instance starts from WatchdogSec again") {
    h.advance(1h);
    h.send(Kickstart{true});
    CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2}});
    CHECK(h.spawned() == Effects{ArmTimer{TimerKind::watchdog, h.now + 10s}});
  }
  SUBCASE("and a job without WatchdogSec may turn one on") {
    Harness p(watched_spec(0));
    p.load();
    p.spawned();
    CHECK(p.send(NotifyWatchdogPeriod{p.id(), 500ms}) == Effects{ArmTimer{TimerKind::watchdog, p.now + 500ms}});
  }
}

TEST_CASE("without WatchdogSec there is no watchdog: pings are only recorded") {
  Harness h(watched_spec(0));
  CHECK(h.load() == Effects{Spawn{1}});
  CHECK_FALSE(h.job.status().watchdog_period);
  CHECK(h.spawned() == Effects{});
  h.advance(1h);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});
  CHECK(h.job.status().last_watchdog == h.now);
  CHECK(h.fire(TimerKind::watchdog) == Effects{});
  CHECK(h.job.state() == State::running);
}

TEST_CASE("a ping from an instance that is gone does not re-arm the next one's watchdog") {
  Harness h(watched_spec());
  h.load();
  h.spawned();
  const InstanceId old = h.id();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::watchdog}, Spawn{2}});
  CHECK(h.spawned() == Effects{ArmTimer{TimerKind::watchdog, h.now + 10s}});
  h.advance(5s);
  CHECK(h.send(NotifyWatchdog{old}) == Effects{});
  CHECK(h.send(NotifyWatchdogPeriod{old, 1h}) == Effects{});
  CHECK(h.send(NotifyWatchdogTrigger{old}) == Effects{});
  CHECK(h.job.status().last_watchdog == std::nullopt);
  h.advance(5s);
  CHECK(h.fire(TimerKind::watchdog) == Effects{Kill{2, SIGABRT}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
}

TEST_CASE("the watchdog is cancelled when the instance exits or is stopped, and not armed while it stops") {
  SUBCASE("an exit") {
    Harness h(watched_spec());
    h.load();
    h.spawned();
    h.advance(1h);
    h.send(Disable{});
    CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::watchdog}});
    CHECK(h.fire(TimerKind::watchdog) == Effects{});
  }
  SUBCASE("a stop: ExitTimeOut takes over") {
    Harness h(watched_spec());
    h.load();
    h.spawned();
    CHECK(h.send(Stop{}) ==
          Effects{CancelTimer{TimerKind::watchdog}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, t(20s)}});
    CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});
    CHECK(h.send(NotifyWatchdogPeriod{h.id(), 1s}) == Effects{});
  }
  SUBCASE("STOPPING=1") {
    Harness h(watched_spec());
    h.load();
    h.spawned();
    CHECK(h.send(NotifyStopping{h.id()}) ==
          Effects{CancelTimer{TimerKind::watchdog}, ArmTimer{TimerKind::exit_timeout, t(20s)}});
  }
  SUBCASE("bootout") {
    Harness h(watched_spec());
    h.load();
    h.spawned();
    CHECK(h.send(Bootout{}) ==
          Effects{CancelTimer{TimerKind::watchdog}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, t(20s)}});
    CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Removed{}});
  }
}

TEST_CASE("a MachServices job's watchdog starts at check-in, or at a WATCHDOG=1 before it") {
  JobSpec spec = service_spec();
  spec.watchdog_sec = 10;
  Harness h(spec);
  h.load();
  h.send(Lookup{1});
  CHECK(h.spawned() == Effects{});
  SUBCASE("at check-in") {
    h.advance(2s);
    CHECK(h.checked_in() ==
          Effects{CancelTimer{TimerKind::activation}, ArmTimer{TimerKind::watchdog, t(12s)}, DeliverLookups{{1}}});
  }
  SUBCASE("a ping before check-in starts it; check-in leaves it as it is") {
    h.advance(1s);
    CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{ArmTimer{TimerKind::watchdog, t(11s)}});
    h.advance(1s);
    CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
  }
  SUBCASE("expiry before check-in fails the waiting lookups, as the activation deadline does") {
    h.advance(1s);
    h.send(NotifyWatchdog{h.id()});
    h.advance(10s);
    CHECK(h.fire(TimerKind::watchdog) ==
          Effects{FailLookups{{1}, "com.example.echo: watchdog timeout: no WATCHDOG=1 within 10 s before checking in"},
                  CancelTimer{TimerKind::activation}, Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(31s)}});
  }
}

TEST_CASE("the watchdog keeps running through the exit-if-idle handshake, and stops once the instance is exiting") {
  JobSpec spec = service_spec();
  spec.watchdog_sec = 10;
  spec.idle_timeout = 5;
  Harness h(spec);
  h.load();
  h.bring_up();
  h.advance(5s);
  CHECK(h.fire(TimerKind::idle) == Effects{AskExitIfIdle{1, "idle"}, ArmTimer{TimerKind::exit_timeout, t(25s)}});
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{ArmTimer{TimerKind::watchdog, t(15s)}});
  SUBCASE("it parks and exits: the watchdog is off") {
    CHECK(h.send(ExitingIdle{h.id()}) == Effects{CancelTimer{TimerKind::watchdog}});
  }
  SUBCASE("it hangs in the handshake: the watchdog catches it before ExitTimeOut") {
    h.advance(10s);
    CHECK(h.fire(TimerKind::watchdog) == Effects{Kill{1, SIGABRT}, ArmTimer{TimerKind::exit_timeout, t(35s)}});
  }
}

TEST_CASE("a requested stop through the exit-if-idle handshake turns the watchdog off: ExitTimeOut governs it") {
  JobSpec spec = service_spec();
  spec.watchdog_sec = 10;
  Harness h(spec);
  h.load();
  h.bring_up();
  h.advance(5s);
  CHECK(h.send(Stop{}) ==
        Effects{CancelTimer{TimerKind::watchdog}, AskExitIfIdle{1, "stop"}, ArmTimer{TimerKind::exit_timeout, t(25s)}});
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});  // recorded, not re-armed
  h.advance(20s);
  CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
  CHECK(h.job.status().watchdog_kills == 0);
}

}  // namespace xpcd::job::test
