// Why an instance runs (Status::started_because, for xpcctl blame) and the
// refusal count the control plane reads to tell a caller why a request
// was refused.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("every start records the demand that made it") {
  SUBCASE("a lookup") {
    Harness h(service_spec());
    h.load();
    CHECK(h.job.status().started_because.empty());
    h.send(Lookup{1});
    CHECK(h.job.status().started_because == "lookup");
  }
  SUBCASE("RunAtLoad") {
    JobSpec s = plain_spec();
    s.run_at_load = true;
    Harness h(s);
    h.load();
    CHECK(h.job.status().started_because == "RunAtLoad");
  }
  SUBCASE("KeepAlive=true, at load and after each exit") {
    JobSpec s = plain_spec();
    s.keep_alive.always = true;
    Harness h(s);
    h.load();
    CHECK(h.job.status().started_because == "KeepAlive");
    h.spawned();
    h.advance(20s);
    h.exited(0);
    CHECK(h.job.status().instance == 2);
    CHECK(h.job.status().started_because == "KeepAlive");
  }
  SUBCASE("KeepAlive.SuccessfulExit=false after a failure, once the backoff is over") {
    JobSpec s = plain_spec();
    s.keep_alive.successful_exit = false;
    Harness h(s);
    h.load();
    CHECK(h.job.status().started_because == "RunAtLoad (implied by KeepAlive.SuccessfulExit)");
    h.spawned();
    h.exited(1);  // at once: a failed instance, throttled
    REQUIRE(h.job.state() == State::throttled);
    h.advance(10s);
    h.fire(TimerKind::throttle);
    CHECK(h.job.status().started_because == "KeepAlive (after exited with status 1) (after the backoff)");
  }
  SUBCASE("kickstart, and kickstart -k for the next instance") {
    Harness h(signal_spec());
    h.load();
    h.send(Kickstart{});
    CHECK(h.job.status().started_because == "kickstart");
    h.spawned();
    h.checked_in();
    h.advance(20s);
    h.send(Kickstart{true});
    h.killed(SIGTERM);
    CHECK(h.job.status().instance == 2);
    CHECK(h.job.status().started_because == "kickstart");
  }
  SUBCASE("one-shot demand: socket, StartInterval, WatchPaths, QueueDirectories, calendar") {
    Harness h(sockets_spec());
    h.load();
    SUBCASE("socket") {
      h.send(SocketReadable{});
      CHECK(h.job.status().started_because == "socket");
    }
    SUBCASE("WatchPaths") {
      h.send(WatchPathChanged{});
      CHECK(h.job.status().started_because == "WatchPaths");
    }
    SUBCASE("QueueDirectories") {
      h.send(QueueDirectoriesChanged{true});
      CHECK(h.job.status().started_because == "QueueDirectories");
    }
    SUBCASE("calendar") {
      h.send(CalendarFired{{2024, 1, 1, 0, 1}});
      CHECK(h.job.status().started_because == "StartCalendarInterval");
    }
  }
  SUBCASE("StartInterval") {
    JobSpec s = plain_spec();
    s.start_interval = 60;
    Harness h(s);
    h.load();
    h.advance(60s);
    h.fire(TimerKind::start_interval);
    CHECK(h.job.status().started_because == "StartInterval");
  }
}

TEST_CASE("a start after an idle exit says it is a relaunch, and for what") {
  JobSpec s = service_spec();
  s.idle_timeout = 1;
  Harness h(s);
  h.load();
  h.bring_up();
  h.advance(1s);
  h.fire(TimerKind::idle);
  h.send(ExitingIdle{1});
  h.exited(0);
  REQUIRE(h.job.state() == State::stopped);
  h.send(Lookup{2});
  CHECK(h.job.status().started_because == "relaunch after idle exit: lookup");
  CHECK(h.job.status().relaunches == 1);
}

TEST_CASE("refused control requests are counted with their reason") {
  Harness h(service_spec());
  h.load();
  CHECK(h.job.refusals() == 0);
  h.send(Signal{SIGTERM});
  CHECK(h.job.refusals() == 1);
  CHECK(h.job.last_refusal() == "com.example.echo: not running");
  h.send(Disable{});
  h.send(Kickstart{});
  CHECK(h.job.refusals() == 2);
  CHECK(h.job.last_refusal() == "com.example.echo: job is disabled");
  SUBCASE("a request the engine carries out is not counted") {
    h.send(Enable{});
    h.send(Kickstart{});
    CHECK(h.job.refusals() == 2);
  }
  SUBCASE("after removal every control request is refused") {
    h.send(Bootout{});
    h.send(Stop{});
    CHECK(h.job.refusals() == 3);
    CHECK(h.job.last_refusal() == "com.example.echo: job was removed");
  }
}

}  // namespace xpcd::job::test
