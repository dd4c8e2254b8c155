// NOTIFY_SOCKET: READY=1, STOPPING=1, WATCHDOG=1, EXTEND_TIMEOUT_USEC, STATUS.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("READY=1 is recorded; only a check-in makes a MachServices job ready") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.spawned();
  CHECK(h.send(NotifyReady{h.id()}) == Effects{});
  CHECK(h.job.status().notified_ready);
  CHECK(h.job.state() == State::spawning);  // no checkin channel use: lookups cannot be delivered
  SUBCASE("a job without MachServices records it too") {
    Harness p(plain_spec());
    p.load();
    p.send(Kickstart{});
    p.spawned();
    CHECK(p.send(NotifyReady{p.id()}) == Effects{});
    CHECK(p.job.status().notified_ready);
    CHECK(p.job.state() == State::running);
  }
}

TEST_CASE("STOPPING=1 moves a running instance to stopping without a signal") {
  JobSpec spec = plain_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  h.load();
  h.spawned();
  h.advance(1h);
  CHECK(h.send(NotifyStopping{h.id()}) == Effects{ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.job.state() == State::stopping);
  CHECK(h.send(NotifyStopping{h.id()}) == Effects{});
  SUBCASE("its exit is its own: KeepAlive restarts it") {
    CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2}});
  }
  SUBCASE("it hangs: SIGKILL after ExitTimeOut") {
    h.advance(20s);
    CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
  }
}

TEST_CASE("STOPPING=1 before check-in fails the waiting lookups") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.spawned();
  CHECK(h.send(NotifyStopping{h.id()}) ==
        Effects{FailLookups{{1}, "com.example.echo: sent STOPPING=1 before checking in"},
                CancelTimer{TimerKind::activation}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.send(Lookup{2}) == Effects{});  // waits for the next instance
  h.advance(1s);
  CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}, ArmTimer{TimerKind::throttle, h.now + 10s}});
  h.advance(10s);
  CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{2}}});
}

TEST_CASE("WATCHDOG=1 is recorded with its time") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  h.advance(5s);
  CHECK(h.send(NotifyWatchdog{h.id()}) == Effects{});
  CHECK(h.job.status().last_watchdog == h.now);
}

TEST_CASE("EXTEND_TIMEOUT_USEC extends the activation deadline") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.spawned();
  h.advance(20s);
  CHECK(h.send(NotifyExtendTimeout{h.id(), 30s}) == Effects{ArmTimer{TimerKind::activation, t(50s)}});
  h.advance(1s);
  CHECK(h.send(NotifyExtendTimeout{h.id(), 5s}) == Effects{});  // never earlier
  h.advance(9s);
  CHECK(h.fire(TimerKind::activation) == Effects{});  // the old 30 s fire: stale
  CHECK(h.job.state() == State::spawning);
  SUBCASE("and the instance checks in in time") {
    CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
  }
  SUBCASE("or the extended deadline passes") {
    h.advance(20s);
    CHECK(h.fire(TimerKind::activation) ==
          Effects{FailLookups{{1}, "com.example.echo: did not check in within 50 s (activation deadline)"},
                  Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  }
}

TEST_CASE("EXTEND_TIMEOUT_USEC extends the stop deadline, until SIGKILL was sent") {
  Harness h(signal_spec());
  h.load();
  h.bring_up();
  h.send(Stop{});
  h.advance(15s);
  CHECK(h.send(NotifyExtendTimeout{h.id(), 60s}) == Effects{ArmTimer{TimerKind::exit_timeout, t(75s)}});
  h.advance(60s);
  CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
  CHECK(h.send(NotifyExtendTimeout{h.id(), 60s}) == Effects{});
}

TEST_CASE("EXTEND_TIMEOUT_USEC with no deadline running is ignored") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  CHECK(h.send(NotifyExtendTimeout{h.id(), 60s}) == Effects{});
  Harness p(plain_spec());
  p.load();
  p.send(Kickstart{});
  CHECK(p.send(NotifyExtendTimeout{p.id(), 60s}) == Effects{});  // no activation deadline for it
}

TEST_CASE("STATUS= is kept for print") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  CHECK(h.send(NotifyStatus{h.id(), "serving 3 clients"}) == Effects{});
  CHECK(h.job.status().status_text == "serving 3 clients");
  SUBCASE("and cleared for the next instance") {
    h.advance(1h);
    h.send(Kickstart{true});
    h.killed(SIGTERM);
    CHECK(h.job.status().status_text.empty());
  }
}

TEST_CASE("notifications from an instance that is gone are ignored") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  const InstanceId old = h.id();
  h.advance(1h);
  h.exited(0);
  CHECK(h.send(NotifyStatus{old, "late"}) == Effects{});
  CHECK(h.send(NotifyStopping{old}) == Effects{});
  CHECK(h.send(NotifyWatchdog{old}) == Effects{});
  CHECK(h.job.status().status_text.empty());
  CHECK(h.job.state() == State::stopped);
}

}  // namespace xpcd::job::test
