// Child processes for the echo tests: spawn a program with an environment,
// collect its stdout and stderr, wait for its exit with a deadline (a pidfd
// in poll, never a sleep). Test-only.
#pragma once

#include <xpc/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace xpc::test {

using Env = std::map<std::string, std::string>;

// This process's environment with `changes` applied (an empty value unsets).
inline std::vector<std::string> make_env(const Env& changes) {
  Env all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) all[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : changes) {
    if (v.empty()) {
      all.erase(k);
    } else {
      all[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A running child with its output pipes (read ends, CLOEXEC).
struct Child {
  pid_t pid = -1;
  UniqueFd pidfd, out, err;
};

enum class Output { Capture, Inherit };

// Spawns argv with the environment `env`. `dup_to` maps parent fds to the
// child's fd numbers (dup2 clears CLOEXEC there, so exactly these are
// inherited). Output::Inherit leaves stdout and stderr the test's own (a
// long-lived child whose output nobody reads must not fill a pipe).
// Returns pid -1 when posix_spawn fails.
inline Child spawn(std::vector<std::string> argv, const Env& env, std::map<int, int> dup_to = {},
                   Output output = Output::Capture) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output == Output::Capture) {
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  }
  for (const auto& [from, to] : dup_to) posix_spawn_file_actions_adddup2(&actions, from, to);
  std::vector<std::string> envs = make_env(env);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(envs);
  Child child;
  int rc = posix_spawn(&child.pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  child.out = UniqueFd::adopt(out[0]);
  child.err = UniqueFd::adopt(err[0]);
  if (rc != 0) {
    child.pid = -1;
    return child;
  }
  child.pidfd = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
  return child;
}

// True when the child has not exited yet (it is not reaped).
inline bool running(const Child& child) {
  pollfd p{child.pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// Waits until the child exits or the deadline passes; reaps it. Returns
// the wait status, or -1 after the deadline (the child is then killed).
inline int wait_exit(Child& child, std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono;
  auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
  pollfd p{child.pidfd.get(), POLLIN, 0};
  bool exited = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) == 1;
  if (!exited) ::kill(child.pid, SIGKILL);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  return exited ? status : -1;
}

struct Finished {
  pid_t pid = -1;
  int exit_code = -1;  // -1: killed by a signal or by the deadline
  std::string out, err;
  std::chrono::milliseconds took{0};
};

// Reads the child's stdout and stderr to EOF and waits for its exit, all
// within `timeout`.
inline Finished finish(Child& child, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  using namespace std::chrono;
  auto start = steady_clock::now();
  auto deadline = start + timeout;
  Finished f;
  f.pid = child.pid;
  std::string* sinks[2] = {&f.out, &f.err};
  pollfd p[2] = {{child.out.get(), POLLIN, 0}, {child.err.get(), POLLIN, 0}};
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0 || ::poll(p, 2, static_cast<int>(left)) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        p[i].fd = -1;  // EOF
      }
    }
  }
  int status = wait_exit(child, deadline);
  f.took = duration_cast<milliseconds>(steady_clock::now() - start);
  if (status != -1 && WIFEXITED(status)) f.exit_code = WEXITSTATUS(status);
  return f;
}

inline Finished run(std::vector<std::string> argv, const Env& env,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  Child child = spawn(std::move(argv), env);
  if (child.pid < 0) return {};
  return finish(child, timeout);
}

}  // namespace xpc::test
