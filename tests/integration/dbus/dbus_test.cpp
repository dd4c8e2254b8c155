// The D-Bus API against a private dbus-daemon (docs/dbus.md): introspected
// and called with busctl (a client no one here wrote), the JobChanged
// signal received through the proxy generated from the same XML, the
// caller's uid taken from the bus (busctl as nobody is refused by the
// core's rule), and `dbus = false` keeping the name off the bus.
#include "private_bus.hpp"
#include "xpcd_fixture.hpp"

#include "manager1_proxy.h"  // generated: sdbus-c++-xml2cpp daemon/dbus/org.xpcd.Manager1.xml

#include <sdbus-c++/sdbus-c++.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace xpc::test;
using xpc::UniqueFd;

namespace {

constexpr const char* kLabel = "com.example.dbus.job";

// xpcd --user with DBUS_SESSION_BUS_ADDRESS pointing at a private bus.
struct Scenario {
  XpcdFixture xpcd;
  std::optional<PrivateBus> bus;

  explicit Scenario(const std::vector<std::string>& options = {}, const std::string& config = "") {
    bus.emplace(xpcd.root());
    xpcd.add_service(kLabel, "com.example.dbus.service");
    ::setenv("DBUS_SESSION_BUS_ADDRESS", bus->address().c_str(), 1);
    std::vector<std::string> extra = options;
    if (!config.empty()) {
      std::ofstream(xpcd.root() / "xpcd.toml") << config;
      extra.insert(extra.end(), {"--config", (xpcd.root() / "xpcd.toml").string()});
    }
    xpcd.start(extra);
  }
  ~Scenario() {
    xpcd.stop();  // before the bus goes
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
  }

  Run busctl(std::vector<std::string> args, bool as_nobody = false) {
    std::vector<std::string> argv;
    if (as_nobody) argv = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    argv.insert(argv.end(), {"busctl", "--address=" + bus->address(), "--timeout=20"});
    argv.insert(argv.end(), args.begin(), args.end());
    Run r = run(argv);
    return r;
  }

  Run call(std::vector<std::string> args, bool as_nobody = false) {
    args.insert(args.begin(), {"call", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1"});
    return busctl(std::move(args), as_nobody);
  }

  std::string name_has_owner() {
    Run r = busctl({"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                    "s", "org.xpcd.Manager1"});
    REQUIRE_MESSAGE(r.exit == 0, r.err);
    return r.out;
  }
};

struct Change {
  std::string label;
  std::string state;
  int pid;
};

// The generated proxy on its own connection, driven here (no thread): the
// signals it got so far, and a bounded wait for the next.
class Manager final : public sdbus::ProxyInterfaces<org::xpcd::Manager1_proxy> {
 public:
  explicit Manager(sdbus::IConnection& connection)
      : ProxyInterfaces(connection, "org.xpcd.Manager1", "/org/xpcd/Manager1"), connection_(connection) {
    registerProxy();
  }
  ~Manager() { unregisterProxy(); }

  // Processes the connection until a JobChanged matching `wanted` arrived
  // (those before it are kept in `seen`), at most 10 s.
  template <typename Wanted>
  std::optional<Change> wait_for(Wanted wanted) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      while (connection_.processPendingRequest()) {
      }
      for (; checked_ < seen.size(); ++checked_) {
        if (wanted(seen[checked_])) return seen[checked_++];
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto poll_data = connection_.getEventLoopPollData();
      pollfd p{poll_data.fd, poll_data.events, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }

  std::vector<Change> seen;

 private:
  void onJobChanged(const std::string& label, const std::string& state, const int32_t& pid) override {
    seen.push_back({label, state, pid});
  }

  sdbus::IConnection& connection_;
  std::size_t checked_ = 0;
};

// A relay between xpcd and the bus daemon, so a test can hold back what
// xpcd sends: xpcd connects to SOCKET, and its one connection is forwarded
// byte for byte to the daemon at BUS (which takes the relay's uid, root,
// for xpcd's: the same). After hold(), what xpcd sends is kept until
// release(); wait_held() waits until some was kept. A thread of its own:
// the test blocks on other things meanwhile.
class BusRelay {
 public:
  BusRelay(const std::filesystem::path& socket, const std::filesystem::path& bus)
      : socket_(socket), bus_(bus), listener_(listen_on(socket)) {
    thread_ = std::thread([this] { run(); });
  }
  ~BusRelay() {
    stop_ = true;
    notify(wake_);
    thread_.join();
  }
  BusRelay(const BusRelay&) = delete;
  BusRelay& operator=(const BusRelay&) = delete;

  std::string address() const { return "unix:path=" + socket_.string(); }
  void hold() { held_ = true; }
  void release() {
    held_ = false;
    notify(wake_);
  }
  // Whether xpcd sent anything since hold(), within `timeout`.
  bool wait_held(std::chrono::milliseconds timeout) const {
    pollfd p{kept_.get(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }

 private:
  static UniqueFd listen_on(const std::filesystem::path& path) {
    UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd.get(), 1) == 0);
    return fd;
  }
  static void notify(const UniqueFd& event) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event.get(), &one, sizeof one);
  }
  static bool send_all(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Accepts xpcd, connects to the bus, forwards until either side closes.
  void run() {
    pollfd accept{listener_.get(), POLLIN, 0};
    pollfd woken{wake_.get(), POLLIN, 0};
    pollfd first[2] = {accept, woken};
    if (::poll(first, 2, -1) <= 0 || (first[0].revents & POLLIN) == 0) return;
    UniqueFd xpcd = UniqueFd::adopt(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    UniqueFd bus = UniqueFd::adopt(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, bus_.c_str(), sizeof addr.sun_path - 1);
    if (!xpcd || ::connect(bus.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    std::string pending;  // from xpcd, held
    char buffer[65536];
    while (!stop_) {
      if (!held_ && !pending.empty()) {
        if (!send_all(bus.get(), pending)) return;
        pending.clear();
      }
      pollfd p[3] = {{xpcd.get(), POLLIN, 0}, {bus.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) return;
      if ((p[2].revents & POLLIN) != 0) {
        std::uint64_t count;
        [[maybe_unused]] auto n = ::read(wake_.get(), &count, sizeof count);
      }
      if ((p[0].revents & (POLLIN | POLLHUP)) != 0) {
        ssize_t n = ::read(xpcd.get(), buffer, sizeof buffer);
        if (n <= 0) return;
        pending.append(buffer, static_cast<std::size_t>(n));
        if (held_) notify(kept_);
      }
      if ((p[1].revents & (POLLIN | POLLHUP)) != 0) {
        ssize_t n = ::read(bus.get(), buffer, sizeof buffer);
        if (n <= 0 || !send_all(xpcd.get(), std::string(buffer, static_cast<std::size_t>(n)))) return;
      }
    }
  }

  std::filesystem::path socket_;
  std::filesystem::path bus_;
  UniqueFd listener_;
  UniqueFd wake_ = UniqueFd::adopt(::eventfd(0, EFD_CLOEXEC));
  UniqueFd kept_ = UniqueFd::adopt(::eventfd(0, EFD_CLOEXEC));
  std::atomic<bool> held_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int pid_in(const std::string& busctl_out) {  // "i 1234\n"
  REQUIRE(busctl_out.rfind("i ", 0) == 0);
  return std::stoi(busctl_out.substr(2));
}

}  // namespace

TEST_CASE("busctl introspects org.xpcd.Manager1 on the session bus, and List shows the loaded job") {
  Scenario s;
  CHECK(s.name_has_owner() == "b true\n");
  Run introspect = s.busctl({"introspect", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1"});
  REQUIRE_MESSAGE(introspect.exit == 0, introspect.err);
  for (const char* member : {".List ", ".Print ", ".Blame ", ".Kickstart ", ".Kill ", ".Enable ", ".Disable ",
                             ".Bootstrap ", ".Bootout ", ".Reload ", ".JobChanged ", ".Jobs ", ".Domain "}) {
    CHECK_MESSAGE(introspect.out.find(member) != std::string::npos, member << " missing from:\n" << introspect.out);
  }
  Run list = s.call({"List"});
  REQUIRE_MESSAGE(list.exit == 0, list.err);
  CHECK(list.out == "a(sisi) 1 \"" + std::string(kLabel) + "\" 0 \"stopped\" 0\n");
  Run domain = s.busctl({"get-property", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1", "Domain"});
  CHECK(domain.out == "s \"user/" + std::to_string(::getuid()) + "\"\n");
}

TEST_CASE("Kickstart through busctl starts the job, and JobChanged reaches the generated proxy") {
  Scenario s;
  auto connection = sdbus::createSessionBusConnectionWithAddress(s.bus->address());
  connection->setMethodCallTimeout(std::chrono::seconds(20));
  Manager manager(*connection);

  Run kickstart = s.call({"Kickstart", "sb", kLabel, "false"});
  REQUIRE_MESSAGE(kickstart.exit == 0, kickstart.err);
  const int pid = pid_in(kickstart.out);
  CHECK(pid > 0);
  auto started = manager.wait_for([&](const Change& c) { return c.label == kLabel && c.pid == pid; });
  REQUIRE_MESSAGE(started.has_value(), "no JobChanged with pid " << pid << "; log:\n" << s.xpcd.log());
  CHECK((started->state == "spawning" || started->state == "running"));

  // The generated proxy's calls and the Jobs property agree.
  auto [running, state, blamed_pid, because] = manager.Blame(kLabel);
  CHECK(running);
  CHECK(blamed_pid == pid);
  CHECK(because.find("kickstart") != std::string::npos);
  auto jobs = manager.Jobs();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].get<0>() == kLabel);
  CHECK(jobs[0].get<1>() == pid);
  auto [text, json] = manager.Print(kLabel);
  CHECK(text.find(kLabel) != std::string::npos);
  CHECK(json.find("\"pid\":" + std::to_string(pid)) != std::string::npos);

  // Kill: the instance ends, and its end is signalled too.
  CHECK(manager.Kill(kLabel, SIGKILL) == pid);
  auto ended = manager.wait_for([&](const Change& c) { return c.label == kLabel && c.pid == 0; });
  REQUIRE_MESSAGE(ended.has_value(), "no JobChanged with pid 0 after the kill; log:\n" << s.xpcd.log());
  auto rows = manager.List();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].get<1>() == 0);
  CHECK(rows[0].get<3>() == -SIGKILL);  // launchctl's status: minus the signal

  // Bootout answers once the job is gone; its removal is signalled.
  CHECK(manager.Bootout(kLabel, {}) == std::vector<std::string>{kLabel});
  auto removed = manager.wait_for([&](const Change& c) { return c.label == kLabel && c.state == "removed"; });
  CHECK(removed.has_value());
  CHECK(manager.List().empty());
}

TEST_CASE("the caller is who the bus says: busctl as nobody reads, and is refused a change by the core's rule") {
  Scenario s;
  Run list = s.call({"List"}, true);
  REQUIRE_MESSAGE(list.exit == 0, list.err);
  CHECK(list.out.find(kLabel) != std::string::npos);
  const std::string target = "user/" + std::to_string(::getuid()) + "/" + kLabel;
  Run kickstart = s.call({"Kickstart", "sb", target, "false"}, true);
  CHECK(kickstart.exit != 0);
  CHECK_MESSAGE(kickstart.err.find("user-domain-owner-or-root") != std::string::npos, kickstart.err);
  CHECK_MESSAGE(kickstart.err.find("uid 65534") != std::string::npos, kickstart.err);
  // Nothing changed.
  Run after = s.call({"List"});
  CHECK(after.out == "a(sisi) 1 \"" + std::string(kLabel) + "\" 0 \"stopped\" 0\n");
  // A usage error is InvalidArgs, with the core's sentence.
  Run bad = s.call({"Kill", "si", kLabel, "99"});
  CHECK(bad.exit != 0);
  CHECK_MESSAGE(bad.err.find("signal number from 1 to 64") != std::string::npos, bad.err);
}

TEST_CASE("dbus = false in xpcd.toml keeps org.xpcd.Manager1 off the bus") {
  Scenario s({}, "dbus = false\n");
  CHECK(s.name_has_owner() == "b false\n");
  CHECK(s.xpcd.log().find("D-Bus: off") != std::string::npos);
}

TEST_CASE("no bus, or the name taken, is a warning: xpcd serves without the D-Bus API") {
  SUBCASE("the name is taken by another xpcd") {
    Scenario s;
    XpcdFixture second;  // DBUS_SESSION_BUS_ADDRESS still names s's bus
    second.start();
    CHECK(second.log().find("D-Bus: cannot serve org.xpcd.Manager1 on the session bus") != std::string::npos);
    CHECK(s.name_has_owner() == "b true\n");
  }
  SUBCASE("the bus address leads nowhere") {
    XpcdFixture xpcd;
    ::setenv("DBUS_SESSION_BUS_ADDRESS", ("unix:path=" + (xpcd.root() / "no-bus").string()).c_str(), 1);
    xpcd.start();
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    CHECK(xpcd.log().find("D-Bus: cannot serve org.xpcd.Manager1 on the session bus") != std::string::npos);
  }
}

TEST_CASE("xpcd asks the bus who calls without blocking: its bootstrap socket answers while the bus has not") {
  XpcdFixture xpcd;
  PrivateBus bus(xpcd.root());
  xpcd.add_service(kLabel, "com.example.dbus.service");
  BusRelay relay(xpcd.root() / "relay", xpcd.root() / "bus");
  ::setenv("DBUS_SESSION_BUS_ADDRESS", relay.address().c_str(), 1);
  xpcd.start();
  ::unsetenv("DBUS_SESSION_BUS_ADDRESS");

  // List, from a connection of the test's own (straight to the bus). What
  // xpcd sends next is its question about the caller: held by the relay.
  auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
  auto manager = sdbus::createProxy(*connection, "org.xpcd.Manager1", "/org/xpcd/Manager1");
  relay.hold();
  bool answered = false;
  std::string error;
  std::size_t rows = 0;
  auto pending =
      manager->callMethodAsync("List")
          .onInterface("org.xpcd.Manager1")
          .uponReplyInvoke([&](const sdbus::Error* e,
                               const std::vector<sdbus::Struct<std::string, int32_t, std::string, int32_t>>& jobs) {
            answered = true;
            error = e != nullptr ? e->getName() + ": " + e->getMessage() : "";
            rows = jobs.size();
          });
  auto drive = [&] {
    while (connection->processPendingRequest()) {
    }
  };
  drive();
  REQUIRE_MESSAGE(relay.wait_held(std::chrono::seconds(10)), "xpcd sent nothing to the bus after the call");

  // The loop is free: a lookup on the bootstrap socket is answered (an
  // unknown name), and the call still waits for its caller.
  xpc::Object looked_up = raw_lookup("com.example.dbus.nothing");
  CHECK(looked_up[xpc::kErrorKeyCode].as_string() == xpc::protocol::kErrorNotFound);
  drive();
  CHECK_FALSE(answered);

  // The bus answers: the call is served, as the caller it names.
  relay.release();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    drive();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (answered || left.count() <= 0) break;
    auto poll_data = connection->getEventLoopPollData();
    pollfd p{poll_data.fd, poll_data.events, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  REQUIRE(answered);
  CHECK_MESSAGE(error.empty(), error);
  CHECK(rows == 1);
  xpcd.stop();  // before the relay and the bus go
}
