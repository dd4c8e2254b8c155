// Runs a real program (argv[0], looked up in PATH) and collects its exit
// code, stdout and stderr, killing it and failing the test if it takes
// longer than `limit`. For tests that drive real clients (xpcctl, busctl).
#pragma once

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

extern char** environ;

namespace xpc::test {

struct Run {
  int exit = -1;  // the exit status, or 128 + the signal that killed it
  std::string out;
  std::string err;
};

inline Run run_process(std::vector<std::string> argv, std::chrono::seconds limit) {
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  int out[2], err[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = -1;
  REQUIRE(posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  Run result;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int open = 2; open > 0;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) ::kill(pid, SIGKILL);
    REQUIRE_MESSAGE(left.count() > 0, argv[0] << " did not finish within " << limit.count() << " s");
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (auto& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      char buffer[4096];
      ssize_t n = ::read(p.fd, buffer, sizeof buffer);
      if (n > 0) {
        (&p == &fds[0] ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else {
        ::close(p.fd);
        p.fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  result.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace xpc::test
