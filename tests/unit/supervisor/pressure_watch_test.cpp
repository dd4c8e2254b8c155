// The PSI trigger (daemon/supervisor/pressure_watch.*) against this
// machine's kernel: the trigger line it writes is one the kernel accepts,
// and a missing PSI file or a trigger the kernel refuses is an error that
// says which. (Real memory pressure cannot be made safely in a test; the
// engine's handling of MemoryPressure is tested in tests/unit/job.)
#include "supervisor/pressure_watch.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

using namespace xpcd;
using namespace std::chrono_literals;

TEST_CASE("the trigger line is 'some STALL_US WINDOW_US'") {
  CHECK(trigger_line({150ms, 1000ms}) == "some 150000 1000000");
  CHECK(trigger_line({1ms, 500ms}) == "some 1000 500000");
}

TEST_CASE("the kernel accepts the trigger; a refused one or a missing file says why") {
  sd_event* raw = nullptr;
  REQUIRE(sd_event_new(&raw) >= 0);
  EventPtr loop(raw);
  auto missing = PressureWatch::open(loop.get(), "/nonexistent/pressure/memory", {}, [] {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == "cannot open /nonexistent/pressure/memory: No such file or directory");
  if (::access("/proc/pressure/memory", W_OK) != 0) {
    MESSAGE("no writable /proc/pressure/memory here (kernel without PSI, or not root): skipped");
    return;
  }
  // The default: a 2 s window, which the kernel also accepts without CAP_SYS_RESOURCE.
  auto armed = PressureWatch::open(loop.get(), "/proc/pressure/memory", {}, [] {});
  CHECK_MESSAGE(armed.ok(), armed.error());
  // A window under the kernel's 500 ms minimum: refused by the kernel (the
  // config refuses it first; this shows the error if it ever got through).
  auto refused = PressureWatch::open(loop.get(), "/proc/pressure/memory", {1ms, 100ms}, [] {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("cannot arm the trigger 'some 1000 100000' on /proc/pressure/memory: ") == 0);
}
