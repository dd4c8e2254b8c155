// xpcd under a service manager, played by the test (fake_manager.hpp) and
// by systemd-socket-activate: the bootstrap socket taken from LISTEN_FDS,
// READY/STOPPING/STATUS/WATCHDOG on NOTIFY_SOCKET, the socket kept in the
// fd store and taken back on restart so a lookup made while no xpcd runs
// is answered by the next one.
#include "fake_manager.hpp"
#include "xpcd_fixture.hpp"

#include <xpc/transport.hpp>

using namespace xpc;
using namespace std::chrono_literals;
using xpc::test::FakeManager;
using xpc::test::XpcdFixture;

namespace {

std::string xpcd_binary() { return xpc::test::build_dir() + "/daemon/xpcd"; }

std::vector<std::string> xpcd_argv(const XpcdFixture& fx) {
  return {xpcd_binary(), "--user", "--bootstrap", (fx.root() / "bootstrap").string(), "--manifest-dir",
          (fx.root() / "manifests").string()};
}

UniqueFd connect_to(const std::string& path) {
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr = xpc::test::unix_address(path);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void send_lookup(int fd, const std::string& name) {
  Object request{{protocol::kRequest, protocol::kLookup}, {protocol::kName, name}, {protocol::kFlags, 0}};
  REQUIRE(wire::send(fd, {1, 0, true, request}).ok());
}

// The reply on `fd` (bounded wait), or a null object.
Object receive_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return Object();
  auto reply = wire::receive(fd);
  return reply.ok() ? reply->body : Object();
}

// A message to the service behind a looked-up connection; its reply says
// which instance answered.
std::int64_t service_pid(const Object& lookup_reply) {
  int fd = lookup_reply[protocol::kFd].borrowed_fd();
  REQUIRE(fd >= 0);
  REQUIRE(wire::send(fd, {7, 0, true, Object{{"text", "hi"}}}).ok());
  Object reply = receive_within(fd, 20'000);
  return reply["pid"].int64_or(0);
}

}  // namespace

TEST_CASE("xpcd takes its bootstrap socket from LISTEN_FDS, stores it, and a restart given it back loses no lookup") {
  XpcdFixture fx;
  fx.add_service("com.test.sd", "com.test.sd");
  FakeManager manager(fx.root());
  std::string path = (fx.root() / "bootstrap").string();
  UniqueFd listener = xpc::test::listen_seqpacket(path);
  manager.start({xpcd_argv(fx), listener.get()});

  auto ready = manager.wait_for("READY=1");
  REQUIRE_MESSAGE(ready.has_value(), manager.log());
  CHECK(ready->pid == manager.pid());
  CHECK(ready->text.find("STATUS=serving 1 jobs at " + path) != std::string::npos);

  // The fd store: the very socket the manager passed, under its name.
  auto stored = manager.wait_for("FDSTORE=1");
  REQUIRE_MESSAGE(stored.has_value(), manager.log());
  CHECK(stored->pid == manager.pid());
  CHECK(stored->has("FDNAME=bootstrap"));
  REQUIRE(stored->fds.size() == 1);
  CHECK(xpc::test::same_socket(stored->fds[0].get(), listener.get()));

  ::setenv(protocol::kBootstrapEnv, path.c_str(), 1);
  Object first = xpc::test::raw_lookup("com.test.sd");
  std::int64_t first_pid = service_pid(first);
  CHECK(first_pid > 0);

  // From here on the manager holds only what xpcd stored.
  listener = UniqueFd();
  REQUIRE(manager.wait_for("STOPPING=1", 0ms) == std::nullopt);
  ::kill(manager.pid(), SIGTERM);
  auto stopping = manager.wait_for("STOPPING=1");
  REQUIRE_MESSAGE(stopping.has_value(), manager.log());
  CHECK(stopping->pid == manager.pid());
  CHECK(WIFEXITED(manager.stop()));

  // No xpcd runs: the connection waits in the stored socket's backlog and
  // the request in its buffer.
  UniqueFd waiting = connect_to(path);
  send_lookup(waiting.get(), "com.test.sd");
  CHECK(receive_within(waiting.get(), 0).is_null());

  manager.start({xpcd_argv(fx), stored->fds[0].get()});
  REQUIRE_MESSAGE(manager.wait_for("READY=1").has_value(), manager.log());
  Object queued = receive_within(waiting.get(), 10'000);
  REQUIRE_MESSAGE(queued[protocol::kFd].borrowed_fd() >= 0, queued.description() << "\n" << manager.log());
  CHECK(service_pid(queued) > 0);
  CHECK(manager.log().find("using the bootstrap socket passed by the service manager") != std::string::npos);
}

TEST_CASE("without LISTEN_FDS xpcd binds the socket itself and still puts it in the fd store") {
  XpcdFixture fx;
  fx.add_service("com.test.sd", "com.test.sd");
  FakeManager manager(fx.root());
  manager.start({xpcd_argv(fx)});
  auto ready = manager.wait_for("READY=1");
  REQUIRE_MESSAGE(ready.has_value(), manager.log());
  auto stored = manager.wait_for("FDSTORE=1");
  REQUIRE(stored.has_value());
  REQUIRE(stored->fds.size() == 1);
  CHECK(xpc::test::bound_path_of(stored->fds[0].get()) == (fx.root() / "bootstrap").string());
}

TEST_CASE("WATCHDOG_USEC set: xpcd sends WATCHDOG=1 again and again") {
  XpcdFixture fx;
  FakeManager manager(fx.root());
  std::string path = (fx.root() / "bootstrap").string();
  UniqueFd listener = xpc::test::listen_seqpacket(path);
  // 200 ms: sd-event pings between 100 and 150 ms.
  manager.start({xpcd_argv(fx), listener.get(), "bootstrap", {"WATCHDOG_USEC=200000"}});
  REQUIRE_MESSAGE(manager.wait_for("READY=1").has_value(), manager.log());
  for (int i = 0; i < 3; ++i) {
    auto ping = manager.wait_for("WATCHDOG=1", 5s);
    REQUIRE_MESSAGE(ping.has_value(), "watchdog ping " << i << " missing\n" << manager.log());
    CHECK(ping->pid == manager.pid());
  }
}

TEST_CASE("a passed fd that is not a listening SOCK_SEQPACKET socket is closed and xpcd binds its own") {
  XpcdFixture fx;
  FakeManager manager(fx.root());
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  UniqueFd read_end = UniqueFd::adopt(pipe_fds[0]), write_end = UniqueFd::adopt(pipe_fds[1]);
  manager.start({xpcd_argv(fx), read_end.get()});
  REQUIRE_MESSAGE(manager.wait_for("READY=1").has_value(), manager.log());
  CHECK(manager.log().find("not a listening SOCK_SEQPACKET unix socket") != std::string::npos);
  ::setenv(protocol::kBootstrapEnv, (fx.root() / "bootstrap").c_str(), 1);
  CHECK(xpc::test::raw_lookup("com.test.none")[kErrorKeyCode].as_string() == protocol::kErrorNotFound);
}

// The same daemon under a manager no one here wrote: systemd-socket-activate
// listens, execs xpcd on the first connection and passes the socket, with
// and without a name.
TEST_CASE("xpcd under systemd-socket-activate answers the connection that started it") {
  const char* tool = "/usr/bin/systemd-socket-activate";
  REQUIRE_MESSAGE(::access(tool, X_OK) == 0, "systemd-socket-activate is missing (package systemd)");
  for (bool named : {true, false}) {
    CAPTURE(named);
    XpcdFixture fx;
    fx.add_service("com.test.sd", "com.test.sd");
    FakeManager manager(fx.root());
    std::string path = (fx.root() / "bootstrap").string();
    // It passes on only TERM, PATH, USER, HOME and what -E names.
    std::vector<std::string> argv{tool, "--seqpacket", "-l", path, "-E", "NOTIFY_SOCKET"};
    if (named) argv.emplace_back("--fdname=bootstrap");
    for (const auto& a : xpcd_argv(fx)) argv.push_back(a);
    // Its stderr is a pipe: "Listening on PATH" says the socket is there.
    int err[2];
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    UniqueFd err_read = UniqueFd::adopt(err[0]), err_write = UniqueFd::adopt(err[1]);
    manager.start({argv, -1, "", {}, err_write.get()});
    err_write = UniqueFd();
    std::string said;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (said.find("Listening on") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{err_read.get(), POLLIN, 0};
      if (::poll(&p, 1, 1000) != 1) continue;
      char buf[512];
      ssize_t n = ::read(err_read.get(), buf, sizeof buf);
      if (n <= 0) break;
      said.append(buf, static_cast<std::size_t>(n));
    }
    REQUIRE_MESSAGE(said.find("Listening on") != std::string::npos, said);
    UniqueFd client = connect_to(path);
    send_lookup(client.get(), "com.test.sd");
    Object reply = receive_within(client.get(), 10'000);
    REQUIRE_MESSAGE(reply[protocol::kFd].borrowed_fd() >= 0, reply.description());
    CHECK(service_pid(reply) > 0);
    CHECK(manager.wait_for("READY=1").has_value());
  }
}
