// The file descriptor store (FDSTORE=1, FileDescriptorStoreMax) end to end:
// a real xpcd and a service that stores fds through libsystemd's own
// sd_pid_notify_with_fds and finds them at its next start through
// sd_listen_fds_with_names (fdstore_service.cpp). Each instance is started
// by `xpcctl kickstart -p`; the test waits for its exit (or a store line)
// in xpcd's log, then reads what it found. No sleeps.
#include "xpcctl_runner.hpp"
#include "xpcd_fixture.hpp"

#include <systemd/sd-daemon.h>

#include <sys/mman.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

using xpc::test::Run;
using xpc::test::XpcdFixture;
using xpc::test::xpcctl;

namespace {

constexpr const char* kLabel = "com.test.fdstore";

std::string service_binary() { return xpc::test::build_dir() + "/tests/integration/daemon/xpcd-fdstore-service"; }

// Starts xpcd with the job, `extra` its manifest lines (FileDescriptorStoreMax = N).
void start_with_job(XpcdFixture& xpcd, const std::string& extra) {
  xpcd.add_raw_manifest("fdstore.toml", std::string("Label = \"") + kLabel + "\"\nProgramArguments = [\"" +
                                            service_binary() + "\", \"" + xpcd.state_dir() + "\"]\n" + extra + "\n");
  xpcd.start();
}

bool logged(const XpcdFixture& xpcd, const std::string& line) {
  return xpcd.log().find(std::string(kLabel) + ": " + line) != std::string::npos;
}

// What the next instance does (fdstore_service.cpp).
void command(const XpcdFixture& xpcd, const std::string& lines) { std::ofstream(xpcd.state_dir() + "/cmd") << lines; }

std::string kick() {
  Run started = xpcctl({"kickstart", "-p", kLabel});
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  return started.out.substr(0, started.out.find('\n'));
}

// Waits for instance `pid` to exit and returns what it found.
std::string found_by(const XpcdFixture& xpcd, const std::string& pid) {
  REQUIRE_MESSAGE(!xpcd.wait_log(std::string(kLabel) + ": exited: pid " + pid + " ").empty(), xpcd.log());
  std::ifstream in(xpcd.state_dir() + "/found." + pid);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Starts an instance that does `lines`, waits for its exit and returns what it found.
std::string run_once(XpcdFixture& xpcd, const std::string& lines) {
  command(xpcd, lines);
  return found_by(xpcd, kick());
}

std::string stored_fds() {
  Run printed = xpcctl({"print", kLabel});
  REQUIRE(printed.exit == 0);
  std::smatch m;
  REQUIRE(std::regex_search(printed.out, m, std::regex("stored fds = (\\d+)")));
  return m[1].str();
}

// xpcd's open fds, and how many of them are the service's memfds.
struct OpenFds {
  std::size_t all = 0;
  std::size_t memfds = 0;
};
OpenFds open_fds(pid_t pid) {
  OpenFds n;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n.all;
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string().starts_with("/memfd:fdstore-test")) ++n.memfds;
  }
  return n;
}

// xpcd closes an xpcctl connection when it sees the client's EOF, which may
// come a moment after xpcctl exits: waits (bounded, re-reading /proc)
// until it has at most `most` fds.
std::size_t settled_fds(pid_t pid, std::size_t most) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t all = open_fds(pid).all;
  while (all > most && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    all = open_fds(pid).all;
  }
  return all;
}

}  // namespace

TEST_CASE("a stored memfd survives exits and a SIGKILL and comes back under its name; a stranger's fds do not") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "FileDescriptorStoreMax = 4");
  CHECK(stored_fds() == "0");

  // Not an instance of any job: its fds are closed, its datagram ignored.
  const std::string notify = (xpcd.root() / "bootstrap.notify").string();
  ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
  int stranger = ::memfd_create("stranger", MFD_CLOEXEC);
  REQUIRE(sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=stranger", &stranger, 1) > 0);
  ::close(stranger);
  ::unsetenv("NOTIFY_SOCKET");

  CHECK(run_once(xpcd, "store state 1 hello\n") == "");
  CHECK(stored_fds() == "1");
  CHECK(run_once(xpcd, "") == "state hello\n");
  // Storing again what it got back does not fill the store (as systemd's same_fd check).
  CHECK(run_once(xpcd, "store-found state\n") == "state hello\n");
  CHECK(stored_fds() == "1");
  CHECK(xpcd.log().find("stranger") == std::string::npos);

  command(xpcd, "stay\n");
  const std::string pid = kick();
  ::kill(std::stoi(pid), SIGKILL);
  CHECK(found_by(xpcd, pid) == "state hello\n");
  CHECK(run_once(xpcd, "") == "state hello\n");
  CHECK(std::regex_search(xpcctl({"print", "--json", kLabel}).out, std::regex("\"stored_fds\": ?1[,}]")));
}

TEST_CASE("the store keeps FileDescriptorStoreMax fds: N are kept, the N+1th is closed with a notice") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "FileDescriptorStoreMax = 3");
  CHECK(run_once(xpcd, "store a 3 x\n") == "");
  CHECK(xpcd.log().find("FileDescriptorStoreMax=3") == std::string::npos);
  CHECK(stored_fds() == "3");
  CHECK(run_once(xpcd, "store b 1 y\n") == "a x\na x\na x\n");
  CHECK(logged(xpcd, "fdstore: the store is full (FileDescriptorStoreMax=3); 1 more fds named 'b' were closed"));
  CHECK(run_once(xpcd, "") == "a x\na x\na x\n");
}

TEST_CASE("FDSTOREREMOVE drops every stored fd of that name, and only those") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "FileDescriptorStoreMax = 4");
  CHECK(run_once(xpcd, "store a 2 x\nstore b 1 y\nremove a\n") == "");
  CHECK(stored_fds() == "1");
  CHECK(run_once(xpcd, "remove nothing\n") == "b y\n");
  CHECK(run_once(xpcd, "") == "b y\n");
}

TEST_CASE("without FileDescriptorStoreMax the store is off: the fds are closed and xpcd says which key") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "");
  CHECK(run_once(xpcd, "store a 1 x\n") == "");
  CHECK(logged(xpcd, "notify: FDSTORE=1 but FileDescriptorStoreMax is 0 (the store is off); 1 fds closed"));
  CHECK(run_once(xpcd, "") == "");
  CHECK(stored_fds() == "0");
}

TEST_CASE("a stored socket whose peer closes is dropped, unless it was stored with FDPOLL=0") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "FileDescriptorStoreMax = 4");
  // The peers close when the instance exits.
  CHECK(run_once(xpcd, "store-socket polled\nstore-socket kept nopoll\n") == "");
  CHECK(!xpcd.wait_log(std::string(kLabel) + ": fdstore: a stored fd named 'polled' hung up and was dropped").empty());
  CHECK(stored_fds() == "1");
  CHECK(run_once(xpcd, "") == "kept socket\n");
}

TEST_CASE("bootout closes the store: xpcd holds no more fds than before the job stored any") {
  XpcdFixture xpcd;
  start_with_job(xpcd, "FileDescriptorStoreMax = 8");
  // The baseline once xpcd is warm: it opens a few fds lazily after its
  // ready (sd-event's timerfds, the manifest watch) and for a first run.
  CHECK(run_once(xpcd, "") == "");
  CHECK(stored_fds() == "0");
  const std::size_t before = open_fds(xpcd.pid()).all;
  CHECK(run_once(xpcd, "store a 8 x\n") == "");
  CHECK(stored_fds() == "8");
  CHECK(open_fds(xpcd.pid()).memfds == 8);
  Run out = xpcctl({"bootout", kLabel});
  REQUIRE_MESSAGE(out.exit == 0, out.err);
  // The answer comes once the job is gone, and its store with it.
  CHECK(open_fds(xpcd.pid()).memfds == 0);
  CHECK(settled_fds(xpcd.pid(), before) <= before);
}
