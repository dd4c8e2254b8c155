// The service the watchdog tests launch: what a systemd service with
// WatchdogSec= does, through libsystemd's own calls. At start it writes
// STATE_DIR/env.PID: "WATCHDOG_USEC=... WATCHDOG_PID=... enabled=N" (unset
// variables as "-", N what sd_watchdog_enabled() returned and its period).
// Then, by MODE:
//   env        exit 0
//   ping       WATCHDOG=1 every fifth of the period, for ever
//   hang-once  the first instance (no STATE_DIR/hung yet) pings 3 times,
//              creates STATE_DIR/hung and stops pinging; later ones ping
//   trigger    WATCHDOG=trigger, then waits
// Each ping is logged on stderr ("watchdog-service: pid N ping K"), which
// is xpcd's log in the tests.
//   watchdog-service STATE_DIR MODE
#include <systemd/sd-daemon.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::string env_or_dash(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "-";
}

void sleep_usec(std::uint64_t usec) {
  timespec ts{static_cast<time_t>(usec / 1'000'000), static_cast<long>(usec % 1'000'000) * 1000};
  while (::nanosleep(&ts, &ts) != 0) {
  }
}

[[noreturn]] void ping(std::uint64_t period, int count) {
  for (int k = 1; count < 0 || k <= count; ++k) {
    sleep_usec(period / 5);
    if (sd_notify(0, "WATCHDOG=1") <= 0) std::exit(71);
    std::fprintf(stderr, "watchdog-service: pid %d ping %d\n", static_cast<int>(::getpid()), k);
  }
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 64;
  const std::string dir = argv[1], mode = argv[2];
  std::uint64_t period = 0;
  const int enabled = sd_watchdog_enabled(0, &period);
  {
    std::ofstream out(dir + "/env." + std::to_string(::getpid()));
    out << "WATCHDOG_USEC=" << env_or_dash("WATCHDOG_USEC") << " WATCHDOG_PID=" << env_or_dash("WATCHDOG_PID")
        << " enabled=" << enabled << " period=" << period << "\n";
  }
  if (mode == "env") return 0;
  if (mode == "trigger") {
    if (sd_notify(0, "WATCHDOG=trigger") <= 0) return 71;
    for (;;) ::pause();
  }
  if (enabled <= 0) return 72;
  if (mode == "ping") ping(period, -1);
  if (mode == "hang-once") {
    const std::string hung = dir + "/hung";
    if (std::filesystem::exists(hung)) ping(period, -1);
    std::ofstream{hung};
    ping(period, 3);
  }
  return 64;
}
