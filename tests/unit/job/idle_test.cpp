// Transactions and the exit-if-idle handshake (DESIGN 6, job_idle.cpp),
// with the fake clock: every race of the handshake scripted in order.
#include "harness.hpp"

namespace xpcd::job::test {

namespace {

JobSpec idle_spec(double timeout = 0.05) {
  JobSpec spec = service_spec();
  spec.idle_timeout = timeout;
  return spec;
}

// Brings an idle_spec job up through lookup 1 and returns the arm of its
// idle timer, as check-in emits it.
Effects up(Harness& h) {
  h.load();
  h.send(Lookup{1});
  h.spawned();
  return h.checked_in();
}

}  // namespace

TEST_CASE("a clean instance is asked to exit after TimeOut, fractional seconds allowed") {
  Harness h(idle_spec(0.05));
  CHECK(up(h) == Effects{CancelTimer{TimerKind::activation}, ArmTimer{TimerKind::idle, h.now + 50ms},
                         DeliverLookups{{1}}});
  h.advance(50ms);
  CHECK(h.fire(TimerKind::idle) ==
        Effects{AskExitIfIdle{1, "idle"}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.job.state() == State::draining);
  REQUIRE(h.last_logs.size() == 1);
  CHECK(h.last_logs[0].event == LogEvent::exit_if_idle);
  SUBCASE("it parks and exits: a free exit, no backoff, nothing restarts without demand") {
    CHECK(h.send(ExitingIdle{1}) == Effects{});
    CHECK(h.job.state() == State::stopping);
    CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}});
    CHECK(h.job.state() == State::stopped);
    CHECK(h.job.status().idle_exits == 1);
    CHECK(h.job.status().consecutive_failures == 0);  // ran 50 ms, far under ThrottleInterval: not a failure
    SUBCASE("the next lookup (or a parked connection turned readable) relaunches it at once") {
      CHECK(h.send(Lookup{2}) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
      CHECK(h.job.status().relaunches == 1);
      REQUIRE(h.last_logs.size() == 1);
      CHECK(h.last_logs[0].event == LogEvent::relaunched);
    }
    SUBCASE("a relaunch that fails fails the lookups waiting for it, with the reason") {
      h.send(Lookup{2});
      CHECK(h.spawn_failed(ENOENT, "cannot exec /usr/bin/echo-service: No such file or directory") ==
            Effects{CancelTimer{TimerKind::activation},
                    FailLookups{{2}, "com.example.echo: cannot exec /usr/bin/echo-service: No such file or directory"},
                    ArmTimer{TimerKind::throttle, h.now + 10s}});
    }
  }
}

TEST_CASE("a transaction stops the idle clock; the end of the last one starts it again") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(900ms);
  CHECK(h.send(Transactions{1, true}) == Effects{CancelTimer{TimerKind::idle}});
  CHECK(h.job.status().dirty);
  h.advance(1h);  // a dirty instance is never asked, however long
  CHECK(h.fire(TimerKind::idle) == Effects{});
  CHECK(h.send(Transactions{1, false}) == Effects{ArmTimer{TimerKind::idle, h.now + 1s}});
  SUBCASE("a stale transition from an earlier instance is ignored") {
    CHECK(h.send(Transactions{7, true}) == Effects{});
  }
}

TEST_CASE("a lookup during the handshake is held; busy hands it over and restarts the idle clock") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  CHECK(h.send(Lookup{2}) == Effects{});
  CHECK(h.send(Busy{1}) ==
        Effects{CancelTimer{TimerKind::exit_timeout}, DeliverLookups{{2}}, ArmTimer{TimerKind::idle, h.now + 1s}});
  CHECK(h.job.state() == State::running);
  CHECK(h.job.status().busy_answers == 1);
  REQUIRE(h.last_logs.size() == 1);
  CHECK(h.last_logs[0].event == LogEvent::busy);
}

TEST_CASE("a lookup held during the handshake goes to the next instance when this one parks and exits") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  // The lookup reached xpcd after the service checked its sockets and
  // before it parked them: xpcd holds it, the exit starts the next instance.
  CHECK(h.send(Lookup{2}) == Effects{});
  h.send(ExitingIdle{1});
  CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                               ArmTimer{TimerKind::activation, h.now + 30s}});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, ArmTimer{TimerKind::idle, h.now + 1s},
                                  DeliverLookups{{2}}});
}

TEST_CASE("a transaction beginning while exit-if-idle is in flight: the answer (busy) decides") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  CHECK(h.send(Transactions{1, true}) == Effects{CancelTimer{TimerKind::exit_timeout}});  // never killed while dirty
  CHECK(h.send(Busy{1}) == Effects{});  // dirty: no idle clock
  CHECK(h.send(Transactions{1, false}) == Effects{ArmTimer{TimerKind::idle, h.now + 1s}});
}

TEST_CASE("a crash during the handshake is a crash: a failure, and the held lookups wait for the next instance") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  h.send(Lookup{2});
  CHECK(h.killed(SIGSEGV) == Effects{CancelTimer{TimerKind::exit_timeout}, ArmTimer{TimerKind::throttle, h.now + 10s}});
  CHECK(h.job.state() == State::throttled);
  CHECK(h.job.status().idle_exits == 0);
  CHECK(h.job.status().consecutive_failures == 1);
  h.advance(10s);
  CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
}

TEST_CASE("a clean instance that does not answer within ExitTimeOut is killed; its exit is not a failure") {
  JobSpec spec = idle_spec(1);
  spec.exit_timeout = 2;
  Harness h(spec);
  up(h);
  h.advance(1s);
  CHECK(h.fire(TimerKind::idle) == Effects{AskExitIfIdle{1, "idle"}, ArmTimer{TimerKind::exit_timeout, h.now + 2s}});
  h.advance(2s);
  CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
  CHECK(h.job.state() == State::stopping);
  CHECK(h.killed(SIGKILL) == Effects{});
  CHECK(h.job.state() == State::stopped);
  CHECK(h.job.status().consecutive_failures == 0);
}

TEST_CASE("no idle exit for KeepAlive=true, EnableTransactions=false, TimeOut=0, or a job without the checkin channel") {
  JobSpec spec = idle_spec(1);
  SUBCASE("KeepAlive") { spec.keep_alive.always = true; }
  SUBCASE("EnableTransactions=false") { spec.enable_transactions = false; }
  SUBCASE("TimeOut=0") { spec.idle_timeout = 0.0; }
  Harness h(spec);
  h.load();
  h.send(Lookup{1});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
}

TEST_CASE("the daemon's default idle timeout applies to jobs without TimeOut") {
  Config config;
  config.idle_timeout = std::chrono::seconds{30};
  Harness h(service_spec(), config);
  CHECK(up(h) == Effects{CancelTimer{TimerKind::activation}, ArmTimer{TimerKind::idle, h.now + 30s},
                         DeliverLookups{{1}}});
  Harness plain(plain_spec(), config);
  plain.load();
  plain.send(Kickstart{});
  CHECK(plain.spawned() == Effects{});  // no checkin channel: no handshake, no idle clock
}

TEST_CASE("memory pressure asks clean EnablePressuredExit instances to exit, idle timeout or not") {
  JobSpec spec = service_spec();
  spec.enable_pressured_exit = true;
  spec.enable_transactions = false;  // implied by EnablePressuredExit
  Harness h(spec);
  up(h);
  SUBCASE("clean") {
    CHECK(h.send(MemoryPressure{}) ==
          Effects{AskExitIfIdle{1, "memory-pressure"}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
    CHECK(h.job.status().pressured_exits == 1);
  }
  SUBCASE("dirty: never") {
    h.send(Transactions{1, true});
    CHECK(h.send(MemoryPressure{}) == Effects{});
  }
  SUBCASE("a job without EnablePressuredExit ignores it") {
    Harness g(idle_spec(60));
    up(g);
    CHECK(g.send(MemoryPressure{}) == Effects{});
  }
  SUBCASE("KeepAlive=true ignores it (launchd)") {
    JobSpec kept = spec;
    kept.keep_alive.always = true;
    Harness g(kept);
    g.load();
    g.spawned();
    g.checked_in();
    CHECK(g.send(MemoryPressure{}) == Effects{});
  }
}

TEST_CASE("a requested stop of a clean instance uses the handshake; busy turns it into SIGTERM") {
  Harness h(service_spec());
  up(h);
  CHECK(h.send(Stop{}) == Effects{AskExitIfIdle{1, "stop"}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  SUBCASE("it parks and exits: not counted as an idle exit") {
    h.send(ExitingIdle{1});
    CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}});
    CHECK(h.job.status().idle_exits == 0);
  }
  SUBCASE("busy: its peers are told, then SIGTERM") {
    CHECK(h.send(Busy{1}) == Effects{CancelTimer{TimerKind::exit_timeout}, TerminationImminent{1}, Kill{1, SIGTERM},
                                     ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
    CHECK(h.job.state() == State::stopping);
  }
  SUBCASE("a second stop during the handshake changes nothing") {
    CHECK(h.send(Stop{}) == Effects{});
  }
}

TEST_CASE("a requested stop of a dirty instance: termination-imminent, SIGTERM, SIGKILL after ExitTimeOut") {
  Harness h(service_spec());
  up(h);
  h.send(Transactions{1, true});
  CHECK(h.send(Stop{}) ==
        Effects{TerminationImminent{1}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  h.advance(20s);
  CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
}

TEST_CASE("bootout during the handshake removes the job once the instance is gone") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  h.send(Lookup{2});
  CHECK(h.send(Bootout{}) == Effects{FailLookups{{2}, "com.example.echo: job was removed"}});
  SUBCASE("it parks and exits") {
    h.send(ExitingIdle{1});
    CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}, Removed{}});
  }
  SUBCASE("it is busy: SIGTERM") {
    CHECK(h.send(Busy{1}) == Effects{CancelTimer{TimerKind::exit_timeout}, TerminationImminent{1}, Kill{1, SIGTERM},
                                     ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  }
}

TEST_CASE("an instance that dies with a transaction open is relaunched (launchd)") {
  Harness h(idle_spec(1));
  up(h);
  h.send(Transactions{1, true});
  h.advance(60s);  // ran long: not throttled
  CHECK(h.killed(SIGSEGV) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  SUBCASE("clean, it is not") {
    Harness g(idle_spec(1));
    up(g);
    g.advance(60s);
    CHECK(g.killed(SIGSEGV) == Effects{CancelTimer{TimerKind::idle}});
  }
}

}  // namespace xpcd::job::test

namespace xpcd::job::test {

TEST_CASE("a transaction begun while exit-if-idle is in flight holds off the kill until the instance is clean again") {
  JobSpec spec = idle_spec(1);
  spec.exit_timeout = 2;
  Harness h(spec);
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  // Its loop is busy with the request: busy comes late.
  CHECK(h.send(Transactions{1, true}) == Effects{CancelTimer{TimerKind::exit_timeout}});
  h.advance(1h);
  CHECK(h.fire(TimerKind::exit_timeout) == Effects{});  // never killed while dirty
  CHECK(h.job.state() == State::draining);
  SUBCASE("clean again and still no answer: ExitTimeOut from now") {
    CHECK(h.send(Transactions{1, false}) == Effects{ArmTimer{TimerKind::exit_timeout, h.now + 2s}});
  }
  SUBCASE("busy at last: it goes on, dirty, no idle clock") {
    CHECK(h.send(Busy{1}) == Effects{});
    CHECK(h.job.state() == State::running);
  }
}

TEST_CASE("connections handed back after an idle exit are never refused for the waiting limit") {
  Harness h(idle_spec(1));
  up(h);
  h.advance(1s);
  h.fire(TimerKind::idle);
  h.send(ExitingIdle{1});
  h.exited(0);
  h.send(Lookup{2, true});
  for (LookupId id = 3; id < 3 + limits::kMaxWaitingLookups; ++id) {
    REQUIRE(h.send(Lookup{id, true}) == Effects{});
  }
  // A new client past the limit is still refused.
  auto refused = h.send(Lookup{5000});
  REQUIRE(refused.size() == 1);
  CHECK(std::holds_alternative<FailLookups>(refused[0]));
}

TEST_CASE("no idle exit while a conditional KeepAlive holds: it would be started again at once") {
  JobSpec spec = idle_spec(1);
  spec.keep_alive.path_state.emplace_back("/run/flag", true);
  Harness h(spec);
  h.load();
  h.send(PathStateChanged{"/run/flag", true});  // standing demand: started
  h.spawned();
  h.checked_in();
  h.advance(1s);
  CHECK(h.fire(TimerKind::idle) == Effects{});
  CHECK(h.job.state() == State::running);
  CHECK(h.send(PathStateChanged{"/run/flag", false}) == Effects{});
}

}  // namespace xpcd::job::test
