// xpcd end to end with unmodified Debian programs: socket activation
// (Sockets, LISTEN_FDS) of dbus-daemon with dbus-send as the client, the
// listener kept while the job is down, sd_notify through NOTIFY_SOCKET
// (systemd-notify, dbus-daemon's own READY=1), inetd Wait=false.
// Synchronised on the log file (inotify), pidfds and sockets, each wait
// with a deadline; no sleeps.
#include "xpcd_fixture.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>

using xpc::UniqueFd;
using xpc::test::XpcdFixture;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

struct Run {
  int status = -1;
  std::string out;
};

// Runs a program to its end (bounded), stdout captured, stderr to ours.
Run run(std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  UniqueFd reader = UniqueFd::adopt(out[0]);
  Run result;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{reader.get(), POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    char buf[4096];
    ssize_t n = ::read(reader.get(), buf, sizeof(buf));
    if (n <= 0) break;
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

UniqueFd connect_unix(const std::string& path, int type = SOCK_STREAM) {
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
  return fd;
}

std::string read_line(int fd, std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  return line;
}

bool alive(int pid) { return ::kill(pid, 0) == 0; }

std::vector<std::string> get_id(const std::string& socket) {
  return {"/usr/bin/dbus-send",        "--bus=unix:path=" + socket,   "--print-reply",
          "--reply-timeout=15000",     "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
          "org.freedesktop.DBus.GetId"};
}

}  // namespace

TEST_CASE("an unmodified dbus-daemon starts on its first connection, answers, and its socket outlives it") {
  XpcdFixture xpcd;
  std::string bus = (xpcd.root() / "bus.sock").string();
  xpcd.add_raw_manifest("dbus.toml",
                        "Label = \"com.test.dbus\"\n"
                        "ProgramArguments = [\"/usr/bin/dbus-daemon\", \"--address=systemd:\", "
                        "\"--nofork\", \"--session\", \"--nopidfile\"]\n"
                        "ThrottleInterval = 1\n"
                        "[Sockets.bus]\nSockPathName = \"" +
                            bus + "\"\nSockPathMode = 384\n");
  xpcd.start();
  REQUIRE(std::filesystem::is_socket(bus));
  CHECK((std::filesystem::status(bus).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK(xpcd.log().find("com.test.dbus: spawned") == std::string::npos);

  Run first = run(get_id(bus));
  CHECK_MESSAGE(first.status == 0, xpcd.log());
  CHECK(first.out.find("string \"") != std::string::npos);
  std::string pid = xpcd.wait_log("com.test.dbus: spawned: pid (\\d+)");
  REQUIRE(!pid.empty());
  // dbus-daemon's own sd_notify, attributed to its pid by the kernel.
  CHECK(!xpcd.wait_log("com.test.dbus: notify: pid " + pid + " READY=1").empty());

  // Kill it; connect while it is down (or throttled): the kernel queues the
  // connection on xpcd's listener and the next instance serves it.
  REQUIRE(::kill(std::stoi(pid), SIGKILL) == 0);
  REQUIRE(!xpcd.wait_log("com.test.dbus: exited: pid " + pid + " ").empty());
  REQUIRE(std::filesystem::is_socket(bus));
  UniqueFd queued = connect_unix(bus);
  REQUIRE(queued);
  std::string auth = std::string(1, '\0') + "AUTH EXTERNAL 30\r\n";  // uid 0, hex-encoded
  REQUIRE(::write(queued.get(), auth.data(), auth.size()) == static_cast<ssize_t>(auth.size()));
  CHECK(read_line(queued.get()).rfind("OK ", 0) == 0);
  std::string second = xpcd.wait_log("com.test.dbus: spawned: pid (?!" + pid + "\\b)(\\d+)");
  CHECK(!second.empty());
  Run again = run(get_id(bus));
  CHECK(again.status == 0);
  CHECK(again.out.find("string \"") != std::string::npos);
}

TEST_CASE("systemd-notify's datagrams reach xpcd attributed to the instance, and a stranger's are ignored") {
  XpcdFixture xpcd;
  std::string sock = (xpcd.root() / "trigger.sock").string();
  // LISTEN_* as sd_listen_fds reads them, reported back through STATUS=.
  xpcd.add_raw_manifest("notify.toml",
                        "Label = \"com.test.notify\"\n"
                        "ProgramArguments = [\"/bin/sh\", \"-c\", "
                        "\"systemd-notify --ready --status=\\\"fds=$LISTEN_FDS names=$LISTEN_FDNAMES "
                        "pid=$([ $LISTEN_PID = $$ ] && echo ok)\\\" && exec sleep 600\"]\n"
                        "[Sockets.trigger]\nSockPathName = \"" +
                            sock + "\"\n");
  xpcd.start();
  std::string notify = (xpcd.root() / "bootstrap").string() + ".notify";
  REQUIRE(std::filesystem::is_socket(notify));

  // A datagram from the test process: no instance has its pid.
  UniqueFd stranger = connect_unix(notify, SOCK_DGRAM);
  REQUIRE(stranger);
  std::string forged = "READY=1\nSTATUS=forged";
  REQUIRE(::send(stranger.get(), forged.data(), forged.size(), 0) == static_cast<ssize_t>(forged.size()));

  UniqueFd trigger = connect_unix(sock);  // starts the job; datagrams are read in order
  REQUIRE(trigger);
  std::string pid = xpcd.wait_log("com.test.notify: spawned: pid (\\d+)");
  REQUIRE(!pid.empty());
  CHECK(!xpcd.wait_log("com.test.notify: notify: pid " + pid + " STATUS=fds=1 names=trigger pid=ok").empty());
  CHECK(!xpcd.wait_log("com.test.notify: notify: pid " + pid + " READY=1").empty());
  CHECK(xpcd.log().find("forged") == std::string::npos);
  // systemd-notify waits for its barrier (an fd xpcd closes) and exits
  // quickly; then the shell execs sleep, still the same instance.
  CHECK(alive(std::stoi(pid)));
}

TEST_CASE("inetd Wait=false starts one process per connection with the connection as stdin and stdout") {
  XpcdFixture xpcd;
  std::string sock = (xpcd.root() / "inetd.sock").string();
  xpcd.add_raw_manifest("inetd.toml",
                        "Label = \"com.test.inetd\"\n"
                        "ProgramArguments = [\"/bin/sh\", \"-c\", "
                        "\"read line; echo \\\"$line ${WATCHDOG_USEC:-unwatched} $$\\\"\"]\n"
                        "WatchdogSec = 5\n"  // the job's instance would be watched; a per-connection child is not
                        "[inetdCompatibility]\nWait = false\n"
                        "[Sockets.conn]\nSockPathName = \"" +
                            sock + "\"\n");
  xpcd.start();
  UniqueFd a = connect_unix(sock), b = connect_unix(sock);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(::write(a.get(), "one\n", 4) == 4);
  REQUIRE(::write(b.get(), "two\n", 4) == 4);
  std::string ra = read_line(a.get()), rb = read_line(b.get());
  REQUIRE_MESSAGE(ra.rfind("one unwatched ", 0) == 0, ra << xpcd.log());
  REQUIRE_MESSAGE(rb.rfind("two unwatched ", 0) == 0, rb);
  CHECK(ra.substr(14) != rb.substr(14));  // two processes
  std::string pid = ra.substr(14, ra.size() - 15);
  CHECK(!xpcd.wait_log("com.test.inetd: exited: pid " + pid + " exited with status 0 \\(inetd\\)").empty());
}

TEST_CASE("a job whose socket cannot be created is not loaded, and xpcd says why") {
  XpcdFixture xpcd;
  std::filesystem::create_directories(xpcd.root() / "dir");
  xpcd.add_raw_manifest("bad.toml",
                        "Label = \"com.test.badsock\"\nProgramArguments = [\"/bin/true\"]\n"
                        "[Sockets.s]\nSockPathName = \"" +
                            (xpcd.root() / "dir").string() + "\"\n");
  xpcd.start();
  CHECK(xpcd.log().find("com.test.badsock: Sockets 's': " + (xpcd.root() / "dir").string() +
                        " exists and is not a socket") != std::string::npos);
  CHECK(xpcd.log().find("serving 0 jobs") != std::string::npos);
}
