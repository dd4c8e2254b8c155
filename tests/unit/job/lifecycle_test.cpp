// The ordinary life of an instance: lookup, spawn, check-in, delivery, exit;
// and reports that arrive late or out of order.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("a lookup starts a stopped service and is delivered when it checks in") {
  Harness h(service_spec());
  CHECK(h.load() == Effects{});
  CHECK(h.job.state() == State::stopped);
  CHECK(h.send(Lookup{1}) == Effects{Spawn{1}, ArmTimer{TimerKind::activation, h.now + 30s}});
  CHECK(h.job.state() == State::spawning);
  h.advance(1ms);
  CHECK(h.send(Lookup{2}) == Effects{});
  CHECK(h.spawned(4242) == Effects{});
  CHECK(h.job.state() == State::spawning);  // exec'd, not checked in
  CHECK(h.job.status().pid == 4242);
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1, 2}}});
  CHECK(h.job.state() == State::running);
  CHECK(h.send(Lookup{3}) == Effects{DeliverLookups{{3}}});
  CHECK(h.job.waiting_lookups() == 0);
}

TEST_CASE("a service that exits with no demand left stays stopped") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  h.advance(60s);
  CHECK(h.exited(0) == Effects{});
  CHECK(h.job.state() == State::stopped);
  CHECK(h.job.status().last_exit == ExitStatus::exited(0));
  CHECK(h.job.status().pid == 0);
  SUBCASE("and the next lookup starts a new instance") {
    CHECK(h.send(Lookup{2}) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
    CHECK(h.job.status().starts == 2);
  }
}

TEST_CASE("a job without MachServices is ready once exec succeeded") {
  Harness h(plain_spec());
  h.load();
  CHECK(h.send(Kickstart{}) == Effects{Spawn{1}});  // no activation deadline: nothing waits for it
  CHECK(h.spawned() == Effects{});
  CHECK(h.job.state() == State::running);
}

TEST_CASE("the activation deadline is the daemon's setting") {
  Harness h(service_spec(), Config{.activation_timeout = 5s});
  h.load();
  CHECK(h.send(Lookup{1}) == Effects{Spawn{1}, ArmTimer{TimerKind::activation, h.now + 5s}});
}

TEST_CASE("an exit reported before SpawnSucceeded ends the instance; the late report is ignored") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  const InstanceId first = h.id();
  h.advance(10ms);
  CHECK(h.exited(1) == Effects{CancelTimer{TimerKind::activation},
                               FailLookups{{1}, "com.example.echo: exited with status 1 before checking in"},
                               ArmTimer{TimerKind::throttle, h.now + 10s}});
  CHECK(h.send(SpawnSucceeded{first, 77}) == Effects{});
  CHECK(h.send(SpawnFailed{first, "exec", 2, "late"}) == Effects{});
  CHECK(h.send(CheckedIn{first}) == Effects{});
  CHECK(h.send(Exited{first, ExitStatus::exited(0)}) == Effects{});
  CHECK(h.job.state() == State::throttled);
  CHECK(h.job.status().pid == 0);
}

TEST_CASE("reports about a previous instance do not touch the current one") {
  Harness h(service_spec());
  h.load();
  h.bring_up(1);
  const InstanceId old = h.id();
  h.advance(60s);
  h.send(Stop{});
  h.killed(SIGTERM);
  h.send(Lookup{2});
  REQUIRE(h.id() == old + 1);
  CHECK(h.send(CheckedIn{old}) == Effects{});
  CHECK(h.send(Exited{old, ExitStatus::exited(3)}) == Effects{});
  CHECK(h.send(NotifyStopping{old}) == Effects{});
  CHECK(h.job.state() == State::spawning);
  CHECK(h.job.waiting_lookups() == 1);
}

TEST_CASE("a duplicate check-in is ignored") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  CHECK(h.checked_in() == Effects{});
  CHECK(h.job.state() == State::running);
}

TEST_CASE("the activation deadline stops an instance that did not check in and fails its lookups") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.spawned();
  h.advance(30s);
  CHECK(h.fire(TimerKind::activation) ==
        Effects{FailLookups{{1}, "com.example.echo: did not check in within 30 s (activation deadline)"},
                Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.job.state() == State::stopping);
  REQUIRE(h.last_logs.size() == 1);
  CHECK(h.last_logs[0].event == LogEvent::deadline_passed);

  SUBCASE("a check-in after the deadline fired is ignored") {
    CHECK(h.checked_in() == Effects{});
    CHECK(h.job.state() == State::stopping);
  }
  SUBCASE("a lookup after the deadline waits for the next instance, after the backoff") {
    CHECK(h.send(Lookup{2}) == Effects{});
    h.advance(1s);
    CHECK(h.killed(SIGTERM) ==
          Effects{CancelTimer{TimerKind::exit_timeout}, ArmTimer{TimerKind::throttle, h.now + 10s}});
    CHECK(h.job.status().last_failure ==
          "com.example.echo: killed by signal SIGTERM before checking in");
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
    h.spawned();
    CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{2}}});
  }
  SUBCASE("a deadline never makes a long silent instance reset the backoff") {
    h.advance(20s);
    h.fire(TimerKind::exit_timeout);
    h.killed(SIGKILL);
    CHECK(h.job.status().consecutive_failures == 1);
    CHECK(h.job.state() == State::throttled);
  }
}

TEST_CASE("an activation timer that fires after the check-in is ignored") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  h.advance(30s);
  CHECK(h.fire(TimerKind::activation) == Effects{});
  CHECK(h.job.state() == State::running);
}

}  // namespace xpcd::job::test
