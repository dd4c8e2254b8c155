// Stopping: SIGTERM, ExitTimeOut, SIGKILL, and what happens to demand that
// arrives while an instance goes.
#include <cerrno>

#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("a stop sends SIGTERM and escalates to SIGKILL after ExitTimeOut") {
  Harness h(signal_spec());
  h.load();
  h.bring_up();
  CHECK(h.send(Stop{}) ==
        Effects{TerminationImminent{1}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.job.state() == State::stopping);
  SUBCASE("it exits in time") {
    h.advance(19s);
    CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}});
    CHECK(h.job.state() == State::stopped);
  }
  SUBCASE("it does not: SIGKILL, once") {
    h.advance(20s);
    CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
    REQUIRE(h.last_logs.size() == 1);
    CHECK(h.last_logs[0].event == LogEvent::escalated);
    CHECK(h.fire(TimerKind::exit_timeout) == Effects{});
    h.advance(1ms);
    CHECK(h.killed(SIGKILL) == Effects{});  // nothing left armed
    CHECK(h.job.state() == State::stopped);
  }
  SUBCASE("a second stop changes nothing") {
    CHECK(h.send(Stop{}) == Effects{});
  }
}

TEST_CASE("ExitTimeOut is per job, and 0 means never SIGKILL, as in launchd") {
  JobSpec spec = signal_spec();
  SUBCASE("1 second") {
    spec.exit_timeout = 1;
    Harness h(spec);
    h.load();
    h.bring_up();
    CHECK(h.send(Stop{}) ==
          Effects{TerminationImminent{1}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 1s}});
  }
  SUBCASE("0") {
    spec.exit_timeout = 0;
    Harness h(spec);
    h.load();
    h.bring_up();
    CHECK(h.send(Stop{}) == Effects{TerminationImminent{1}, Kill{1, SIGTERM}});
    h.advance(1h);
    CHECK(h.killed(SIGTERM) == Effects{});
  }
}

TEST_CASE("a stop during start kills the instance and carries the waiting lookups to the next one") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  SUBCASE("before SpawnSucceeded arrives") {
    CHECK(h.send(Stop{}) == Effects{CancelTimer{TimerKind::activation}, Kill{1, SIGTERM},
                                    ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
    CHECK(h.spawned(55) == Effects{});
    CHECK(h.job.state() == State::stopping);
    CHECK(h.job.status().pid == 55);
  }
  SUBCASE("after SpawnSucceeded") {
    h.spawned();
    CHECK(h.send(Stop{}) == Effects{CancelTimer{TimerKind::activation}, Kill{1, SIGTERM},
                                    ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  }
  h.advance(100ms);
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                                     ArmTimer{TimerKind::activation, h.now + 30s}});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
}

TEST_CASE("a lookup during stopping is held and restarts the job after the exit") {
  Harness h(signal_spec());
  h.load();
  h.bring_up(1);
  h.send(Stop{});
  CHECK(h.send(Lookup{2}) == Effects{});
  CHECK(h.send(Lookup{3}) == Effects{});
  h.advance(1s);
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                                     ArmTimer{TimerKind::activation, h.now + 30s}});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{2, 3}}});
}

TEST_CASE("a stop while throttled or stopped is refused: there is no instance") {
  JobSpec spec = plain_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  h.load();
  h.spawned();
  h.exited(1);
  REQUIRE(h.job.state() == State::throttled);
  CHECK(h.send(Stop{}) == Effects{Refused{"com.example.plain: not running"}});
  CHECK(h.job.state() == State::throttled);  // the backoff keeps running
  h.advance(10s);
  CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}});

  Harness s(plain_spec());
  s.load();
  CHECK(s.send(Stop{}) == Effects{Refused{"com.example.plain: not running"}});
}

TEST_CASE("a stopped KeepAlive job restarts at once, as launchctl stop does") {
  JobSpec spec = plain_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  h.load();
  h.spawned();
  h.advance(1h);
  h.send(Stop{});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2}});
}

TEST_CASE("kill SIGNAL signals the instance; the exit is judged as the program's own") {
  JobSpec spec = plain_spec();
  spec.keep_alive.crashed = true;
  Harness h(spec);
  h.load();
  CHECK(h.send(Signal{SIGHUP}) == Effects{Refused{"com.example.plain: not running"}});
  h.send(Kickstart{});
  h.spawned();
  CHECK(h.send(Signal{SIGHUP}) == Effects{Kill{1, SIGHUP}});
  CHECK(h.job.state() == State::running);
  h.advance(1h);
  CHECK(h.killed(SIGHUP) == Effects{Spawn{2}});  // Crashed=true: death by signal restarts
}

TEST_CASE("a requested stop is not judged by SuccessfulExit or Crashed") {
  JobSpec spec = plain_spec();
  spec.keep_alive.crashed = true;
  Harness h(spec);
  h.load();
  h.send(Kickstart{});
  h.spawned();
  h.advance(1h);
  h.send(Stop{});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}});
  CHECK(h.job.state() == State::stopped);
}

}  // namespace xpcd::job::test

namespace xpcd::job::test {

TEST_CASE("a spawn failure reported after a stop during start is still a failure") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.send(Stop{});
  CHECK(h.spawn_failed(ENOENT, "cannot exec /usr/bin/nope: No such file or directory") ==
        Effects{CancelTimer{TimerKind::exit_timeout},
                FailLookups{{1}, "com.example.echo: cannot exec /usr/bin/nope: No such file or directory"},
                ArmTimer{TimerKind::throttle, h.now + 10s}});
  CHECK(h.job.status().consecutive_failures == 1);
}

TEST_CASE("events before Load start nothing") {
  Harness h(service_spec());
  CHECK(h.send(Lookup{1}) == Effects{FailLookups{{1}, "com.example.echo: job is not loaded"}});
  CHECK(h.send(Kickstart{}) == Effects{Refused{"com.example.echo: job is not loaded"}});
  CHECK(h.send(QueueDirectoriesChanged{true}) == Effects{});
  CHECK(h.job.state() == State::stopped);
}

}  // namespace xpcd::job::test
