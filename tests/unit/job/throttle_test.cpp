// ThrottleInterval as capped exponential backoff: the arithmetic and the
// engine's use of it.
#include "harness.hpp"
#include "job/throttle.hpp"

namespace xpcd::job::test {

TEST_CASE("ThrottleInterval is used as given, but never below one second") {
  CHECK(throttle_interval(10) == 10s);
  CHECK(throttle_interval(1) == 1s);  // the limit, N
  CHECK(throttle_interval(0) == 1s);  // below it
  CHECK(throttle_interval(-5) == 1s);
  CHECK(throttle_interval(INT64_MAX) == std::chrono::seconds{1'000'000'000});  // no overflow
}

TEST_CASE("the backoff cap is 16 intervals, at most five minutes, never below the interval") {
  CHECK(throttle_cap(1s) == 16s);
  CHECK(throttle_cap(10s) == 160s);
  CHECK(throttle_cap(18s) == 288s);
  CHECK(throttle_cap(19s) == 300s);  // 16 x 19 = 304: the five-minute bound applies
  CHECK(throttle_cap(60s) == 300s);
  CHECK(throttle_cap(300s) == 300s);
  CHECK(throttle_cap(600s) == 600s);  // the interval itself is the floor
}

TEST_CASE("the backoff doubles per consecutive failure up to the cap") {
  const std::vector<Duration> want10{0s, 10s, 20s, 40s, 80s, 160s, 160s};
  for (unsigned n = 0; n < want10.size(); ++n) {
    CAPTURE(n);
    CHECK(throttle_delay(10s, n) == want10[n]);
  }
  CHECK(throttle_delay(60s, 3) == 240s);
  CHECK(throttle_delay(60s, 4) == 300s);
  CHECK(throttle_delay(10s, 4'000'000'000u) == 160s);  // no overflow however long the streak
}

namespace {

JobSpec keep_alive_spec() {
  JobSpec s = plain_spec();
  s.keep_alive.always = true;
  return s;
}

}  // namespace

TEST_CASE("a crash-looping KeepAlive job restarts after 10, 20, 40, 80, 160, 160 seconds") {
  Harness h(keep_alive_spec());
  CHECK(h.load() == Effects{Spawn{1}});
  const std::vector<Duration> delays{10s, 20s, 40s, 80s, 160s, 160s};
  for (std::size_t i = 0; i < delays.size(); ++i) {
    CAPTURE(i);
    h.spawned();
    h.advance(1s);
    CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + delays[i]}});
    CHECK(h.job.state() == State::throttled);
    CHECK(h.job.status().throttled_until == h.now + delays[i]);
    REQUIRE(h.last_logs.size() == 2);
    CHECK(h.last_logs[0] == Log{LogEvent::instance_failed, "com.example.plain: exited with status 1"});
    CHECK(h.last_logs[1].event == LogEvent::throttled);
    h.advance(delays[i]);
    CHECK(h.fire(TimerKind::throttle) == Effects{Spawn{i + 2}});
  }
  CHECK(h.job.status().consecutive_failures == 6);
}

TEST_CASE("an instance that ran ThrottleInterval or longer resets the backoff") {
  Harness h(keep_alive_spec());
  h.load();
  h.spawned();
  h.advance(1s);
  h.exited(1);
  h.advance(10s);
  h.fire(TimerKind::throttle);  // instance 2
  h.spawned();
  SUBCASE("ran exactly ThrottleInterval (N): restart at once, backoff reset") {
    h.advance(10s);
    CHECK(h.exited(1) == Effects{Spawn{3}});
    CHECK(h.job.status().consecutive_failures == 0);
    h.spawned();
    h.advance(1s);
    CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
  }
  SUBCASE("ran a millisecond less (N-1): throttled, and the delay doubled") {
    h.advance(10s - 1ms);
    CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + 20s}});
    CHECK(h.job.status().consecutive_failures == 2);
  }
}

TEST_CASE("ThrottleInterval 0 still waits one second between failing starts") {
  JobSpec spec = keep_alive_spec();
  spec.throttle_interval = 0;
  Harness h(spec);
  h.load();
  h.spawned();
  CHECK(h.exited(1) == Effects{ArmTimer{TimerKind::throttle, h.now + 1s}});
}

TEST_CASE("an exit that was asked for does not count as a failure") {
  Harness h(keep_alive_spec());
  h.load();
  h.spawned();
  h.advance(1s);
  h.send(Stop{});
  CHECK(h.killed(SIGTERM) == Effects{CancelTimer{TimerKind::exit_timeout}, Spawn{2}});
  CHECK(h.job.status().consecutive_failures == 0);
}

TEST_CASE("a job without demand still waits out the backoff after a failure") {
  Harness h(service_spec());
  h.load();
  h.bring_up(1);
  h.advance(2s);
  CHECK(h.exited(0) == Effects{ArmTimer{TimerKind::throttle, h.now + 10s}});
  SUBCASE("no demand when it is over: stopped") {
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{});
    CHECK(h.job.state() == State::stopped);
  }
  SUBCASE("a lookup during it waits and starts the job when it is over") {
    h.advance(3s);
    CHECK(h.send(Lookup{2}) == Effects{});
    h.advance(7s);
    CHECK(h.fire(TimerKind::throttle) ==
          Effects{Spawn{2}, ArmTimer{TimerKind::activation, h.now + 30s}});
    h.spawned();
    CHECK(h.checked_in() == Effects{CancelTimer{TimerKind::activation}, DeliverLookups{{2}}});
  }
}

TEST_CASE("a stale throttle fire is ignored") {
  Harness h(keep_alive_spec());
  h.load();
  h.spawned();
  h.exited(1);
  SUBCASE("before its time") {
    h.advance(5s);
    CHECK(h.fire(TimerKind::throttle) == Effects{});
    CHECK(h.job.state() == State::throttled);
  }
  SUBCASE("after a kickstart cancelled it") {
    CHECK(h.send(Kickstart{}) == Effects{CancelTimer{TimerKind::throttle}, Spawn{2}});
    h.advance(10s);
    CHECK(h.fire(TimerKind::throttle) == Effects{});
    CHECK(h.job.state() == State::spawning);
  }
}

}  // namespace xpcd::job::test
