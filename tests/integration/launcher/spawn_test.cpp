// spawn() with real processes: what the child gets is what the plan says.
// Children are Debian's /bin/sh and /usr/bin/env; every wait is a poll with
// a deadline on a pipe or the pidfd.
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <iterator>
#include <thread>
#include <vector>

#include "fd_count.hpp"
#include "launcher/limits.hpp"
#include "launcher/plan_builder.hpp"
#include "spawn_helpers.hpp"

namespace xpcd::launcher::test {

TEST_CASE("the child gets exactly the planned argv and environment") {
  SUBCASE("argv") {
    ShellPlan sh(R"(printf '%s|' "$0" "$@")");
    sh.plan.argv.insert(sh.plan.argv.end(), {"zero", "one", "two words", ""});
    CHECK(sh.run() == "zero|one|two words||");
  }
  SUBCASE("envp, and nothing of the test's own environment") {
    ShellPlan sh("");
    sh.plan.executable = "/usr/bin/env";
    sh.plan.argv = {"env"};
    sh.plan.envp = {"A=1", "B=two words", "EMPTY="};
    CHECK(sh.run() == "A=1\nB=two words\nEMPTY=\n");
  }
}

TEST_CASE("a bare command name is found in the plan's search path, execvp-style") {
  ShellPlan sh("echo found");
  sh.plan.executable = "sh";
  sh.plan.search_path = "relative:/nonexistent:/usr/bin:/bin";
  CHECK(sh.run() == "found\n");
}

TEST_CASE(
    "a job with Sockets gets them at 3.. with LISTEN_FDS, LISTEN_FDNAMES, its own pid in LISTEN_PID (and in "
    "WATCHDOG_PID with WatchdogSec), and the checkin channel after them") {
  int a[2], b[2], c[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c) == 0);
  xpc::UniqueFd owned[] = {xpc::UniqueFd::adopt(a[0]), xpc::UniqueFd::adopt(a[1]), xpc::UniqueFd::adopt(b[0]),
                           xpc::UniqueFd::adopt(b[1]), xpc::UniqueFd::adopt(c[0]), xpc::UniqueFd::adopt(c[1])};
  Pipe out = make_pipe();
  SystemResolver resolver;
  SpawnContext ctx;
  ctx.resolver = &resolver;
  ctx.socket_fds = {a[0], b[0]};
  ctx.checkin_fd = c[0];
  ctx.default_output_fd = out.write.get();
  manifest::JobSpec job;
  job.label = "com.example.sockets";
  job.program = "/bin/sh";
  // The child prints its variables, its pid, and what fds 3-5 are.
  job.arguments = {"sh", "-c",
                   R"(echo "$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES $XPCD_CHECKIN_FD $WATCHDOG_PID $WATCHDOG_USEC";)"
                   R"(for n in 3 4 5; do readlink /proc/$$/fd/$n; done)"};
  job.sockets = {manifest::SocketSpec{.group = "web"}, manifest::SocketSpec{.group = "admin"}};
  job.watchdog_sec = 1.25;
  auto plan = make_spawn_plan(job, ctx);
  REQUIRE_MESSAGE(plan, plan.error().message());
  auto s = spawn(*plan);
  REQUIRE_MESSAGE(s, s.error().message());
  out.write.reset();
  std::string pid = std::to_string(s->pid);
  std::string expected = pid + " " + pid + " 2 web:admin 5 " + pid + " 1250000\n" + fd_target(getpid(), a[0]) + "\n" +
                         fd_target(getpid(), b[0]) + "\n" + fd_target(getpid(), c[0]) + "\n";
  CHECK(read_until(out.read.get()) == expected);
  CHECK(exit_status(*s) == 0);
}

TEST_CASE("only the planned fds reach the child, even swapped, and even fds the daemon left without CLOEXEC") {
  // Two fds at known numbers, to be swapped, and one without CLOEXEC.
  Pipe p1 = make_pipe(), p2 = make_pipe();
  REQUIRE(dup3(p1.read.get(), 50, O_CLOEXEC) == 50);
  REQUIRE(dup3(p2.read.get(), 51, O_CLOEXEC) == 51);
  xpc::UniqueFd fd50 = xpc::UniqueFd::adopt(50), fd51 = xpc::UniqueFd::adopt(51);
  xpc::UniqueFd leaky = xpc::UniqueFd::adopt(dup(p1.write.get()));  // dup(): no CLOEXEC
  REQUIRE(leaky);
  REQUIRE((fcntl(leaky.get(), F_GETFD) & FD_CLOEXEC) == 0);

  static int s_fds[2];
  s_fds[0] = 50;
  s_fds[1] = 51;
  BlockedChild child([](SpawnPlan& plan) { plan.fds = {{s_fds[0], 51}, {s_fds[1], 50}, {s_fds[0], 3}}; });
  child.start();
  CHECK(open_fds(child.proc("fd")) == "0 1 2 3 50 51");
  CHECK(fd_target(child.pid(), 51) == fd_target(getpid(), 50));
  CHECK(fd_target(child.pid(), 50) == fd_target(getpid(), 51));
  CHECK(fd_target(child.pid(), 3) == fd_target(getpid(), 50));
  // The passed fds are not CLOEXEC in the child (they survived exec), and
  // stdio points where the plan said.
  CHECK(fd_target(child.pid(), 0) == fd_target(getpid(), child.in.write.get()));
  CHECK(fd_target(child.pid(), 1) == fd_target(getpid(), child.shell.out.read.get()));
  child.finish();
}

TEST_CASE(
    "kMaxPassedFds fds really reach the child at 3.. (the child needs room above them for its "
    "temporaries)") {
  static Pipe s_pipe;
  s_pipe = make_pipe();
  BlockedChild child([](SpawnPlan& plan) {
    for (int i = 0; i < static_cast<int>(limits::kMaxPassedFds); ++i) plan.fds.push_back({s_pipe.read.get(), 3 + i});
  });
  child.start();
  std::string expected = "0 1 2";
  for (size_t i = 0; i < limits::kMaxPassedFds; ++i) expected += " " + std::to_string(3 + i);
  CHECK(open_fds(child.proc("fd")) == expected);
  CHECK(fd_target(child.pid(), static_cast<int>(2 + limits::kMaxPassedFds)) == fd_target(getpid(), s_pipe.read.get()));
  child.finish();
  s_pipe = {};
}

TEST_CASE("spawns from two threads at once each get their own child and report") {
  auto worker = [](std::string* failures) -> void {
    for (int i = 0; i < 20; ++i) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) return void(failures->append("pipe "));
      xpc::UniqueFd r = xpc::UniqueFd::adopt(fds[0]), w = xpc::UniqueFd::adopt(fds[1]);
      SpawnPlan plan;
      plan.executable = i % 2 == 0 ? "/bin/sh" : "/nonexistent";
      plan.argv = {"sh", "-c", "echo $$"};
      plan.stdio[1] = DupFd{w.get()};
      auto s = spawn(plan);
      w.reset();
      if (i % 2 == 1) {
        if (s || s.error().error != ENOENT) failures->append("expected ENOENT ");
        continue;
      }
      if (!s) return void(failures->append(s.error().message() + " "));
      std::string out;
      char buf[64];
      for (ssize_t n; (n = read(r.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
      siginfo_t info{};
      waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s->pidfd.get()), &info, WEXITED);
      if (out != std::to_string(s->pid) + "\n" || info.si_status != 0) failures->append("bad child ");
    }
  };
  std::string f1, f2;
  std::thread t1(worker, &f1), t2(worker, &f2);
  t1.join();
  t2.join();
  CHECK(f1 == "");
  CHECK(f2 == "");
}

TEST_CASE("stdio goes to the planned files: input read, outputs appended and created with the plan's mode") {
  TempDir dir;
  std::filesystem::path in = dir.path / "in", out = dir.path / "out", err = dir.path / "err";
  std::ofstream(in) << "from a file\n";
  std::ofstream(out) << "kept\n";
  ShellPlan sh("cat; echo to-err >&2");
  sh.plan.stdio[0] = OpenPath{in, O_RDONLY, 0};
  sh.plan.stdio[1] = OpenPath{out, O_WRONLY | O_CREAT | O_APPEND, 0640};
  sh.plan.stdio[2] = OpenPath{err, O_WRONLY | O_CREAT | O_APPEND, 0640};
  CHECK(sh.run() == "");  // the pipe saw nothing: stdout went to the file
  CHECK(slurp(out) == "kept\nfrom a file\n");
  CHECK(slurp(err) == "to-err\n");
  struct stat st {};
  REQUIRE(stat(err.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("cwd, umask, nice, rlimits and a new session are applied; signals start default and unblocked") {
  // The test's own state, which the child must not inherit.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
  struct sigaction ign {
  }, old_pipe{};
  ign.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGPIPE, &ign, &old_pipe) == 0);

  BlockedChild child([](SpawnPlan& plan) {
    plan.cwd = "/usr/share";
    plan.umask = 027;
    plan.nice = 7;
    plan.rlimits = {{RLIMIT_NOFILE, 100, 200}, {RLIMIT_CORE, 0, std::nullopt}};
  });
  rlimit core_before{};
  REQUIRE(getrlimit(RLIMIT_CORE, &core_before) == 0);
  child.start();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);

  CHECK(std::filesystem::read_symlink(child.proc("cwd")) == "/usr/share");
  CHECK(status_field(child.pid(), "Umask") == "0027");
  CHECK(status_field(child.pid(), "SigBlk") == "0000000000000000");
  CHECK((std::stoull(status_field(child.pid(), "SigIgn"), nullptr, 16) & (1ULL << (SIGPIPE - 1))) == 0);
  rlimit nofile{}, core{};
  REQUIRE(prlimit(child.pid(), RLIMIT_NOFILE, nullptr, &nofile) == 0);
  CHECK(nofile.rlim_cur == 100);
  CHECK(nofile.rlim_max == 200);
  REQUIRE(prlimit(child.pid(), RLIMIT_CORE, nullptr, &core) == 0);
  CHECK(core.rlim_cur == 0);
  CHECK(core.rlim_max == core_before.rlim_max);  // the unset side is inherited
  // /proc/PID/stat: "pid (comm) state ppid pgrp session ... nice" (fields 5, 6, 19).
  std::string stat = slurp(child.proc("stat"));
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  REQUIRE(f.size() > 17);
  CHECK(f[2] == std::to_string(child.pid()));  // process group
  CHECK(f[3] == std::to_string(child.pid()));  // session: setsid happened
  CHECK(f[16] == "7");                         // nice
  child.finish();
}

TEST_CASE("a child runs inside its RootDirectory") {
  TempDir root;
  for (const char* file : {"/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}) {
    std::filesystem::path dest = root.path / (file + 1);
    std::filesystem::create_directories(dest.parent_path());
    std::filesystem::copy_file(std::filesystem::canonical(file), dest);
    std::filesystem::permissions(dest, std::filesystem::perms(0755));
  }
  std::filesystem::create_directories(root.path / "work");
  static std::string s_root;
  s_root = root.path;
  BlockedChild child([](SpawnPlan& plan) {
    plan.root_directory = s_root;
    plan.cwd = "/work";
    plan.stdio[2] = OpenPath{"/dev/null", O_WRONLY, 0};  // opened before chroot
  });
  child.start();
  CHECK(std::filesystem::read_symlink(child.proc("root")) == root.path);
  CHECK(std::filesystem::read_symlink(child.proc("cwd")) == root.path / "work");
  child.finish();
}

TEST_CASE("credentials: the child runs as nobody with exactly the planned supplementary groups") {
  SUBCASE("an explicit plan") {
    BlockedChild child([](SpawnPlan& plan) {
      plan.credentials = Credentials{65534, 65534, {100, 65534}, "nobody", ""};
    });
    child.start();
    CHECK(status_field(child.pid(), "Uid") == "65534 65534 65534 65534");
    CHECK(status_field(child.pid(), "Gid") == "65534 65534 65534 65534");
    CHECK(status_field(child.pid(), "Groups") == "100 65534");
    child.finish();
  }
  SUBCASE("an empty group list drops the daemon's groups") {
    gid_t extra[] = {4, 27};
    REQUIRE(setgroups(2, extra) == 0);  // the test process (single-threaded here) now has groups
    BlockedChild child([](SpawnPlan& plan) { plan.credentials = Credentials{65534, 65534, {}, "nobody", ""}; });
    child.start();
    REQUIRE(setgroups(0, nullptr) == 0);
    CHECK(status_field(child.pid(), "Groups") == "");
    CHECK(status_field(getpid(), "Uid") == "0 0 0 0");  // the parent's identity is untouched
    child.finish();
  }
  SUBCASE("from a manifest with UserName, through the real user database") {
    manifest::JobSpec job;
    job.program = "/usr/bin/env";
    job.user_name = "nobody";
    SystemResolver resolver;
    SpawnContext ctx;
    ctx.resolver = &resolver;
    Pipe out = make_pipe();
    ctx.default_output_fd = out.write.get();
    auto plan = make_spawn_plan(job, ctx);
    REQUIRE_MESSAGE(plan, plan.error().message());
    REQUIRE(plan->credentials);
    CHECK(plan->credentials->groups == std::vector<gid_t>{65534});
    auto s = spawn(*plan);
    REQUIRE_MESSAGE(s, s.error().message());
    out.write.reset();
    std::string env = read_until(out.read.get());
    CHECK(env.find("USER=nobody\n") != std::string::npos);
    CHECK(env.find("HOME=/nonexistent\n") != std::string::npos);
    CHECK(exit_status(*s) == 0);
  }
}

TEST_CASE("a plan asking for another user in a user domain is refused before anything runs") {
  manifest::JobSpec job;
  job.program = "/bin/true";
  job.user_name = "nobody";
  SystemResolver resolver;
  SpawnContext ctx;
  ctx.resolver = &resolver;
  ctx.domain = Domain::user;
  ctx.self_uid = 1000;
  ctx.self_gid = 1000;
  auto plan = make_spawn_plan(job, ctx);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().code == PlanErrc::credentials_refused);
  CHECK(plan.error().message() ==
        "UserName: 'nobody' is not this user domain's own user (UserName, GroupName and InitGroups are honoured "
        "only in the system domain)");
}

TEST_CASE("the pidfd reports the child's exit status or the signal that killed it") {
  SUBCASE("exit status") {
    ShellPlan sh("exit 7");
    auto s = spawn(sh.plan);
    REQUIRE(s);
    CHECK(s->pidfd.valid());
    CHECK((fcntl(s->pidfd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(exit_status(*s) == 7);
  }
  SUBCASE("killed") {
    ShellPlan sh("kill -TERM $$");
    auto s = spawn(sh.plan);
    REQUIRE(s);
    siginfo_t info = wait_exit(*s);
    CHECK(info.si_code == CLD_KILLED);
    CHECK(info.si_status == SIGTERM);
  }
}

TEST_CASE("spawning leaks no fd into the daemon, whether the child execs or fails") {
  int before = xpc::test::open_fd_count();
  {
    ShellPlan ok("true");
    ok.run();
    ShellPlan bad("true");
    bad.plan.executable = "/nonexistent";
    CHECK_FALSE(spawn(bad.plan));
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("a daemon with a large heap still spawns: nothing copies its address space") {
  // 256 MiB touched, the figure of DESIGN 11; fork() would have to copy its
  // page tables for each spawn. CLONE_VM shares them.
  std::vector<char> heap(256u << 20);
  for (size_t i = 0; i < heap.size(); i += 4096) heap[i] = static_cast<char>(i);
  for (int i = 0; i < 20; ++i) {
    ShellPlan sh("echo $$");
    auto s = spawn(sh.plan);
    REQUIRE_MESSAGE(s, s.error().message());
    sh.out.write.reset();
    CHECK(read_until(sh.out.read.get()) == std::to_string(s->pid) + "\n");
    CHECK(exit_status(*s) == 0);
  }
  CHECK(heap[4096] == static_cast<char>(4096));  // the child never wrote to it
}

}  // namespace xpcd::launcher::test
