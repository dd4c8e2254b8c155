// xpcd.toml: every key, its type errors with FILE:LINE:COL naming the key,
// unknown keys as warnings, and each bound at N and N+1.
#include "config/config.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace xpcd;
using config::parse;

namespace {

std::string error_of(const std::string& text) {
  auto r = parse(text, "x.toml");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

config::DaemonConfig ok(const std::string& text) {
  auto r = parse(text, "x.toml");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  CHECK(r->warnings.empty());
  return r->config;
}

}  // namespace

TEST_CASE("an empty file leaves everything to the command line and the defaults") {
  auto c = ok("");
  CHECK_FALSE(c.manifest_dirs.has_value());
  CHECK_FALSE(c.bootstrap.has_value());
  CHECK_FALSE(c.activation_timeout.has_value());
  CHECK(c.limits.pending_lookups == limits::kDefaultPendingLookupsPerUid);
  CHECK(c.limits.held_fds == limits::kDefaultHeldFdsPerUid);
}

TEST_CASE("every key is read") {
  auto c = ok("manifest_dirs = [\"/a\", \"/b\"]\nbootstrap = \"/run/x/bootstrap\"\nactivation_timeout = 1.5\n"
              "[limits]\npending_lookups_per_uid = 3\nheld_fds_per_uid = 7\n");
  CHECK(*c.manifest_dirs == std::vector<std::string>{"/a", "/b"});
  CHECK(*c.bootstrap == "/run/x/bootstrap");
  CHECK(*c.activation_timeout == std::chrono::milliseconds(1500));
  CHECK(c.limits.pending_lookups == 3);
  CHECK(c.limits.held_fds == 7);
  CHECK(*ok("activation_timeout = 2").activation_timeout == std::chrono::seconds(2));
}

TEST_CASE("dbus turns the D-Bus API off, and is on by default") {
  CHECK(ok("").dbus);
  CHECK(ok("dbus = true").dbus);
  CHECK_FALSE(ok("dbus = false").dbus);
  CHECK_FALSE(ok("dbus = false\nbootstrap = \"/b\"").dbus);
  CHECK(error_of("dbus = 0") == "x.toml:1:8: 'dbus' must be true or false, not an integer");
  CHECK(error_of("dbus = \"no\"") == "x.toml:1:8: 'dbus' must be true or false, not a string");
}

TEST_CASE("an unknown key is a warning with its position, and the rest is read") {
  auto r = parse("bootstrap = \"/b\"\ncolour = 5\n[limits]\nparked = 1\n", "x.toml");
  REQUIRE(r.ok());
  REQUIRE(r->warnings.size() == 2);
  CHECK(r->warnings[0] == "x.toml:2:1: unknown key 'colour' (ignored)");
  CHECK(r->warnings[1] == "x.toml:4:1: unknown key 'limits.parked' (ignored)");
  CHECK(*r->config.bootstrap == "/b");
}

TEST_CASE("a wrong type is an error naming the key and FILE:LINE:COL") {
  CHECK(error_of("\nmanifest_dirs = \"/a\"") ==
        "x.toml:2:17: 'manifest_dirs' must be an array of directory paths, not a string");
  CHECK(error_of("manifest_dirs = [\"/a\", 3]") ==
        "x.toml:1:24: 'manifest_dirs' must be an array of directory paths, not an integer");
  CHECK(error_of("bootstrap = 1") == "x.toml:1:13: 'bootstrap' must be a socket path (a string), not an integer");
  CHECK(error_of("activation_timeout = \"30\"") ==
        "x.toml:1:22: 'activation_timeout' must be a number of seconds, not a string");
  CHECK(error_of("limits = 3") == "x.toml:1:10: 'limits' must be a table, not an integer");
  CHECK(error_of("[limits]\npending_lookups_per_uid = 2.0") ==
        "x.toml:2:27: 'limits.pending_lookups_per_uid' must be an integer, not a float");
  CHECK(error_of("[limits]\nheld_fds_per_uid = true") ==
        "x.toml:2:20: 'limits.held_fds_per_uid' must be an integer, not a boolean");
}

TEST_CASE("bad values are errors naming the key") {
  CHECK(error_of("manifest_dirs = []") == "x.toml:1:17: 'manifest_dirs' must name at least one directory");
  CHECK(error_of("manifest_dirs = [\"rel\"]") == "x.toml:1:18: 'manifest_dirs' must hold absolute paths, not 'rel'");
  CHECK(error_of("bootstrap = \"\"") == "x.toml:1:13: 'bootstrap' must be an absolute path");
  CHECK(error_of("activation_timeout = nan").find("'activation_timeout' must be more than 0") != std::string::npos);
  CHECK(error_of("activation_timeout = -1").find("x.toml:1:22: 'activation_timeout'") == 0);
}

TEST_CASE("a TOML syntax error has its position") {
  std::string e = error_of("a = 1\nb = [\n");
  CHECK_MESSAGE(e.rfind("x.toml:", 0) == 0, e);
  CHECK_MESSAGE(e.rfind("x.toml:2:7: ", 0) == 0, e);
  CHECK(error_of("a = 1\na = 2").rfind("x.toml:2:", 0) == 0);
}

TEST_CASE("bounds, each at N and N+1 (or N-1 below a minimum)") {
  std::string at_max(config::kMaxBootstrapPathLength, 'b');
  at_max[0] = '/';
  CHECK(ok("bootstrap = \"" + at_max + "\"").bootstrap->size() == config::kMaxBootstrapPathLength);
  CHECK(error_of("bootstrap = \"" + at_max + "b\"") ==
        "x.toml:1:13: 'bootstrap' is 108 bytes long; a unix socket path holds at most 107");

  CHECK(ok("activation_timeout = 3600").activation_timeout == std::chrono::seconds(3600));
  CHECK(ok("idle_timeout = 86400").idle_timeout == std::chrono::seconds(86400));
  // [pressure]: the kernel's PSI window bounds at N and N+1, a stall shorter than the window.
  CHECK(ok("[pressure]\nmemory_window_ms = 500\nmemory_stall_ms = 499\n").pressure.window == std::chrono::milliseconds(500));
  CHECK(ok("[pressure]\nmemory_window_ms = 10000\n").pressure.window == std::chrono::seconds(10));
  CHECK(error_of("[pressure]\nmemory_window_ms = 499\n") ==
        "x.toml:2:20: 'pressure.memory_window_ms' must be from 500 to 10000, not 499");
  CHECK(error_of("[pressure]\nmemory_window_ms = 10001\n").find("must be from 500 to 10000, not 10001") !=
        std::string::npos);
  CHECK(error_of("[pressure]\nmemory_window_ms = 500\nmemory_stall_ms = 500\n").find(
            "'pressure.memory_stall_ms' must be shorter than pressure.memory_window_ms (500 >= 500)") !=
        std::string::npos);
  CHECK_FALSE(ok("[pressure]\nmemory = false\n").pressure.memory);
  CHECK(ok("").pressure.memory);
  CHECK(error_of("idle_timeout = 86401").find("x.toml:1:16: 'idle_timeout' must be more than 0 and at most 86400") == 0);
  CHECK(*ok("idle_timeout = 0.05").idle_timeout == std::chrono::milliseconds(50));
  CHECK(error_of("idle_timeout = 0").find("'idle_timeout' must be more than 0") != std::string::npos);
  CHECK(error_of("activation_timeout = 3601") ==
        "x.toml:1:22: 'activation_timeout' must be more than 0 and at most 3600 seconds, not 3601");
  CHECK(ok("activation_timeout = 0.001").activation_timeout == std::chrono::milliseconds(1));
  CHECK(error_of("activation_timeout = 0") ==
        "x.toml:1:22: 'activation_timeout' must be more than 0 and at most 3600 seconds, not 0");

  CHECK(ok("[limits]\npending_lookups_per_uid = 1").limits.pending_lookups == 1);
  CHECK(error_of("[limits]\npending_lookups_per_uid = 0") ==
        "x.toml:2:27: 'limits.pending_lookups_per_uid' must be from 1 to 1048576, not 0");
  CHECK(ok("[limits]\npending_lookups_per_uid = 1048576").limits.pending_lookups == 1048576);
  CHECK(error_of("[limits]\npending_lookups_per_uid = 1048577") ==
        "x.toml:2:27: 'limits.pending_lookups_per_uid' must be from 1 to 1048576, not 1048577");

  CHECK(ok("[limits]\nheld_fds_per_uid = 2").limits.held_fds == 2);
  CHECK(error_of("[limits]\nheld_fds_per_uid = 1") ==
        "x.toml:2:20: 'limits.held_fds_per_uid' must be from 2 to 1048576, not 1");
  CHECK(ok("[limits]\nheld_fds_per_uid = 1048576").limits.held_fds == 1048576);
  CHECK(error_of("[limits]\nheld_fds_per_uid = 1048577") ==
        "x.toml:2:20: 'limits.held_fds_per_uid' must be from 2 to 1048576, not 1048577");
}

TEST_CASE("load reads a file and names it; a missing file is an error") {
  std::string path = "/tmp/xpcd-config-test-" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path) << "bootstrap = 5\n";
  auto r = config::load(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == path + ":1:13: 'bootstrap' must be a socket path (a string), not an integer");
  std::remove(path.c_str());
  auto missing = config::load(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == path + ": cannot read: No such file or directory");
}
