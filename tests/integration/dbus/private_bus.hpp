// A private dbus-daemon per test (STYLE 10: sdbus-c++ 1.2 has no direct
// peer-to-peer connection), with its own config in the test's temp dir:
// by default a session bus any uid may connect to (so a test can call as
// nobody) and own names on; or the given configuration (system_bus_test:
// the system bus's policy). The test waits for the address it prints,
// never sleeps. Plus a runner for real clients (busctl), with a bounded
// wait.
#pragma once

#include <doctest/doctest.h>
#include <run_process.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace xpc::test {

// Runs argv[0] (looked up in PATH); fails the test after 30 s.
inline Run run(std::vector<std::string> argv) { return run_process(std::move(argv), std::chrono::seconds(30)); }

// What <busconfig> holds besides <listen>: a session bus open to every uid.
inline std::string open_session_bus() {
  return "  <type>session</type>\n"
         "  <auth>EXTERNAL</auth>\n"
         "  <policy context=\"default\">\n"
         "    <allow user=\"*\"/>\n"
         "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
         "    <allow eavesdrop=\"true\"/>\n"
         "    <allow own=\"*\"/>\n"
         "  </policy>\n";
}

class PrivateBus {
 public:
  // `config_body`: the configuration's elements but <listen> (the bus
  // listens on DIR/bus).
  explicit PrivateBus(const std::filesystem::path& dir, const std::string& config_body = open_session_bus()) {
    const auto socket = dir / "bus";
    const auto config = dir / "bus.conf";
    std::ofstream(config) << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                             " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                             "<busconfig>\n"
                             "  <listen>unix:path="
                          << socket.string() << "</listen>\n"
                          << config_body << "</busconfig>\n";
    int address[2];
    REQUIRE(::pipe2(address, O_CLOEXEC) == 0);
    std::string config_arg = "--config-file=" + config.string();
    std::vector<const char*> argv{"dbus-daemon", config_arg.c_str(), "--print-address=3", "--nofork", "--nopidfile",
                                  nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, address[1], 3);
    // Its complaints (it cannot raise its fd limit without privileges) in a file.
    const std::string log = (dir / "dbus-daemon.log").string();
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    REQUIRE(posix_spawnp(&pid_, argv[0], &actions, nullptr, const_cast<char**>(argv.data()), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(address[1]);
    // The address is printed once the daemon listens.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (address_.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      REQUIRE_MESSAGE(left.count() > 0, "dbus-daemon printed no address within 10 s");
      pollfd p{address[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
      char buffer[512];
      ssize_t n = ::read(address[0], buffer, sizeof buffer);
      REQUIRE_MESSAGE(n > 0, "dbus-daemon exited before printing its address");
      address_.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(address[0]);
    address_.erase(address_.find('\n'));
    // Any uid may connect (the policies say so); the socket must let them.
    REQUIRE(::chmod(socket.c_str(), 0666) == 0);
  }

  ~PrivateBus() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace xpc::test
