// Every limit of daemon/job/limits.hpp at N and N+1.
#include "harness.hpp"

namespace xpcd::job::test {

TEST_CASE("a job holds at most kMaxWaitingLookups lookups; the next fails at once") {
  Harness h(service_spec());
  h.load();
  for (LookupId id = 1; id <= limits::kMaxWaitingLookups; ++id) h.send(Lookup{id});
  CHECK(h.job.waiting_lookups() == limits::kMaxWaitingLookups);  // N
  const LookupId over = limits::kMaxWaitingLookups + 1;
  CHECK(h.send(Lookup{over}) ==
        Effects{FailLookups{{over}, "com.example.echo: too many lookups waiting for the job to start (limit 1024)"}});
  CHECK(h.job.waiting_lookups() == limits::kMaxWaitingLookups);
  SUBCASE("delivered lookups free the queue; a running instance has no limit") {
    h.spawned();
    const Effects fx = h.checked_in();
    REQUIRE(fx.size() == 2);
    CHECK(std::get<DeliverLookups>(fx[1]).ids.size() == limits::kMaxWaitingLookups);
    CHECK(h.send(Lookup{over + 1}) == Effects{DeliverLookups{{over + 1}}});
  }
}

TEST_CASE("one EXTEND_TIMEOUT_USEC moves a deadline at most kMaxTimeoutExtension") {
  Harness h(service_spec());
  h.load();
  h.send(Lookup{1});
  using std::chrono::microseconds;
  CHECK(h.send(NotifyExtendTimeout{h.id(), limits::kMaxTimeoutExtension}) ==
        Effects{ArmTimer{TimerKind::activation, h.now + limits::kMaxTimeoutExtension}});
  h.advance(1s);
  CHECK(h.send(NotifyExtendTimeout{h.id(), limits::kMaxTimeoutExtension + microseconds{1}}) ==
        Effects{ArmTimer{TimerKind::activation, h.now + limits::kMaxTimeoutExtension}});
  h.advance(1s);
  CHECK(h.send(NotifyExtendTimeout{h.id(), microseconds::max()}) ==
        Effects{ArmTimer{TimerKind::activation, h.now + limits::kMaxTimeoutExtension}});
  CHECK(h.send(NotifyExtendTimeout{h.id(), microseconds{-5}}) == Effects{});
}

TEST_CASE("STATUS= text is cut at kMaxStatusText bytes, on a character boundary") {
  Harness h(service_spec());
  h.load();
  h.bring_up();
  const std::string n(limits::kMaxStatusText, 'a');
  h.send(NotifyStatus{h.id(), n});
  CHECK(h.job.status().status_text == n);  // N
  h.send(NotifyStatus{h.id(), n + "b"});
  CHECK(h.job.status().status_text == n);  // N+1
  const std::string split = std::string(limits::kMaxStatusText - 1, 'a') + "\xc3\xa9";  // 'é' across the cut
  h.send(NotifyStatus{h.id(), split});
  CHECK(h.job.status().status_text == std::string(limits::kMaxStatusText - 1, 'a'));
}

}  // namespace xpcd::job::test
