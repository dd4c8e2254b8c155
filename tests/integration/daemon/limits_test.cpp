// xpcd's per-uid limits (supervisor/limits.hpp) and its --config file, with
// a real daemon: a service that never checks in keeps every lookup held
// until the activation deadline, so the N+1th lookup of a uid is refused at
// once with the limit named, and once the deadline has failed the held ones
// a lookup is admitted again. Also: the privileged flag against a user
// domain, and a bad config file making xpcd exit 2.
#include "xpcd_fixture.hpp"

#include <xpc/connection.hpp>
#include <xpc/transport.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::XpcdFixture;
using xpc::test::failure_on;
using xpc::test::raw_lookup;

namespace {

// A service that never checks in: lookups of it stay held until the
// activation deadline.
void add_mute_service(XpcdFixture& xpcd) {
  xpcd.add_raw_manifest("mute.toml",
                        "Label = \"com.test.mute\"\n"
                        "ProgramArguments = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]\n"
                        "ThrottleInterval = 1\n"
                        "[MachServices]\n\"com.test.mute\" = true\n");
}

std::string write_config(const XpcdFixture& xpcd, const std::string& text) {
  std::string path = (xpcd.root() / "xpcd.toml").string();
  std::ofstream(path) << text;
  return path;
}

std::size_t fds_per_lookup() {
  // xpcd holds the service end, and the client's pidfd when the kernel
  // gives one (SO_PEERPIDFD, Linux 6.5).
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  int pidfd = -1;
  socklen_t len = sizeof pidfd;
  bool has = ::getsockopt(sv[0], SOL_SOCKET, 77 /* SO_PEERPIDFD */, &pidfd, &len) == 0 && pidfd >= 0;
  if (pidfd >= 0) ::close(pidfd);
  ::close(sv[0]);
  ::close(sv[1]);
  return has ? 2 : 1;
}

std::string uid_text() { return std::to_string(::getuid()); }

}  // namespace

TEST_CASE("pending lookups per uid: N held, N+1 refused at once naming the limit, admitted again after the deadline") {
  XpcdFixture xpcd;
  add_mute_service(xpcd);
  // The command line's --bootstrap and --manifest-dir win over the file's.
  std::string config = write_config(xpcd,
                                    "bootstrap = \"/nonexistent/xpcd/bootstrap\"\n"
                                    "manifest_dirs = [\"/nonexistent/xpcd/manifests\"]\n"
                                    "activation_timeout = 5\n"
                                    "[limits]\npending_lookups_per_uid = 3\nheld_fds_per_uid = 100\n");
  xpcd.start({"--config", config});

  std::vector<Object> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(raw_lookup("com.test.mute"));
    REQUIRE_MESSAGE(held.back()[protocol::kFd].borrowed_fd() >= 0, held.back().description() << "\n" << xpcd.log());
  }
  std::string expected = "xpcd: uid " + uid_text() + " has 3 lookups waiting for a launch (limit 3)";
  Object refused = raw_lookup("com.test.mute");
  CHECK(refused[kErrorKeyCode].as_string() == protocol::kErrorInvalid);
  CHECK(refused[kErrorKeyDescription].as_string() == expected);

  // Through libxpc the client sees invalid with the same reason, at once.
  Connection c = Connection::mach_service("com.test.mute");
  c.resume();
  auto started = std::chrono::steady_clock::now();
  Object reply = c.send_sync(Object{{"text", "hello"}}, 10s);
  CHECK(std::chrono::steady_clock::now() - started < 4s);  // before the 5 s deadline could free anything
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  CHECK(reply[kErrorKeyDescription].as_string() == expected);
  c.cancel();

  // The deadline fails the held lookups; their charges are given back.
  for (const Object& h : held) {
    Object failure = failure_on(h);
    CHECK(failure[kErrorKeyCode].as_string() == "invalid");
    CHECK_MESSAGE(failure[kErrorKeyDescription].string_or("").find("com.test.mute") != std::string::npos,
                  failure.description());
  }
  held.clear();
  for (int i = 0; i < 3; ++i) {
    held.push_back(raw_lookup("com.test.mute"));
    REQUIRE_MESSAGE(held.back()[protocol::kFd].borrowed_fd() >= 0, held.back().description() << "\n" << xpcd.log());
  }
  CHECK(raw_lookup("com.test.mute")[kErrorKeyDescription].as_string() == expected);
}

TEST_CASE("held fds per uid: N admitted, N+1 refused at once naming the limit") {
  XpcdFixture xpcd;
  add_mute_service(xpcd);
  std::size_t per = fds_per_lookup();
  std::string config = write_config(xpcd, "activation_timeout = 30\n[limits]\npending_lookups_per_uid = 100\n"
                                          "held_fds_per_uid = 4\n");
  xpcd.start({"--config", config});
  std::vector<Object> held;
  for (std::size_t i = 0; i < 4 / per; ++i) {
    held.push_back(raw_lookup("com.test.mute"));
    REQUIRE_MESSAGE(held.back()[protocol::kFd].borrowed_fd() >= 0, held.back().description() << "\n" << xpcd.log());
  }
  Object refused = raw_lookup("com.test.mute");
  CHECK(refused[kErrorKeyCode].as_string() == protocol::kErrorInvalid);
  CHECK(refused[kErrorKeyDescription].as_string() ==
        "xpcd: uid " + uid_text() + " has 4 fds held for connections not yet taken by a service (limit 4)");
}

TEST_CASE("a privileged lookup against a user domain is refused with the reason") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.priv", "com.test.priv");
  xpcd.start();
  Connection c = Connection::mach_service("com.test.priv", Connection::kPrivileged);
  c.resume();
  Object reply = c.send_sync(Object{{"text", "hello"}}, 10s);
  CHECK(reply[kErrorKeyCode].as_string() == "invalid");
  CHECK(reply[kErrorKeyDescription].as_string() == "privileged lookups are answered by the system domain only");
  CHECK(xpcd.started_pids().empty());  // nothing was launched for it
  c.cancel();
}

namespace {

// Runs xpcd with `args`; its exit status and what it wrote.
std::pair<int, std::string> run_xpcd(const std::string& args) {
  std::string command = test::build_dir() + "/daemon/xpcd " + args + " 2>&1";
  std::FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buffer[512];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("a config file with a wrong type makes xpcd exit 2 naming the key and FILE:LINE:COL") {
  XpcdFixture xpcd;
  std::string config = write_config(xpcd, "# xpcd\n[limits]\nheld_fds_per_uid = \"many\"\n");
  std::string bootstrap = (xpcd.root() / "never").string();
  auto [status, out] = run_xpcd("--user --bootstrap " + bootstrap + " --config " + config);
  CHECK(status == 2);
  CHECK(out == "xpcd: " + config + ":3:20: 'limits.held_fds_per_uid' must be an integer, not a string\n");
  auto [missing_status, missing_out] = run_xpcd("--user --bootstrap " + bootstrap + " --config " + config + ".none");
  CHECK(missing_status == 2);
  CHECK(missing_out.find("cannot read") != std::string::npos);
}

TEST_CASE("an unknown key in the config file is a warning, and xpcd serves") {
  XpcdFixture xpcd;
  xpcd.add_service("com.test.warned", "com.test.warned");
  std::string config = write_config(xpcd, "throttle = 5\n");
  xpcd.start({"--config", config});
  CHECK(xpcd.log().find(config + ":1:1: unknown key 'throttle' (ignored)") != std::string::npos);
  Connection c = Connection::mach_service("com.test.warned");
  c.resume();
  Object reply = c.send_sync(Object{{"text", "hello"}}, 10s);
  CHECK(reply["text"].as_string() == "hello");
  c.cancel();
}
