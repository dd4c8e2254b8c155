// The watchdog (WatchdogSec) end to end: a real xpcd and a service that
// uses libsystemd's own sd_watchdog_enabled and sd_notify("WATCHDOG=1")
// (watchdog_service.cpp), unmodified from what it would do under systemd.
// Synchronised on xpcd's log (the service logs its pings there too) and on
// the files the service writes; no sleeps.
#include "xpcctl_runner.hpp"
#include "xpcd_fixture.hpp"

#include <fstream>
#include <regex>

using xpc::test::Run;
using xpc::test::xpcctl;
using xpc::test::XpcdFixture;

namespace {

constexpr const char* kLabel = "com.test.watchdog";

std::string service_binary() { return xpc::test::build_dir() + "/tests/integration/daemon/xpcd-watchdog-service"; }

// The job runs the service in `mode`; `extra`: its other manifest lines
// (KeepAlive, WatchdogSec, ...). No core dumps: the tests send SIGABRT.
void add_job(XpcdFixture& xpcd, const std::string& label, const std::string& mode, const std::string& extra) {
  xpcd.add_raw_manifest(label + ".toml", "Label = \"" + label + "\"\nProgramArguments = [\"" + service_binary() +
                                             "\", \"" + xpcd.state_dir() + "\", \"" + mode + "\"]\n" + extra +
                                             "\n[SoftResourceLimits]\nCore = 0\n");
}

// Waits for `pattern` (a regex) in xpcd's log; its first group, or the match.
std::string await(const XpcdFixture& xpcd, const std::string& pattern) {
  std::string found = xpcd.wait_log(pattern);
  REQUIRE_MESSAGE(!found.empty(), "waiting for " << pattern << " in\n" << xpcd.log());
  return found;
}

std::string escaped(const std::string& text) { return std::regex_replace(text, std::regex("[.()]"), "\\$&"); }

// The pid of the n-th instance xpcd spawned for `label` (from 1), waiting for it.
std::string spawned(const XpcdFixture& xpcd, const std::string& label, int n = 1) {
  std::string pattern;
  for (int i = 1; i < n; ++i) pattern += "xpcd: " + escaped(label) + ": spawned: pid \\d+\\n[\\s\\S]*";
  return await(xpcd, pattern + "xpcd: " + escaped(label) + ": spawned: pid (\\d+)\\n");
}

// Waits until instance `pid` of `label` ended as `how` ("killed by signal SIGABRT").
void ended(const XpcdFixture& xpcd, const std::string& label, const std::string& pid, const std::string& how) {
  await(xpcd, escaped(label + ": exited: pid " + pid + " " + how) + "\\n");
}

// Starts xpcd with kLabel running the service in `mode`; the first instance's pid.
std::string start_job(XpcdFixture& xpcd, const std::string& mode, const std::string& extra) {
  add_job(xpcd, kLabel, mode, extra);
  xpcd.start();
  return spawned(xpcd, kLabel);
}

// Waits until instance `pid` has sent its n-th WATCHDOG=1.
void pinged(const XpcdFixture& xpcd, const std::string& pid, int n) {
  await(xpcd, "watchdog-service: pid " + pid + " ping " + std::to_string(n) + "\\n");
}

std::string env_of(const XpcdFixture& xpcd, const std::string& pid) {
  std::ifstream in(xpcd.state_dir() + "/env." + pid);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string printed(const std::string& key) {
  Run out = xpcctl({"print", kLabel});
  REQUIRE_MESSAGE(out.exit == 0, out.err);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(out.out, m, std::regex("\\t" + key + " = ([^\\n]*)")), out.out);
  return m[1].str();
}

}  // namespace

TEST_CASE("a service that pings its watchdog stays up across several periods") {
  XpcdFixture xpcd;
  const std::string pid = start_job(xpcd, "ping", "KeepAlive = true\nWatchdogSec = 1\n");
  pinged(xpcd, pid, 16);  // one every fifth of the period: over three periods
  CHECK(xpcd.log().find("watchdog timeout") == std::string::npos);
  CHECK(xpcd.log().find(": exited: pid " + pid) == std::string::npos);
  CHECK(printed("pid") == pid);
  CHECK(printed("watchdog") == "1000 ms");
  CHECK(printed("watchdog kills") == "0");
}

TEST_CASE("a service that stops pinging gets SIGABRT and is relaunched per KeepAlive") {
  XpcdFixture xpcd;
  const std::string first =
      start_job(xpcd, "hang-once", "KeepAlive = true\nWatchdogSec = 1\nThrottleInterval = 1\nExitTimeOut = 5\n");
  pinged(xpcd, first, 3);
  await(xpcd, escaped(std::string("xpcd: ") + kLabel +
                      ": watchdog: watchdog timeout: no WATCHDOG=1 within 1 s, sending SIGABRT to pid " + first + "\n"));
  ended(xpcd, kLabel, first, "killed by signal SIGABRT");
  const std::string second = spawned(xpcd, kLabel, 2);
  CHECK(second != first);
  // The new instance's own pings keep it up.
  pinged(xpcd, second, 6);
  CHECK(printed("pid") == second);
  CHECK(printed("watchdog kills") == "1");
  CHECK(printed("last exit") == "killed by signal SIGABRT");
  Run json = xpcctl({"print", "--json", kLabel});
  REQUIRE(json.exit == 0);
  CHECK_MESSAGE(std::regex_search(json.out, std::regex("\"watchdog_kills\": *1[,}\\s]")), json.out);
  CHECK_MESSAGE(std::regex_search(json.out, std::regex("\"watchdog_usec\": *1000000[,}\\s]")), json.out);
}

TEST_CASE("WATCHDOG=trigger gets SIGABRT at once, even without WatchdogSec") {
  XpcdFixture xpcd;
  const std::string pid = start_job(xpcd, "trigger", "RunAtLoad = true\n");
  ended(xpcd, kLabel, pid, "killed by signal SIGABRT");
  CHECK(xpcd.log().find("watchdog triggered by the instance (WATCHDOG=trigger), sending SIGABRT to pid " + pid) !=
        std::string::npos);
  CHECK(printed("watchdog kills") == "1");
  CHECK(printed("watchdog") == "off");
}

TEST_CASE("the job sees WATCHDOG_USEC and its own pid in WATCHDOG_PID; xpcd's own WATCHDOG_* do not leak") {
  XpcdFixture xpcd;
  add_job(xpcd, kLabel, "env", "RunAtLoad = true\nWatchdogSec = 0.25\n");
  add_job(xpcd, "com.test.unwatched", "env", "RunAtLoad = true\n");
  // As if xpcd ran under a manager with a watchdog (for another pid, so
  // xpcd's own sd-event does not try to ping it).
  ::setenv("WATCHDOG_USEC", "123456789", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  xpcd.start();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  const std::string pid = spawned(xpcd, kLabel);
  const std::string other = spawned(xpcd, "com.test.unwatched");
  ended(xpcd, kLabel, pid, "exited with status 0");
  ended(xpcd, "com.test.unwatched", other, "exited with status 0");
  CHECK(env_of(xpcd, pid) == "WATCHDOG_USEC=250000 WATCHDOG_PID=" + pid + " enabled=1 period=250000");
  CHECK(env_of(xpcd, other) == "WATCHDOG_USEC=- WATCHDOG_PID=- enabled=0 period=0");
}
