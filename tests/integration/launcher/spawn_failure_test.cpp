// spawn() failures: each stage reports its stage, errno and subject, the
// failed child is reaped, and the message reads as the daemon will log it.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <functional>

#include "spawn_helpers.hpp"

namespace xpcd::launcher::test {
namespace {

SpawnError fails(const SpawnPlan& plan) {
  auto s = spawn(plan);
  REQUIRE_MESSAGE(!s, "spawn succeeded, pid " << s->pid);
  // The failed child was reaped by spawn(): nothing is left to wait for.
  siginfo_t info{};
  CHECK(waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == -1);
  CHECK(errno == ECHILD);
  return std::move(s).error();
}

// Runs `body` in a forked copy of this test process whose effective
// capabilities lack `cap` (the test runs as root), and returns what the
// body returned. Forking the test is fine; it is the daemon that must not.
std::string without_capability(int cap, const std::function<std::string()>& body) {
  Pipe result = make_pipe();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) _exit(2);
    data[cap / 32].effective &= ~(1u << (cap % 32));
    if (syscall(SYS_capset, &header, data) != 0) _exit(3);
    std::string text = body();
    ssize_t n = write(result.write.get(), text.data(), text.size());
    _exit(n == static_cast<ssize_t>(text.size()) ? 0 : 4);
  }
  result.write.reset();
  std::string text = read_until(result.read.get());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(status == 0);
  return text;
}

std::string describe(const SpawnError& e) {
  return std::string(to_string(e.stage)) + " " + std::to_string(e.error) + ": " + e.message();
}

}  // namespace

TEST_CASE("a missing executable fails at exec with ENOENT") {
  ShellPlan sh("true");
  sh.plan.executable = "/usr/bin/nope";
  SpawnError e = fails(sh.plan);
  CHECK(e.stage == SpawnStage::exec);
  CHECK(e.error == ENOENT);
  CHECK(e.message() == "cannot exec /usr/bin/nope: No such file or directory");
}

TEST_CASE("a file without execute permission fails at exec with EACCES, even for root") {
  TempDir dir;
  std::filesystem::path script = dir.path / "script";
  std::ofstream(script) << "#!/bin/sh\n";
  std::filesystem::permissions(script, std::filesystem::perms(0644));
  ShellPlan sh("true");
  sh.plan.executable = script;
  SpawnError e = fails(sh.plan);
  CHECK(e.stage == SpawnStage::exec);
  CHECK(e.error == EACCES);
  CHECK(e.message() == "cannot exec " + script.string() + ": Permission denied");
  SUBCASE("a PATH search reports EACCES over a later ENOENT, as execvp does") {
    sh.plan.executable = "script";
    sh.plan.search_path = dir.path.string() + ":/nonexistent";
    SpawnError s = fails(sh.plan);
    CHECK(s.error == EACCES);
    CHECK(s.subject == script);
  }
  SUBCASE("a PATH search that finds nothing reports ENOENT") {
    sh.plan.executable = "no-such-command";
    sh.plan.search_path = "/nonexistent:/bin";
    SpawnError s = fails(sh.plan);
    CHECK(s.error == ENOENT);
    CHECK(s.message() == "cannot exec /bin/no-such-command: No such file or directory");
  }
}

TEST_CASE("a missing working directory fails at chdir, a missing root at chroot") {
  ShellPlan sh("true");
  SUBCASE("cwd") {
    sh.plan.cwd = "/nonexistent/dir";
    SpawnError e = fails(sh.plan);
    CHECK(describe(e) == "chdir 2: cannot change directory to /nonexistent/dir: No such file or directory");
  }
  SUBCASE("root") {
    sh.plan.root_directory = "/nonexistent/root";
    SpawnError e = fails(sh.plan);
    CHECK(describe(e) == "chroot 2: cannot change root directory to /nonexistent/root: No such file or directory");
  }
}

TEST_CASE("a Standard*Path that cannot be opened fails at stdio, naming the stream") {
  ShellPlan sh("true");
  sh.plan.stdio[2] = OpenPath{"/nonexistent/err.log", O_WRONLY | O_CREAT | O_APPEND, 0644};
  SpawnError e = fails(sh.plan);
  CHECK(describe(e) == "stdio 2: cannot open /nonexistent/err.log for standard error: No such file or directory");
  CHECK(e.index == 2);
}

TEST_CASE("a closed parent fd fails at fds with EBADF, naming the child fd") {
  ShellPlan sh("true");
  sh.plan.fds = {{1000, 3}};  // nothing is open at 1000
  SpawnError e = fails(sh.plan);
  CHECK(describe(e) == "fds 9: cannot pass file descriptor 3: Bad file descriptor");
}

TEST_CASE("a soft limit above the hard limit fails at rlimit with EINVAL") {
  ShellPlan sh("true");
  sh.plan.rlimits = {{RLIMIT_NOFILE, 300, 200}};
  SpawnError e = fails(sh.plan);
  CHECK(describe(e) == "rlimit 22: cannot set resource limit NumberOfFiles: Invalid argument");
}

TEST_CASE("two sources for one child fd are refused before cloning") {
  ShellPlan sh("true");
  sh.plan.fds = {{0, 3}, {1, 3}};
  SpawnError e = fails(sh.plan);
  CHECK(e.stage == SpawnStage::prepare);
  CHECK(e.error == EINVAL);
}

TEST_CASE("credential changes the daemon is not allowed to make fail at their stage") {
  auto run = [](SpawnPlan plan) {
    auto s = spawn(plan);
    return s ? std::string("spawned") : describe(s.error());
  };
  SUBCASE("without CAP_SETUID: setgroups and setgid succeed, setuid fails") {
    std::string got = without_capability(CAP_SETUID, [&] {
      ShellPlan sh("true");
      sh.plan.credentials = Credentials{65534, 65534, {65534}, "nobody", "nogroup"};
      return run(sh.plan);
    });
    CHECK(got == "setuid 1: cannot switch to user 'nobody': Operation not permitted");
  }
  SUBCASE("without CAP_SETGID: setgroups fails first") {
    std::string got = without_capability(CAP_SETGID, [&] {
      ShellPlan sh("true");
      sh.plan.credentials = Credentials{65534, 65534, {65534}, "nobody", "nogroup"};
      return run(sh.plan);
    });
    CHECK(got == "setgroups 1: cannot set the supplementary groups of user 'nobody': Operation not permitted");
  }
  SUBCASE("without CAP_SYS_NICE: a negative nice fails at nice") {
    std::string got = without_capability(CAP_SYS_NICE, [&] {
      ShellPlan sh("true");
      sh.plan.nice = -5;
      return run(sh.plan);
    });
    CHECK(got == "nice 13: cannot set nice value -5: Permission denied");
  }
}

}  // namespace xpcd::launcher::test
