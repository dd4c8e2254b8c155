// Demand sources end to end (docs/demand-sources.md): a real xpcd starting
// jobs at load, on exits (KeepAlive, throttling), on timers (StartInterval,
// StartCalendarInterval) and on files (WatchPaths, QueueDirectories,
// KeepAlive.PathState, KeepAlive.OtherJobEnabled).
// The jobs are /bin/sh one-liners that record each start as a file
// "<prefix>.<pid>" in the fixture's state dir and exit with a chosen code
// (or, as "started.<pid>", exec a sleep the fixture kills at the end).
// Synchronisation: inotify on the state dir for starts and on xpcd's log
// for its decisions, always with a deadline; never sleeps. Absence is shown
// against a clock inside the same xpcd (a twin job that is restarted).
#include "xpcd_fixture.hpp"

#include <sys/inotify.h>

#include <algorithm>
#include <chrono>
#include <fstream>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::XpcdFixture;

namespace {

constexpr auto kDeadline = 20s;

// Blocks on an inotify fd until `done()` holds or the deadline passes.
template <class Done>
bool wait_until(const char* path, std::uint32_t mask, Done done, std::chrono::seconds timeout = kDeadline) {
  UniqueFd fd = UniqueFd::adopt(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  REQUIRE(fd);
  REQUIRE(::inotify_add_watch(fd.get(), path, mask) >= 0);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) == 1) {
      char buffer[4096];
      while (::read(fd.get(), buffer, sizeof buffer) > 0) {
      }
    }
  }
}

// Starts recorded as "<prefix>.<pid>" files in the state dir.
std::size_t starts(const XpcdFixture& xpcd, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(xpcd.state_dir())) {
    if (e.path().filename().string().starts_with(prefix + ".")) ++n;
  }
  return n;
}

bool wait_starts(const XpcdFixture& xpcd, const std::string& prefix, std::size_t n) {
  return wait_until(xpcd.state_dir().c_str(), IN_CREATE | IN_MOVED_TO, [&] { return starts(xpcd, prefix) >= n; });
}

// Waits for `needle` in what xpcd logged after byte `from`; returns where it
// ends, or npos.
std::size_t wait_log(const XpcdFixture& xpcd, const std::string& needle, std::size_t from = 0) {
  std::size_t at = std::string::npos;
  wait_until((xpcd.root() / "xpcd.log").c_str(), IN_MODIFY, [&] {
    at = xpcd.log().find(needle, from);
    return at != std::string::npos;
  });
  return at == std::string::npos ? at : at + needle.size();
}

// A job running `script` under /bin/sh; STATE in it is the state dir.
std::string sh_job(const XpcdFixture& xpcd, const std::string& label, std::string script, const std::string& extra) {
  for (std::size_t at; (at = script.find("STATE")) != std::string::npos;) script.replace(at, 5, xpcd.state_dir());
  return "Label = \"" + label + "\"\nProgramArguments = [\"/bin/sh\", \"-c\", \"" + script + "\"]\n" + extra;
}

// Records a start as <prefix>.PID and exits with `code`.
std::string record_and_exit(const std::string& prefix, int code) {
  return "echo > STATE/" + prefix + ".$$; exit " + std::to_string(code);
}

// Records a start as started.PID (killed by the fixture) and stays up.
const std::string kRecordAndStay = "echo > STATE/started.$$; exec sleep 600";

}  // namespace

TEST_CASE("RunAtLoad starts a job when xpcd starts") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.atload", kRecordAndStay, "RunAtLoad = true\n"));
  xpcd.start();
  REQUIRE_MESSAGE(wait_starts(xpcd, "started", 1), xpcd.log());
  CHECK(starts(xpcd, "started") == 1);
}

TEST_CASE("KeepAlive true restarts a job that exits") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest(
      "a.toml", sh_job(xpcd, "com.test.keep", record_and_exit("run", 0), "KeepAlive = true\nThrottleInterval = 1\n"));
  xpcd.start();
  REQUIRE_MESSAGE(wait_starts(xpcd, "run", 3), xpcd.log());
}

TEST_CASE("KeepAlive SuccessfulExit=false restarts after exit 1 but not after exit 0") {
  XpcdFixture xpcd;
  const std::string keep = "ThrottleInterval = 1\n[KeepAlive]\nSuccessfulExit = false\n";
  xpcd.add_raw_manifest("ok.toml", sh_job(xpcd, "com.test.ok", record_and_exit("ok", 0), keep));
  xpcd.add_raw_manifest("bad.toml", sh_job(xpcd, "com.test.bad", record_and_exit("bad", 1), keep));
  xpcd.start();
  // Both start at load (SuccessfulExit implies RunAtLoad) and have the same
  // backoff: by the failing twin's third start, a restart of the other
  // would have happened too.
  REQUIRE_MESSAGE(wait_starts(xpcd, "bad", 3), xpcd.log());
  REQUIRE_MESSAGE(wait_log(xpcd, "com.test.ok: exited: ") != std::string::npos, xpcd.log());
  CHECK_MESSAGE(starts(xpcd, "ok") == 1, xpcd.log());
}

TEST_CASE("an instance that exits at once is restarted only after the backoff") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.fast", record_and_exit("run", 1),
                                         "KeepAlive = true\nThrottleInterval = 1\n"));
  // Before start: the first instance may exit, and the backoff begin, as
  // soon as xpcd is ready.
  auto begin = std::chrono::steady_clock::now();
  xpcd.start();
  std::size_t exited = wait_log(xpcd, "com.test.fast: exited: ");
  REQUIRE_MESSAGE(exited != std::string::npos, xpcd.log());
  std::size_t throttled = wait_log(xpcd, "com.test.fast: throttled: ", exited);
  REQUIRE_MESSAGE(throttled != std::string::npos, xpcd.log());
  // The restart is logged after the throttled line, not before.
  REQUIRE_MESSAGE(wait_log(xpcd, "com.test.fast: spawned: ", throttled) != std::string::npos, xpcd.log());
  REQUIRE_MESSAGE(wait_starts(xpcd, "run", 2), xpcd.log());
  // Generous bound: at least half the 1 s ThrottleInterval passed.
  CHECK(std::chrono::steady_clock::now() - begin >= 500ms);
}

TEST_CASE("touching a watched path starts the job") {
  XpcdFixture xpcd;
  std::string watched = (xpcd.root() / "watched").string();
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.watch", record_and_exit("run", 0),
                                         "ThrottleInterval = 1\nWatchPaths = [\"" + watched + "\"]\n"));
  bool existed = false;
  SUBCASE("created") {}
  SUBCASE("written when it existed at load") {
    std::ofstream(watched) << "x";
    existed = true;
  }
  xpcd.start();
  CHECK(xpcd.log().find("com.test.watch: spawned") == std::string::npos);
  std::ofstream(watched, std::ios::app) << "y";
  REQUIRE_MESSAGE(wait_starts(xpcd, "run", 1), xpcd.log() << "existed: " << existed);
}

TEST_CASE("a file dropped into a queue directory starts the job, which runs until it is empty") {
  XpcdFixture xpcd;
  auto queue = xpcd.root() / "queue";
  std::filesystem::create_directories(queue);
  // Takes one file per run: the queue keeps it running while non-empty.
  std::string script = "echo > STATE/run.$$; for f in " + queue.string() + "/*; do rm -f $f; break; done; exit 0";
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.queue", script,
                                         "ThrottleInterval = 1\nQueueDirectories = [\"" + queue.string() + "\"]\n"));
  xpcd.start();
  CHECK(starts(xpcd, "run") == 0);
  std::ofstream(queue / "one") << "1";
  std::ofstream(queue / "two") << "2";
  REQUIRE_MESSAGE(wait_starts(xpcd, "run", 2), xpcd.log());
  REQUIRE(wait_until(queue.c_str(), IN_DELETE, [&] { return std::filesystem::is_empty(queue); }));
}

TEST_CASE("StartInterval starts the job again and again") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.interval", record_and_exit("run", 0),
                                         "StartInterval = 1\nThrottleInterval = 1\n"));
  xpcd.start();
  REQUIRE_MESSAGE(wait_starts(xpcd, "run", 3), xpcd.log());
}

TEST_CASE("KeepAlive PathState starts the job when the path appears") {
  XpcdFixture xpcd;
  std::string flag = (xpcd.root() / "dir" / "flag").string();  // its parent is missing too
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.pathstate", kRecordAndStay,
                                         "[KeepAlive.PathState]\n\"" + flag + "\" = true\n"));
  xpcd.start();
  // Load decided with the path absent: nothing was spawned.
  CHECK(xpcd.log().find("com.test.pathstate: spawned") == std::string::npos);
  std::filesystem::create_directories(xpcd.root() / "dir");
  std::ofstream(flag) << "x";
  REQUIRE_MESSAGE(wait_starts(xpcd, "started", 1), xpcd.log());
}

TEST_CASE("KeepAlive PathState sees a path that exists at load") {
  XpcdFixture xpcd;
  std::string flag = (xpcd.root() / "flag").string();
  std::ofstream(flag) << "x";
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.pathstate", kRecordAndStay,
                                         "[KeepAlive.PathState]\n\"" + flag + "\" = true\n"));
  xpcd.start();
  REQUIRE_MESSAGE(wait_starts(xpcd, "started", 1), xpcd.log());
}

TEST_CASE("KeepAlive PathState false starts the job when the path is removed") {
  XpcdFixture xpcd;
  std::string flag = (xpcd.root() / "flag").string();
  std::ofstream(flag) << "x";
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.pathgone", kRecordAndStay,
                                         "[KeepAlive.PathState]\n\"" + flag + "\" = false\n"));
  xpcd.start();
  CHECK(xpcd.log().find("com.test.pathgone: spawned") == std::string::npos);
  std::filesystem::remove(flag);
  REQUIRE_MESSAGE(wait_starts(xpcd, "started", 1), xpcd.log());
}

TEST_CASE("KeepAlive OtherJobEnabled starts the job when the other job is loaded") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.follower", kRecordAndStay,
                                         "[KeepAlive.OtherJobEnabled]\n\"com.test.leader\" = true\n"));
  xpcd.start();
  CHECK(xpcd.log().find("com.test.follower: spawned") == std::string::npos);
  std::size_t from = xpcd.log().size();
  xpcd.add_raw_manifest("b.toml", sh_job(xpcd, "com.test.leader", "exit 0", ""));
  REQUIRE_MESSAGE(wait_log(xpcd, "loaded 'com.test.leader'", from) != std::string::npos, xpcd.log());
  REQUIRE_MESSAGE(wait_starts(xpcd, "started", 1), xpcd.log());
}

// A real minute boundary is too slow for this suite: the engine's unit
// tests cover next_fire; here the glue must arm the wall-clock timer.
TEST_CASE("a StartCalendarInterval job arms its wall-clock timer at load") {
  XpcdFixture xpcd;
  xpcd.add_raw_manifest("a.toml", sh_job(xpcd, "com.test.calendar", record_and_exit("run", 0),
                                         "[StartCalendarInterval]\nMinute = 0\n"));
  xpcd.start();
  REQUIRE_MESSAGE(wait_log(xpcd, "com.test.calendar: calendar: next run at ") != std::string::npos, xpcd.log());
  CHECK(xpcd.log().find(":00 local time") != std::string::npos);
}
