// parse_notify (daemon/supervisor/notify_socket.*): the sd_notify payload,
// as a pure function. The FDSTORE assignments as systemd reads them: the
// first valid FDNAME counts, a bad one is flagged, FDPOLL=0 turns the poll
// off. The socket itself is tested end to end (tests/integration/daemon).
#include "launcher/limits.hpp"
#include "supervisor/notify_socket.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace xpcd;

TEST_CASE("the state assignments: READY, STOPPING, WATCHDOG need 1, STATUS's last one wins") {
  NotifyMessage m = parse_notify("READY=1\nSTATUS=a\nSTATUS=b\nWATCHDOG=2\nSTOPPING=1\nnonsense\nX=1");
  CHECK(m.ready);
  CHECK(m.stopping);
  CHECK_FALSE(m.watchdog);
  CHECK(m.status == "b");
  CHECK(parse_notify("nonsense\nX=1").empty());
}

TEST_CASE("the watchdog: WATCHDOG=1 pings, WATCHDOG=trigger, WATCHDOG_USEC in decimal digits (last one wins)") {
  NotifyMessage ping = parse_notify("WATCHDOG=1");
  CHECK(ping.watchdog);
  CHECK_FALSE(ping.watchdog_trigger);
  CHECK_FALSE(ping.empty());
  NotifyMessage trigger = parse_notify("WATCHDOG=trigger");
  CHECK(trigger.watchdog_trigger);
  CHECK_FALSE(trigger.watchdog);
  CHECK_FALSE(trigger.empty());
  CHECK(parse_notify("WATCHDOG=Trigger").empty());
  CHECK(parse_notify("WATCHDOG_USEC=20000000").watchdog_usec == std::chrono::microseconds(20'000'000));
  CHECK(parse_notify("WATCHDOG_USEC=1\nWATCHDOG_USEC=2").watchdog_usec == std::chrono::microseconds(2));
  CHECK(parse_notify("WATCHDOG_USEC=0").watchdog_usec == std::chrono::microseconds(0));
  // systemd's USEC_INFINITY turns it off, as 0 does; one more is out of range.
  CHECK(parse_notify("WATCHDOG_USEC=18446744073709551615").watchdog_usec == std::chrono::microseconds(0));
  CHECK(parse_notify("WATCHDOG_USEC=18446744073709551614").watchdog_usec > std::chrono::hours(24));
  CHECK_FALSE(parse_notify("WATCHDOG_USEC=0").empty());
  for (const char* bad : {"WATCHDOG_USEC=", "WATCHDOG_USEC=-1", "WATCHDOG_USEC=5s", "WATCHDOG_USEC= 5"}) {
    CAPTURE(bad);
    CHECK(parse_notify(bad).empty());
  }
  // Saturated like EXTEND_TIMEOUT_USEC; the engine clamps to its 24 h.
  CHECK(parse_notify("WATCHDOG_USEC=99999999999999999999999").watchdog_usec ==
        std::chrono::microseconds(std::int64_t{1} << 62));
}

TEST_CASE("FDSTORE=1 with FDNAME: the name is kept, polling is on unless FDPOLL=0") {
  NotifyMessage m = parse_notify("FDSTORE=1\nFDNAME=state");
  CHECK(m.fdstore);
  CHECK_FALSE(m.fdstore_remove);
  CHECK(m.fdname == "state");
  CHECK_FALSE(m.bad_fdname);
  CHECK(m.fdpoll);
  CHECK_FALSE(m.empty());
  CHECK_FALSE(parse_notify("FDPOLL=0\nFDSTORE=1").fdpoll);
  CHECK(parse_notify("FDPOLL=1\nFDSTORE=1").fdpoll);
  CHECK_FALSE(parse_notify("FDSTORE=0").fdstore);
  SUBCASE("without FDNAME there is no name: the supervisor uses \"stored\"") {
    CHECK_FALSE(parse_notify("FDSTORE=1").fdname);
  }
  SUBCASE("the first FDNAME counts, as in systemd") {
    CHECK(parse_notify("FDNAME=a\nFDSTORE=1\nFDNAME=b").fdname == "a");
    NotifyMessage bad_first = parse_notify("FDNAME=a:b\nFDNAME=c\nFDSTORE=1");
    CHECK(bad_first.bad_fdname);
    CHECK_FALSE(bad_first.fdname);
  }
}

TEST_CASE("FDSTOREREMOVE=1 alone is a message; with FDNAME it names what to drop") {
  NotifyMessage m = parse_notify("FDSTOREREMOVE=1\nFDNAME=state");
  CHECK(m.fdstore_remove);
  CHECK_FALSE(m.fdstore);
  CHECK(m.fdname == "state");
  CHECK_FALSE(m.empty());
  CHECK(parse_notify("FDSTOREREMOVE=0").empty());
  // FDNAME alone asks for nothing.
  CHECK(parse_notify("FDNAME=state").empty());
}

TEST_CASE("FDNAME as systemd's fdname_is_valid, but not empty: 255 printable characters pass, 256 do not") {
  const std::string longest(launcher::limits::kMaxSocketNameLength, 'n');
  CHECK(parse_notify("FDSTORE=1\nFDNAME=" + longest).fdname == longest);
  NotifyMessage too_long = parse_notify("FDSTORE=1\nFDNAME=" + longest + "n");
  CHECK_FALSE(too_long.fdname);
  CHECK(too_long.bad_fdname);
  for (const std::string bad : {"", "a:b", "tab\there", "del\x7f", "caf\xc3\xa9"}) {
    NotifyMessage m = parse_notify("FDSTORE=1\nFDNAME=" + bad);
    CHECK_MESSAGE(m.bad_fdname, bad);
    CHECK_FALSE(m.fdname);
  }
  CHECK(parse_notify("FDSTORE=1\nFDNAME= ~!").fdname == " ~!");
}
