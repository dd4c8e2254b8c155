// Failures are fast and explained: every waiting lookup fails at once with
// a reason a user can act on, and throttling pauses rather than fails,
// except for spawn failures that retrying cannot fix.
#include <cerrno>

#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("a spawn failure fails every waiting lookup at once with the launcher's reason") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.send(Lookup{2});
  const std::string reason = "com.example.echo: cannot exec /usr/bin/nope: No such file or directory";
  CHECK(h.spawn_failed(ENOENT, "cannot exec /usr/bin/nope: No such file or directory") ==
        Effects{CancelTimer{TimerKind::activation}, FailLookups{{1, 2}, reason},
                ArmTimer{TimerKind::throttle, h.now + 10s}});
  CHECK(h.job.state() == State::throttled);
  CHECK(h.job.status().last_failure == reason);
  CHECK_FALSE(h.job.status().last_exit.has_value());

  SUBCASE("a lookup during the backoff fails at once with the same reason: retrying cannot fix it") {
    h.advance(1s);
    CHECK(h.send(Lookup{3}) == Effects{FailLookups{{3}, reason}});
    REQUIRE(h.last_logs.size() == 1);
    CHECK(h.last_logs[0].event == LogEvent::lookup_refused);
  }
  SUBCASE("after the backoff a lookup tries again (the file may be there now)") {
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{});
    CHECK(h.job.state() == State::stopped);
    CHECK(h.send(Lookup{3}) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  }
}

TEST_CASE("after a transient spawn failure lookups wait for the retry") {
  for (int error : {EAGAIN, ENOMEM, ETXTBSY, EMFILE}) {
    CAPTURE(error);
    Harness h(service_spec());
    h.load();
    h.send(Lookup{1});
    h.spawn_failed(error, "cannot fork");
    CHECK(h.send(Lookup{2}) == Effects{});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  }
}

TEST_CASE("spawn_error_is_transient separates resource shortages from configuration errors") {
  for (int e : {EAGAIN, ENOMEM, EMFILE, ENFILE, EINTR, EBUSY, ETXTBSY, ENOBUFS}) CHECK(spawn_error_is_transient(e));
  for (int e : {ENOENT, EACCES, ENOEXEC, EPERM, ENOTDIR, ELOOP, EINVAL, 0}) CHECK_FALSE(spawn_error_is_transient(e));
}

TEST_CASE("a spawn failure without text still names the stage and errno") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  const Effects fx = h.send(SpawnFailed{h.id(), "setuid", EPERM, ""});
  REQUIRE(fx.size() == 3);
  CHECK(fx[1] == Effect{FailLookups{{1}, "com.example.echo: spawn failed at setuid (errno 1)"}});
}

TEST_CASE("a crash before check-in fails the waiting lookups naming the signal") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  h.spawned();
  h.advance(1s);
  CHECK(h.killed(SIGSEGV) == Effects{CancelTimer{TimerKind::activation},
                                     FailLookups{{1}, "com.example.echo: killed by signal SIGSEGV before checking in"},
                                     ArmTimer{TimerKind::throttle, h.now + 10s}});
  SUBCASE("lookups during the backoff wait: a crash may not repeat") {
    CHECK(h.send(Lookup{2}) == Effects{});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
  }
}

TEST_CASE("an exit after check-in fails nothing: every lookup was delivered") {
  Harness h(service_spec());
  h.load();
  h.bring_up(1);
  h.advance(1s);
  CHECK(h.exited(2) == Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
  CHECK(h.job.status().last_failure == "com.example.echo: exited with status 2");
}

TEST_CASE("describe names exits and signals") {
  CHECK(describe(ExitStatus::exited(0)) == "exited with status 0");
  CHECK(describe(ExitStatus::killed(SIGKILL)) == "killed by signal SIGKILL");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(0) == "signal 0");
  CHECK(signal_name(1000) == "signal 1000");
}

TEST_CASE("a disabled job fails lookups at once") {
  JobSpec spec = service_spec();
  spec.disabled = true;
  Harness h(spec);
  h.load();
  CHECK(h.send(Lookup{1}) == Effects{FailLookups{{1}, "com.example.echo: job is disabled"}});
  CHECK(h.job.state() == State::stopped);
}

TEST_CASE("lookups of a LaunchOnlyOnce job fail once it has run") {
  JobSpec spec = signal_spec();
  spec.launch_only_once = true;
  Harness h(spec);
  h.load();
  h.bring_up(1);
  h.advance(60s);
  CHECK(h.exited(0) == Effects{});
  CHECK(h.send(Lookup{2}) ==
        Effects{FailLookups{{2}, "com.example.echo: LaunchOnlyOnce is set and the job has already run"}});
  SUBCASE("lookups held while it stops fail when it is gone") {
    Harness g(spec);
    g.load();
    g.bring_up(1);
    g.send(Stop{});
    CHECK(g.send(Lookup{2}) ==
          Effects{FailLookups{{2}, "com.example.echo: LaunchOnlyOnce is set and the job has already run"}});
  }
  SUBCASE("a failed first run is the only run: no backoff, no retry") {
    Harness g(spec);
    g.load();
    g.send(Lookup{1});
    CHECK(g.exited(1) == Effects{CancelTimer{TimerKind::activation},
                                 FailLookups{{1}, "com.example.echo: exited with status 1 before checking in"}});
    CHECK(g.job.state() == State::stopped);
  }
}

}  // namespace xpcd::job::test
