// Control verbs: kickstart [-k], bootout, enable, disable.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("kickstart starts a stopped job and leaves a running one alone") {
  Harness h(service_spec());
  h.load();
  CHECK(h.send(Kickstart{}) == Effects{Spawn{1}, ArmTimer{TimerKind::activation, h.now + 30s}});
  CHECK(h.send(Kickstart{}) == Effects{});
  h.spawned();
  h.checked_in();
  CHECK(h.send(Kickstart{}) == Effects{});
  CHECK(h.job.state() == State::running);
}

TEST_CASE("kickstart -k kills the running instance and starts a new one when it is gone") {
  Harness h(signal_spec());
  h.load();
  h.bring_up();
  h.advance(1s);
  CHECK(h.send(Kickstart{true}) ==
        Effects{TerminationImminent{1}, Kill{1, SIGTERM}, ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                                     ArmTimer{TimerKind::activation, h.now + 30s}});
  CHECK(h.job.status().consecutive_failures == 0);
}

TEST_CASE("kickstart -k while spawning restarts it and keeps the waiting lookups") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  CHECK(h.send(Kickstart{true}) == Effects{CancelTimer{TimerKind::activation}, Kill{1, SIGTERM},
                                           ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  SUBCASE("the old instance checks in while dying: ignored") {
    h.spawned();
    CHECK(h.checked_in() == Effects{});
  }
  SUBCASE("a second kickstart -k while it stops changes nothing") {
    CHECK(h.send(Kickstart{true}) == Effects{});
  }
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                                     ArmTimer{TimerKind::activation, h.now + 30s}});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
}

TEST_CASE("kickstart while throttled starts at once, skipping the backoff") {
  JobSpec spec = plain_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  h.load();
  h.spawned();
  h.exited(1);
  CHECK(h.send(Kickstart{}) == Effects{CancelTimer{TimerKind::throttle}, Spawn{2}});
  CHECK(h.job.status().throttled_until == std::nullopt);
}

TEST_CASE("kickstart during a failed instance's stop restarts without backoff") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.advance(30s);
  h.fire(TimerKind::activation);  // deadline: stopping, a failure
  CHECK(h.send(Kickstart{}) == Effects{});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2},
                                     ArmTimer{TimerKind::activation, h.now + 30s}});
  CHECK(h.job.status().consecutive_failures == 1);  // still counted
}

TEST_CASE("kickstart is refused when the job cannot start") {
  SUBCASE("disabled") {
    JobSpec spec = service_spec();
    spec.disabled = true;
    Harness h(spec);
    h.load();
    CHECK(h.send(Kickstart{}) == Effects{Refused{"com.example.echo: job is disabled"}});
  }
  SUBCASE("LaunchOnlyOnce spent, even with -k on the running instance") {
    JobSpec spec = service_spec();
    spec.launch_only_once = true;
    Harness h(spec);
    h.load();
    h.bring_up();
    CHECK(h.send(Kickstart{true}) ==
          Effects{Refused{"com.example.echo: LaunchOnlyOnce is set and the job has already run"}});
    CHECK(h.job.state() == State::running);
  }
}

TEST_CASE("bootout with waiting lookups fails them at once, stops the instance, then reports Removed") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.send(Lookup{2});
  h.spawned();
  CHECK(h.send(Bootout{}) == Effects{FailLookups{{1, 2}, "com.example.echo: job was removed"},
                                     CancelTimer{TimerKind::activation}, Kill{1, SIGTERM},
                                     ArmTimer{TimerKind::exit_timeout, h.now + 20s}});
  CHECK(h.send(Lookup{3}) == Effects{FailLookups{{3}, "com.example.echo: job is being removed"}});
  CHECK(h.send(Kickstart{}) == Effects{Refused{"com.example.echo: job is being removed"}});
  CHECK(h.checked_in() == Effects{});
  SUBCASE("it exits") {
    CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Removed{}});
  }
  SUBCASE("it has to be killed") {
    h.advance(20s);
    CHECK(h.fire(TimerKind::exit_timeout) == Effects{Kill{1, SIGKILL}});
    CHECK(h.killed(SIGKILL) == Effects{Removed{}});
  }
  CHECK(h.job.state() == State::removed);
  CHECK(h.send(Lookup{4}) == Effects{FailLookups{{4}, "com.example.echo: job was removed"}});
  CHECK(h.send(Kickstart{}) == Effects{Refused{"com.example.echo: job was removed"}});
  CHECK(h.send(Stop{}) == Effects{Refused{"com.example.echo: job was removed"}});
  CHECK(h.send(SocketReadable{}) == Effects{});
  CHECK(h.send(Bootout{}) == Effects{});
}

TEST_CASE("bootout of a job with no instance is immediate and cancels everything it armed") {
  SUBCASE("stopped, with a StartInterval") {
    JobSpec spec = plain_spec();
    spec.start_interval = 60;
    Harness h(spec);
    h.load();
    CHECK(h.send(Bootout{}) == Effects{CancelTimer{TimerKind::start_interval}, Removed{}});
  }
  SUBCASE("throttled, with lookups waiting") {
    Harness h(service_spec());
    h.load();
    h.send(Lookup{1});
    h.killed(SIGSEGV);
    h.send(Lookup{2});
    CHECK(h.send(Bootout{}) == Effects{FailLookups{{2}, "com.example.echo: job was removed"},
                                       CancelTimer{TimerKind::throttle}, Removed{}});
  }
  SUBCASE("a sockets job stops watching") {
    Harness h(sockets_spec());
    CHECK(h.load() == Effects{WatchSockets{true}});
    CHECK(h.send(Bootout{}) == Effects{WatchSockets{false}, Removed{}});
  }
}

TEST_CASE("bootout during an announced stop waits for that exit") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  h.send(NotifyStopping{h.id()});
  CHECK(h.send(Bootout{}) == Effects{});
  CHECK(h.exited(0) == Effects{CancelTimer{TimerKind::exit_timeout}, Removed{}});
}

TEST_CASE("disable leaves a live instance alone but nothing starts afterwards") {
  JobSpec spec = signal_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  h.load();
  h.send(Lookup{1});
  CHECK(h.send(Disable{}) == Effects{});
  h.spawned();
  CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{1}}});
  CHECK(h.send(Lookup{2}) == Effects{DeliverLookups{{2}}});  // a running instance still serves
  h.advance(1h);
  h.send(Stop{});
  CHECK(h.send(Lookup{3}) == Effects{FailLookups{{3}, "com.example.echo: job is disabled"}});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}});
  CHECK(h.job.state() == State::stopped);
  SUBCASE("enable restarts a KeepAlive job") {
    CHECK(h.send(Enable{}) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  }
}

TEST_CASE("disable while throttled cancels the restart and fails the waiting lookups") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.killed(SIGSEGV);
  h.send(Lookup{2});
  CHECK(h.send(Disable{}) == Effects{CancelTimer{TimerKind::throttle},
                                     FailLookups{{2}, "com.example.echo: job is disabled"}});
  CHECK(h.job.state() == State::stopped);
  CHECK(h.send(Enable{}) == Effects{});  // no demand left
}

TEST_CASE("lookups held through a stop fail when the job is disabled meanwhile") {
  Harness h(signal_spec());
  h.load();
  h.bring_up();
  h.send(Stop{});
  h.send(Lookup{2});
  CHECK(h.send(Disable{}) == Effects{FailLookups{{2}, "com.example.echo: job is disabled"}});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}});
}

TEST_CASE("a job disabled at load honours RunAtLoad when enabled") {
  JobSpec spec = plain_spec();
  spec.disabled = true;
  spec.run_at_load = true;
  Harness h(spec);
  CHECK(h.load() == Effects{});
  CHECK(h.send(Enable{}) == Effects{Spawn{1}});
  CHECK(h.send(Enable{}) == Effects{});
  h.spawned();
  h.advance(1h);
  h.exited(0);
  CHECK(h.send(Disable{}) == Effects{});
  CHECK(h.send(Enable{}) == Effects{});  // RunAtLoad was honoured once
}

}  // namespace xpcd::job::test
