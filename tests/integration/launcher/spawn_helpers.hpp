// Helpers for real-spawn tests: pipes, reads and waits with a deadline
// (poll, never sleep), /proc readers, and a child that says "ready" and then
// blocks so its /proc entry can be inspected.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "launcher/spawn.hpp"

namespace xpcd::launcher::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Every wait in these tests is bounded by this; a hang fails the test.
inline constexpr auto kDeadline = 10s;

struct Pipe {
  xpc::UniqueFd read, write;
};

inline Pipe make_pipe() {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  return {xpc::UniqueFd::adopt(fds[0]), xpc::UniqueFd::adopt(fds[1])};
}

inline int remaining_ms(Clock::time_point end) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Reads until EOF, or until `until` appears in what was read.
inline std::string read_until(int fd, const std::string& until = {}) {
  std::string out;
  auto end = Clock::now() + kDeadline;
  for (;;) {
    if (!until.empty() && out.find(until) != std::string::npos) return out;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, remaining_ms(end));
    REQUIRE_MESSAGE(n == 1, "timed out reading; got so far: " << out);
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof buf);
    REQUIRE(got >= 0);
    if (got == 0) return out;
    out.append(buf, static_cast<size_t>(got));
  }
}

// Waits for the child's exit through its pidfd and reaps it.
inline siginfo_t wait_exit(const Spawned& s) {
  pollfd p{s.pidfd.get(), POLLIN, 0};
  REQUIRE_MESSAGE(poll(&p, 1, remaining_ms(Clock::now() + kDeadline)) == 1, "child " << s.pid << " did not exit");
  siginfo_t info{};
  REQUIRE(waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s.pidfd.get()), &info, WEXITED) == 0);
  CHECK(info.si_pid == s.pid);
  return info;
}

inline int exit_status(const Spawned& s) {
  siginfo_t info = wait_exit(s);
  REQUIRE(info.si_code == CLD_EXITED);
  return info.si_status;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "Key:\t..." in /proc/PID/status, whitespace-normalised.
inline std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream words(line.substr(key.size() + 1));
    std::string word, out;
    while (words >> word) out += (out.empty() ? "" : " ") + word;
    return out;
  }
  return "(missing)";
}

// The open fds listed in a /proc/PID/fd directory, ascending, as "0 1 2".
inline std::string open_fds(const std::string& proc_fd_dir) {
  std::set<int> fds;
  for (const auto& e : std::filesystem::directory_iterator(proc_fd_dir)) fds.insert(std::stoi(e.path().filename()));
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : " ") + std::to_string(fd);
  return out;
}

inline std::string fd_target(pid_t pid, int fd) {
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
}

// A plan for /bin/sh -c SCRIPT with stdout into a pipe the test reads,
// stdin from /dev/null and stderr shared with the test.
struct ShellPlan {
  Pipe out = make_pipe();
  SpawnPlan plan;
  explicit ShellPlan(const std::string& script) {
    plan.label = "test";
    plan.executable = "/bin/sh";
    plan.argv = {"sh", "-c", script};
    plan.envp = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    plan.stdio[1] = DupFd{out.write.get()};
    plan.stdio[2] = DupFd{STDERR_FILENO};
  }
  // Spawns, closes the test's copy of the write end, reads all output.
  std::string run(int expected_status = 0) {
    auto s = spawn(plan);
    REQUIRE_MESSAGE(s, s.error().message());
    out.write.reset();
    std::string text = read_until(out.read.get());
    CHECK(exit_status(*s) == expected_status);
    return text;
  }
};

// A child that prints "ready" once set up and then blocks reading stdin
// until the test closes it: its /proc entry is stable while it waits.
struct BlockedChild {
  Pipe in = make_pipe();
  ShellPlan shell{"echo ready; read x"};
  Spawned spawned;
  explicit BlockedChild(void (*adjust)(SpawnPlan&) = nullptr) {
    shell.plan.stdio[0] = DupFd{in.read.get()};
    if (adjust != nullptr) adjust(shell.plan);
  }
  void start() {
    auto s = spawn(shell.plan);
    REQUIRE_MESSAGE(s, s.error().message());
    spawned = std::move(*s);
    shell.out.write.reset();
    in.read.reset();
    CHECK(read_until(shell.out.read.get(), "\n") == "ready\n");
  }
  pid_t pid() const { return spawned.pid; }
  std::string proc(const std::string& name) const { return "/proc/" + std::to_string(pid()) + "/" + name; }
  void finish() {
    in.write.reset();  // EOF on the child's stdin: read fails, sh exits 1
    CHECK(exit_status(spawned) == 1);
  }
};

// A fresh directory under /tmp, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/xpcd-launcher-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace xpcd::launcher::test
