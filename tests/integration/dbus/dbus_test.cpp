// The D-Bus API against a private dbus-daemon (docs/dbus.md): introspected
// and called with busctl (a client no one here wrote), the JobChanged
// signal received through the proxy generated from the same XML, the
// caller's uid taken from the bus (busctl as nobody is refused by the
// core's rule), and `dbus = false` keeping the name off the bus.
#include "private_bus.hpp"
#include "xpcd_fixture.hpp"

#include "manager1_proxy.h"  // generated: sdbus-c++-xml2cpp daemon/dbus/org.xpcd.Manager1.xml

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using namespace xpc::test;

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
    if (r.exit != 0 && !as_nobody) xpcd.keep();
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
