// The D-Bus API on a system bus (docs/dbus.md): a private dbus-daemon of
// type system with the default policy of Debian's
// /usr/share/dbus-1/system.conf (deny by default: no name may be owned and
// no method called unless a policy file punches a hole) and the repo's own
// daemon/dbus/org.xpcd.Manager1.conf included, as the installed file is.
// xpcd --system runs as root on it (DBUS_SYSTEM_BUS_ADDRESS); busctl runs
// as nobody (setpriv) and as root; xpcd-test-own-name asks for the name.
// What is checked is what the policy file means: root's xpcd owns the
// name, anyone may introspect, read and call, xpcd's own rule refuses an
// unprivileged change, and no one but root may own the name.
#include "private_bus.hpp"
#include "xpcd_fixture.hpp"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace xpc::test;

namespace {

constexpr const char* kLabel = "com.example.dbus.system";

// system.conf's <policy context="default"> and root's, verbatim but for
// the comments and the activation and Containers1 parts (no service is
// activated here). No <user> (the daemon stays root, as the test is),
// no <fork>, pidfile or syslog; the listen address is PrivateBus's.
std::string system_bus() {
  return "  <type>system</type>\n"
         "  <auth>EXTERNAL</auth>\n"
         "  <policy context=\"default\">\n"
         "    <allow user=\"*\"/>\n"
         "    <deny own=\"*\"/>\n"
         "    <deny send_type=\"method_call\"/>\n"
         "    <allow send_type=\"signal\"/>\n"
         "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
         "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
         "    <allow receive_type=\"method_call\"/>\n"
         "    <allow receive_type=\"method_return\"/>\n"
         "    <allow receive_type=\"error\"/>\n"
         "    <allow receive_type=\"signal\"/>\n"
         "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
         "    <allow send_destination=\"org.freedesktop.DBus\" "
         "send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
         "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
         "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"\n"
         "          send_member=\"UpdateActivationEnvironment\"/>\n"
         "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>\n"
         "  </policy>\n"
         "  <policy user=\"root\">\n"
         "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Monitoring\"/>\n"
         "  </policy>\n"
         "  <include>" XPCD_POLICY_FILE "</include>\n";
}

// xpcd --system as root with DBUS_SYSTEM_BUS_ADDRESS pointing at a private
// system bus. Its manifest directory is root's and not writable by others
// (the fixture's temp dir), as xpcd --system requires.
struct Scenario {
  XpcdFixture xpcd;
  std::optional<PrivateBus> bus;

  Scenario() {
    REQUIRE(::getuid() == 0);  // xpcd --system and the name's owner are root; the refused caller is nobody
    bus.emplace(xpcd.root(), system_bus());
    xpcd.add_service(kLabel, "com.example.dbus.system.service");
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus->address().c_str(), 1);
    xpcd.start({"--system", "--state-dir", (xpcd.root() / "xpcd-state").string()});
  }
  ~Scenario() {
    xpcd.stop();  // before the bus goes
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }

  // As nobody (setpriv), or as root.
  static Run as(bool nobody, std::vector<std::string> argv) {
    if (nobody) argv.insert(argv.begin(), {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"});
    return run(argv);
  }

  Run busctl(bool nobody, std::vector<std::string> args) {
    args.insert(args.begin(), {"busctl", "--address=" + bus->address(), "--timeout=20"});
    return as(nobody, std::move(args));
  }

  Run call(bool nobody, std::vector<std::string> args) {
    args.insert(args.begin(), {"call", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1"});
    return busctl(nobody, std::move(args));
  }

  Run bus_driver(const std::string& method, const std::string& name) {
    return busctl(false,
                  {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", method, "s", name});
  }

  // The pid of org.xpcd.Manager1's owner, as the bus says.
  int owner_pid() {
    Run owner = bus_driver("GetNameOwner", "org.xpcd.Manager1");
    REQUIRE_MESSAGE(owner.exit == 0, owner.err);
    REQUIRE(owner.out.rfind("s \"", 0) == 0);
    const std::string unique = owner.out.substr(3, owner.out.find('"', 3) - 3);  // s ":1.2"
    CHECK(bus_driver("GetConnectionUnixUser", unique).out == "u 0\n");
    Run pid = bus_driver("GetConnectionUnixProcessID", unique);
    REQUIRE(pid.out.rfind("u ", 0) == 0);
    return std::stoi(pid.out.substr(2));
  }

  Run own_name(bool nobody) {
    return as(nobody,
              {build_dir() + "/tests/integration/dbus/xpcd-test-own-name", bus->address(), "org.xpcd.Manager1"});
  }
};

const bool kNobody = true;
const bool kRoot = false;

std::string stopped_row() { return "a(sisi) 1 \"" + std::string(kLabel) + "\" 0 \"stopped\" 0\n"; }

}  // namespace

TEST_CASE("on a system bus, root's xpcd --system owns org.xpcd.Manager1 and nobody may introspect and read it") {
  Scenario s;
  // The owner is xpcd, as root (owner_pid checks the uid): the policy
  // file let it take the name.
  CHECK(s.owner_pid() == s.xpcd.pid());
  CHECK(s.xpcd.log().find("D-Bus: org.xpcd.Manager1 at /org/xpcd/Manager1 on the system bus") != std::string::npos);

  // Deny by default lets nobody send a method call; the policy file opens
  // the destination, so introspection, properties and methods reach xpcd.
  Run introspect = s.busctl(kNobody, {"introspect", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1"});
  REQUIRE_MESSAGE(introspect.exit == 0, introspect.err);
  for (const char* member : {".List ", ".Kickstart ", ".JobChanged ", ".Jobs ", ".Domain "}) {
    CHECK_MESSAGE(introspect.out.find(member) != std::string::npos, member << " missing from:\n" << introspect.out);
  }
  Run list = s.call(kNobody, {"List"});
  REQUIRE_MESSAGE(list.exit == 0, list.err);
  CHECK(list.out == stopped_row());
  Run print = s.call(kNobody, {"Print", "s", std::string("system/") + kLabel});
  REQUIRE_MESSAGE(print.exit == 0, print.err);
  CHECK(print.out.find("\\\"state\\\":\\\"stopped\\\"") != std::string::npos);
  Run domain =
      s.busctl(kNobody, {"get-property", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1", "Domain"});
  CHECK(domain.out == "s \"system\"\n");
  Run jobs =
      s.busctl(kNobody, {"get-property", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1", "Jobs"});
  CHECK(jobs.out == stopped_row());
  // The properties are read-only, for everyone.
  Run set = s.busctl(
      kRoot, {"set-property", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1", "Domain", "s", "user/0"});
  CHECK(set.exit != 0);
  CHECK(
      s.busctl(kRoot, {"get-property", "org.xpcd.Manager1", "/org/xpcd/Manager1", "org.xpcd.Manager1", "Domain"}).out ==
      "s \"system\"\n");
}

TEST_CASE("on a system bus, a change by nobody reaches xpcd and is refused by its rule; root's is done") {
  Scenario s;
  const std::string target = std::string("system/") + kLabel;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"Kickstart", "sb", target, "false"}, {"Disable", "s", target}, {"Kill", "si", target, "9"}, {"Reload"}}) {
    CAPTURE(args[0]);
    Run refused = s.call(kNobody, args);
    CHECK(refused.exit != 0);
    // xpcd's refusal, not the bus's: the policy lets the call through.
    CHECK_MESSAGE(refused.err.find("refused by rule system-domain-needs-root") != std::string::npos, refused.err);
    CHECK_MESSAGE(refused.err.find("the caller is uid 65534") != std::string::npos, refused.err);
  }
  // xpcd logs who was refused: the pid and uid the bus gave for the caller.
  CHECK(!s.xpcd.wait_log("pid [1-9][0-9]* uid 65534: refused by rule system-domain-needs-root: 'kickstart'").empty());
  // Nothing changed: still loaded, stopped, enabled, never started.
  Run list = s.call(kRoot, {"List"});
  CHECK(list.out == stopped_row());
  CHECK_FALSE(std::filesystem::exists(s.xpcd.root() / "xpcd-state" / "overrides"));
  CHECK(s.xpcd.started_pids().empty());

  Run kickstart = s.call(kRoot, {"Kickstart", "sb", target, "false"});
  REQUIRE_MESSAGE(kickstart.exit == 0, kickstart.err);
  REQUIRE(kickstart.out.rfind("i ", 0) == 0);
  CHECK(std::stoi(kickstart.out.substr(2)) > 0);
}

TEST_CASE("on a system bus, only root may own org.xpcd.Manager1") {
  Scenario s;
  // nobody is refused by the policy, whoever holds the name.
  Run nobody = s.own_name(kNobody);
  CHECK(nobody.exit == 1);
  CHECK_MESSAGE(nobody.err.find("org.freedesktop.DBus.Error.AccessDenied") != std::string::npos, nobody.err);
  CHECK_MESSAGE(nobody.err.find("not allowed to own the service \"org.xpcd.Manager1\"") != std::string::npos,
                nobody.err);
  // root may ask; xpcd holds it and does not give it away (3: exists).
  Run root = s.own_name(kRoot);
  REQUIRE_MESSAGE(root.exit == 0, root.err);
  CHECK(root.out == "3\n");
  CHECK(s.owner_pid() == s.xpcd.pid());
}
