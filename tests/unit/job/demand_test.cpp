// What starts a job: RunAtLoad, KeepAlive in each form, LaunchOnlyOnce,
// StartInterval, WatchPaths, QueueDirectories, Sockets.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("RunAtLoad starts the job at load, once") {
  JobSpec spec = plain_spec();
  spec.run_at_load = true;
  Harness h(spec);
  CHECK(h.load() == Effects{Spawn{1}});
  CHECK(h.load() == Effects{});  // a second Load is ignored
  h.spawned();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});  // RunAtLoad is not KeepAlive
}

TEST_CASE("KeepAlive true starts the job at load and restarts it after every exit") {
  JobSpec spec = plain_spec();
  spec.keep_alive.always = true;
  Harness h(spec);
  CHECK(h.load() == Effects{Spawn{1}});
  h.spawned();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{Spawn{2}});
  h.spawned();
  h.advance(1h);
  CHECK(h.killed(SIGSEGV) == Effects{Spawn{3}});
}

TEST_CASE("KeepAlive SuccessfulExit is judged on the last exit status and implies RunAtLoad") {
  JobSpec spec = plain_spec();
  SUBCASE("true: restart after status 0 only") {
    spec.keep_alive.successful_exit = true;
    Harness h(spec);
    CHECK(h.load() == Effects{Spawn{1}});
    h.spawned();
    h.advance(1h);
    CHECK(h.exited(0) == Effects{Spawn{2}});
    h.spawned();
    h.advance(1h);
    SUBCASE("status 1") { CHECK(h.exited(1) == Effects{}); }
    SUBCASE("a signal") { CHECK(h.killed(SIGKILL) == Effects{}); }
    CHECK(h.job.state() == State::stopped);
  }
  SUBCASE("false: restart after a failure (status or signal) only") {
    spec.keep_alive.successful_exit = false;
    Harness h(spec);
    CHECK(h.load() == Effects{Spawn{1}});
    h.spawned();
    h.advance(1h);
    SUBCASE("status 1") { CHECK(h.exited(1) == Effects{Spawn{2}}); }
    SUBCASE("a signal") { CHECK(h.killed(SIGABRT) == Effects{Spawn{2}}); }
    SUBCASE("status 0") { CHECK(h.exited(0) == Effects{}); }
  }
  SUBCASE("false, with a spawn failure: judged as a failed exit, after the backoff") {
    spec.keep_alive.successful_exit = false;
    Harness h(spec);
    h.load();
    CHECK(h.spawn_failed(EACCES, "cannot exec /x: Permission denied") ==
          Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{2}});
  }
}

TEST_CASE("KeepAlive Crashed is judged on death by a signal") {
  JobSpec spec = plain_spec();
  SUBCASE("true: restart after any signal, not after an exit") {
    spec.keep_alive.crashed = true;
    Harness h(spec);
    CHECK(h.load() == Effects{});  // Crashed does not imply RunAtLoad
    h.send(Kickstart{});
    h.spawned();
    h.advance(1h);
    CHECK(h.killed(SIGKILL) == Effects{Spawn{2}});  // e.g. the OOM killer
    h.spawned();
    h.advance(1h);
    CHECK(h.exited(1) == Effects{});
  }
  SUBCASE("false: restart after an exit, not after a signal") {
    spec.keep_alive.crashed = false;
    Harness h(spec);
    h.load();
    h.send(Kickstart{});
    h.spawned();
    h.advance(1h);
    CHECK(h.exited(0) == Effects{Spawn{2}});
    h.spawned();
    h.advance(1h);
    CHECK(h.killed(SIGSEGV) == Effects{});
  }
}

TEST_CASE("KeepAlive PathState keeps the job alive while the path is as wanted") {
  JobSpec spec = plain_spec();
  spec.keep_alive.path_state = {{"/run/flag", true}};
  Harness h(spec);
  CHECK(h.load() == Effects{});
  CHECK(h.send(PathStateChanged{"/run/other", true}) == Effects{});
  CHECK(h.send(PathStateChanged{"/run/flag", true}) == Effects{Spawn{1}});
  h.spawned();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{Spawn{2}});
  h.spawned();
  CHECK(h.send(PathStateChanged{"/run/flag", false}) == Effects{});  // never kills: only restarts
  CHECK(h.job.state() == State::running);
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});
  SUBCASE("want absent: the glue reports the initial state before Load") {
    JobSpec g = plain_spec();
    g.keep_alive.path_state = {{"/run/lock", false}};
    Harness k(g);
    CHECK(k.send(PathStateChanged{"/run/lock", true}) == Effects{});  // before Load: recorded only
    CHECK(k.load() == Effects{});
    CHECK(k.send(PathStateChanged{"/run/lock", false}) == Effects{Spawn{1}});
  }
}

TEST_CASE("KeepAlive OtherJobEnabled follows the other job's events") {
  JobSpec spec = plain_spec();
  spec.keep_alive.other_job_enabled = {{"com.example.db", true}};
  Harness h(spec);
  h.load();
  CHECK(h.send(OtherJobChanged{"com.example.db", true}) == Effects{Spawn{1}});
  h.spawned();
  h.send(OtherJobChanged{"com.example.db", false});
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});
  SUBCASE("a condition that holds while throttled restarts the job when the backoff is over") {
    h.send(OtherJobChanged{"com.example.db", true});  // starts instance 2
    h.spawned();
    h.send(OtherJobChanged{"com.example.db", false});
    h.advance(1s);
    CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
    CHECK(h.send(OtherJobChanged{"com.example.db", true}) == Effects{});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{3}});
  }
}

TEST_CASE("LaunchOnlyOnce: never started again after the first run") {
  JobSpec spec = sockets_spec();
  spec.launch_only_once = true;
  spec.run_at_load = true;
  spec.keep_alive.always = true;
  Harness h(spec);
  CHECK(h.load() == Effects{Spawn{1}});  // never watched: it starts at once
  h.spawned();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});
  CHECK(h.job.state() == State::stopped);
  CHECK(h.send(SocketReadable{}) == Effects{});
  CHECK(h.send(Kickstart{}) ==
        Effects{Refused{"com.example.sock: LaunchOnlyOnce is set and the job has already run"}});
}

TEST_CASE("StartInterval starts a stopped job every interval") {
  JobSpec spec = plain_spec();
  spec.start_interval = 60;
  Harness h(spec);
  CHECK(h.load() == Effects{ArmTimer{TimerKind::start_interval, h.now + 60s}});
  h.advance(60s);
  CHECK(h.fire(TimerKind::start_interval) == Effects{ArmTimer{TimerKind::start_interval, h.now + 60s}, Spawn{1}});
  h.spawned();
  h.advance(60s);
  SUBCASE("still running: the fire is skipped") {
    CHECK(h.fire(TimerKind::start_interval) == Effects{ArmTimer{TimerKind::start_interval, h.now + 60s}});
  }
  SUBCASE("throttled: the fire is skipped") {
    h.exited(1);  // ran 60 s >= 10 s: not a failure
    CHECK(h.job.state() == State::stopped);
    h.fire(TimerKind::start_interval);  // instance 2
    h.spawned();
    h.advance(1s);
    h.exited(1);
    REQUIRE(h.job.state() == State::throttled);
    h.advance(59s);
    CHECK(h.fire(TimerKind::start_interval) == Effects{ArmTimer{TimerKind::start_interval, h.now + 60s}});
  }
  SUBCASE("disabled: the timer keeps running, nothing starts") {
    h.advance(1s);
    h.send(Disable{});
    h.exited(0);
    h.advance(59s);
    CHECK(h.fire(TimerKind::start_interval) == Effects{ArmTimer{TimerKind::start_interval, h.now + 60s}});
  }
}

TEST_CASE("WatchPaths: a change starts a stopped job") {
  JobSpec spec = plain_spec();
  spec.watch_paths = {"/etc/thing.conf"};
  Harness h(spec);
  h.load();
  CHECK(h.send(WatchPathChanged{}) == Effects{Spawn{1}});
  h.spawned();
  CHECK(h.send(WatchPathChanged{}) == Effects{});  // running: nothing to do
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});  // one-shot, not kept alive
}

TEST_CASE("QueueDirectories keep the job alive while a directory is non-empty") {
  JobSpec spec = plain_spec();
  spec.queue_directories = {"/var/spool/q"};
  Harness h(spec);
  h.load();
  CHECK(h.send(QueueDirectoriesChanged{false}) == Effects{});
  CHECK(h.send(QueueDirectoriesChanged{true}) == Effects{Spawn{1}});
  h.spawned();
  h.advance(1h);
  CHECK(h.exited(0) == Effects{Spawn{2}});  // still non-empty
  h.spawned();
  h.send(QueueDirectoriesChanged{false});
  h.advance(1h);
  CHECK(h.exited(0) == Effects{});
}

TEST_CASE("a Sockets job is watched while stopped and started by a readable listener") {
  Harness h(sockets_spec());
  CHECK(h.load() == Effects{WatchSockets{true}});
  CHECK(h.send(SocketReadable{}) == Effects{Spawn{1}, WatchSockets{false}});
  CHECK(h.send(SocketReadable{}) == Effects{});  // a late report while it starts
  h.spawned();
  SUBCASE("exit after a long run: watched again") {
    h.advance(1h);
    CHECK(h.exited(0) == Effects{WatchSockets{true}});
  }
  SUBCASE("an early exit: queued connections wait out the backoff unwatched") {
    h.advance(1s);
    CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{WatchSockets{true}});
  }
  SUBCASE("disabled: not watched") {
    h.send(Disable{});
    h.advance(1h);
    CHECK(h.exited(0) == Effects{});
    CHECK(h.send(Enable{}) == Effects{WatchSockets{true}});
  }
}

TEST_CASE("a disabled Sockets job is not watched at load") {
  JobSpec spec = sockets_spec();
  spec.disabled = true;
  Harness h(spec);
  CHECK(h.load() == Effects{});
  CHECK(h.send(Enable{}) == Effects{WatchSockets{true}});
  CHECK(h.send(Disable{}) == Effects{WatchSockets{false}});
}

}  // namespace xpcd::job::test
