// A real xpcd per test (STYLE 10): a temp root with the scenario's
// manifests, xpcd started on a bootstrap socket inside it with a readiness
// fd, and the test synchronised on that fd and on messages, never sleeps.
// The test process's libxpc talks to it through XPCD_BOOTSTRAP. On failure
// the temp dir is kept and its path printed.
#pragma once

#include <doctest/doctest.h>
#include <xpc/object.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>
#include <xpc/unique_fd.hpp>
#include <event_queue.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace xpc::test {

inline std::string build_dir() { return XPCD_BUILD_DIR; }

// A connection to the bootstrap socket of the running test xpcd
// ($XPCD_BOOTSTRAP, set by XpcdFixture::start).
inline UniqueFd connect_bootstrap() {
  const char* path = std::getenv(protocol::kBootstrapEnv);
  REQUIRE(path != nullptr);
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Waits (bounded) until process `pid` has ended, through a pidfd; true if
// it did (or was gone already).
inline bool wait_exit(pid_t pid, int timeout_ms) {
  UniqueFd pidfd = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return errno == ESRCH;
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// One lookup over the bootstrap protocol itself (DESIGN 5.2), synchronous,
// so the test knows xpcd has answered it before the next: the reply body,
// {fd: FD} or an error object.
inline Object raw_lookup(const std::string& name, std::uint64_t flags = 0) {
  UniqueFd fd = connect_bootstrap();
  Object request{{protocol::kRequest, protocol::kLookup}, {protocol::kName, name}, {protocol::kFlags, flags}};
  REQUIRE(wire::send(fd.get(), {1, 0, true, request}).ok());
  pollfd p{fd.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10'000) == 1);
  auto reply = wire::receive(fd.get());
  REQUIRE(reply.ok());
  return reply->body;
}

// Waits (bounded) for the message xpcd sends through a held connection it
// gives up on: one error body, then EOF.
inline Object failure_on(const Object& lookup_reply) {
  int fd = lookup_reply[protocol::kFd].borrowed_fd();
  REQUIRE(fd >= 0);
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 20'000) == 1);
  auto message = wire::receive(fd);
  REQUIRE(message.ok());
  return message->body;
}

class XpcdFixture {
 public:
  XpcdFixture() {
    static int counter = 0;
    root_ = std::filesystem::temp_directory_path() /
            ("xpcd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "manifests");
    std::filesystem::create_directories(root_ / "state");
  }

  ~XpcdFixture() {
    stop();
    // The services xpcd launched recorded their pids; none may outlive the
    // test. Only a pid that is still a job of this xpcd (its environment
    // names this bootstrap socket): one that exited long ago may have been
    // reused by another process.
    std::string mine = std::string(protocol::kBootstrapEnv) + "=" + (root_ / "bootstrap").string();
    for (int pid : started_pids()) {
      std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
      std::string entry;
      while (std::getline(environ, entry, '\0')) {
        if (entry == mine) ::kill(pid, SIGKILL);
      }
    }
    if (keep_) {
      MESSAGE("xpcd test root kept at " << root_.string());
    } else {
      std::filesystem::remove_all(root_);
    }
    ::unsetenv(protocol::kBootstrapEnv);
  }

  std::filesystem::path root() const { return root_; }
  std::string state_dir() const { return (root_ / "state").string(); }
  std::string service_binary() const { return build_dir() + "/tests/integration/daemon/xpcd-test-service"; }

  // A TOML manifest for a test service providing `service`.
  void add_service(const std::string& label, const std::string& service, const std::string& extra = "",
                   std::vector<std::string> args = {}) {
    std::ofstream out(root_ / "manifests" / (label + ".toml"));
    out << "Label = \"" << label << "\"\n";
    out << "ProgramArguments = [\"" << service_binary() << "\", \"" << state_dir() << "\"";
    for (const auto& a : args) out << ", \"" << a << "\"";
    out << "]\n" << extra << "\n[MachServices]\n\"" << service << "\" = true\n";
  }

  void add_raw_manifest(const std::string& file, const std::string& text) {
    std::ofstream(root_ / "manifests" / file) << text;
  }

  // Starts xpcd and waits (bounded) until it says it serves. `extra` goes
  // on its command line after the fixture's options (e.g. --config FILE).
  void start(const std::vector<std::string>& extra = {}) {
    std::string bootstrap = (root_ / "bootstrap").string();
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    std::string xpcd = build_dir() + "/daemon/xpcd";
    std::string manifests = (root_ / "manifests").string();
    std::string ready_fd = "3";
    std::vector<const char*> argv{xpcd.c_str(), "--user", "--bootstrap", bootstrap.c_str(), "--manifest-dir",
                                  manifests.c_str(), "--ready-fd", ready_fd.c_str()};
    for (const auto& arg : extra) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    std::string log = (root_ / "xpcd.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ready[1], 3);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    REQUIRE(posix_spawn(&pid_, xpcd.c_str(), &actions, nullptr, const_cast<char**>(argv.data()), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(ready[1]);
    pidfd_ = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    pollfd p{ready[0], POLLIN, 0};
    bool ready_seen = ::poll(&p, 1, 10'000) == 1 && (p.revents & POLLIN) != 0;
    char c = 0;
    ready_seen = ready_seen && ::read(ready[0], &c, 1) == 1 && c == '\n';
    ::close(ready[0]);
    if (!ready_seen) keep_ = true;
    REQUIRE_MESSAGE(ready_seen, "xpcd did not become ready; log: " << log);
    ::setenv(protocol::kBootstrapEnv, bootstrap.c_str(), 1);
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    pollfd p{pidfd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Pids of every instance started so far, in no particular order.
  std::vector<int> started_pids() const {
    std::vector<int> pids;
    for (const auto& e : std::filesystem::directory_iterator(root_ / "state")) {
      std::string name = e.path().filename().string();
      if (name.rfind("started.", 0) == 0) pids.push_back(std::stoi(name.substr(8)));
    }
    return pids;
  }

  std::string started_record(int pid) const {
    std::ifstream in(root_ / "state" / ("started." + std::to_string(pid)));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string log() const {
    std::ifstream in(root_ / "xpcd.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Waits (bounded, on inotify) until the log matches `pattern`; the first
  // match's first group (or the whole match), "" on timeout.
  std::string wait_log(const std::string& pattern, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd watch = UniqueFd::adopt(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    ::inotify_add_watch(watch.get(), (root_ / "xpcd.log").c_str(), IN_MODIFY);
    const std::regex re(pattern);
    for (;;) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{watch.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buf[4096];
      while (::read(watch.get(), buf, sizeof(buf)) > 0) {
      }
    }
  }

  void keep() { keep_ = true; }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path root_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool keep_ = false;
};

}  // namespace xpc::test
