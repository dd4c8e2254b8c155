// make_spawn_plan as a pure function: JobSpec and context in, SpawnPlan or
// PlanError out. No process is started here (see tests/integration/launcher).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "fake_resolver.hpp"
#include "launcher/limits.hpp"
#include "launcher/plan_builder.hpp"
#include "manifest/limits.hpp"

namespace xpcd::launcher::test {
namespace {

using manifest::JobSpec;
using manifest::SocketSpec;

JobSpec job(std::vector<std::string> args = {"/usr/bin/srv", "-v"}) {
  JobSpec j;
  j.label = "com.example.srv";
  j.program = args.front();
  j.arguments = std::move(args);
  return j;
}

struct Fixture {
  FakeResolver resolver = standard_resolver();
  SpawnContext ctx;
  Fixture() {
    ctx.resolver = &resolver;
    ctx.default_output_fd = 9;
  }
  xpc::Result<SpawnPlan, PlanError> plan(const JobSpec& j) const { return make_spawn_plan(j, ctx); }
  SpawnPlan ok(const JobSpec& j) const {
    auto r = plan(j);
    if (!r) FAIL(r.error().message());
    return std::move(r).value();
  }
  std::string error(const JobSpec& j) const {
    auto r = plan(j);
    if (r) return "(no error)";
    return r.error().message();
  }
};

std::string kPathEntry = std::string("PATH=") + kDefaultPath;

}  // namespace

TEST_CASE(
    "a minimal job runs its ProgramArguments in a new session from /, with umask 022, stdin from "
    "/dev/null and output to the daemon's log") {
  Fixture f;
  SpawnPlan p = f.ok(job());
  CHECK(p.label == "com.example.srv");
  CHECK(p.executable == "/usr/bin/srv");
  CHECK(p.search_path.empty());
  CHECK(p.argv == std::vector<std::string>{"/usr/bin/srv", "-v"});
  CHECK(p.envp == std::vector<std::string>{kPathEntry});
  CHECK(p.pid_env_names.empty());
  CHECK(p.cwd == "/");
  CHECK(p.root_directory.empty());
  CHECK(p.umask == 022);
  CHECK_FALSE(p.nice);
  CHECK(p.rlimits.empty());
  CHECK_FALSE(p.credentials);
  CHECK(p.stdio[0] == StdioSource(OpenPath{"/dev/null", O_RDONLY, 0}));
  CHECK(p.stdio[1] == StdioSource(DupFd{9}));
  CHECK(p.stdio[2] == StdioSource(DupFd{9}));
  CHECK(p.fds.empty());
  CHECK(p.session == SessionMode::new_session);
}

TEST_CASE("without a default output fd, stdout and stderr go to /dev/null") {
  Fixture f;
  f.ctx.default_output_fd = -1;
  SpawnPlan p = f.ok(job());
  CHECK(p.stdio[1] == StdioSource(OpenPath{"/dev/null", O_WRONLY, 0}));
  CHECK(p.stdio[2] == StdioSource(OpenPath{"/dev/null", O_WRONLY, 0}));
}

TEST_CASE("Program without ProgramArguments runs with argv {Program}") {
  Fixture f;
  JobSpec j = job();
  j.arguments.clear();
  CHECK(f.ok(j).argv == std::vector<std::string>{"/usr/bin/srv"});
}

TEST_CASE("programs: absolute, bare names searched in the job's PATH, relative refused, missing refused") {
  Fixture f;
  SUBCASE("a bare command name is searched in the default PATH") {
    SpawnPlan p = f.ok(job({"sh", "-c", "true"}));
    CHECK(p.executable == "sh");
    CHECK(p.search_path == kDefaultPath);
  }
  SUBCASE("the job's own PATH is the one searched") {
    JobSpec j = job({"sh"});
    j.environment["PATH"] = "/opt/bin:/bin";
    CHECK(f.ok(j).search_path == "/opt/bin:/bin");
  }
  SUBCASE("a relative path with a slash is refused") {
    CHECK(f.error(job({"bin/srv"})) == "Program: 'bin/srv' is not an absolute path nor a bare command name");
    auto r = f.plan(job({"./srv"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == PlanErrc::relative_program);
  }
  SUBCASE("no program at all") {
    JobSpec j;
    CHECK(f.error(j) == "Program: no program to run");
  }
  SUBCASE("a NUL byte in an argument") {
    CHECK(f.error(job({"/bin/x", std::string("a\0b", 3)})) ==
          "ProgramArguments: invalid value: an argument contains a NUL byte");
  }
}

TEST_CASE(
    "environment: manifest over context defaults over the default PATH; xpcd's variables win and "
    "cannot be overridden") {
  Fixture f;
  f.ctx.default_environment = {{"HOME", "/home/u"}, {"LANG", "C.UTF-8"}, {"PATH", "/ctx/bin"}};
  f.ctx.environment = {{"XPC_SERVICE_NAME", "com.example.srv"}, {"NOTIFY_SOCKET", "/run/xpcd/notify"}};
  JobSpec j = job();
  j.environment = {{"LANG", "fr_FR.UTF-8"}, {"A", "1"}};
  SUBCASE("layers, sorted by name") {
    CHECK(f.ok(j).envp == std::vector<std::string>{"A=1", "HOME=/home/u", "LANG=fr_FR.UTF-8",
                                                   "NOTIFY_SOCKET=/run/xpcd/notify", "PATH=/ctx/bin",
                                                   "XPC_SERVICE_NAME=com.example.srv"});
  }
  SUBCASE("a context variable is reserved") {
    j.environment["NOTIFY_SOCKET"] = "/tmp/mine";
    CHECK(f.error(j) == "EnvironmentVariables: 'NOTIFY_SOCKET' is set by xpcd and cannot be overridden");
  }
  SUBCASE("the fd protocol variables are reserved even when unused") {
    for (const char* name :
         {"XPCD_CHECKIN_FD", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "WATCHDOG_USEC", "WATCHDOG_PID"}) {
      CAPTURE(name);
      JobSpec k = job();
      k.environment[name] = "1";
      auto r = f.plan(k);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == PlanErrc::reserved_environment);
    }
  }
  SUBCASE("bad names") {
    j.environment["A=B"] = "1";
    CHECK(f.error(j) == "EnvironmentVariables: invalid variable name 'A=B'");
    JobSpec k = job();
    k.environment[""] = "1";
    CHECK(f.plan(k).error().code == PlanErrc::bad_environment_name);
  }
}

TEST_CASE(
    "Sockets fds go to 3.. in manifest order, then the checkin channel, with LISTEN_* and "
    "XPCD_CHECKIN_FD") {
  Fixture f;
  JobSpec j = job();
  SUBCASE("sockets and a checkin channel") {
    j.sockets = {SocketSpec{.group = "Listeners"}, SocketSpec{.group = "Listeners"}, SocketSpec{.group = "Admin"}};
    f.ctx.socket_fds = {20, 21, 22};
    f.ctx.checkin_fd = 30;
    SpawnPlan p = f.ok(j);
    CHECK(p.fds == std::vector<FdAction>{{20, 3}, {21, 4}, {22, 5}, {30, 6}});
    CHECK(p.envp == std::vector<std::string>{"LISTEN_FDNAMES=Listeners:Listeners:Admin", "LISTEN_FDS=3", kPathEntry,
                                             "XPCD_CHECKIN_FD=6"});
    CHECK(p.pid_env_names == std::vector<std::string>{"LISTEN_PID"});
  }
  SUBCASE("only a checkin channel: fd 3, no LISTEN_* at all") {
    f.ctx.checkin_fd = 30;
    SpawnPlan p = f.ok(j);
    CHECK(p.fds == std::vector<FdAction>{{30, 3}});
    CHECK(p.envp == std::vector<std::string>{kPathEntry, "XPCD_CHECKIN_FD=3"});
    CHECK(p.pid_env_names.empty());
  }
  SUBCASE("the glue must pass one fd per socket") {
    j.sockets = {SocketSpec{.group = "A"}};
    CHECK(f.error(j) == "Sockets: the daemon passed the wrong number of socket fds: 1 sockets, 0 fds");
  }
  SUBCASE("socket names must fit LISTEN_FDNAMES: 255 characters pass, 256 do not, nor ':'") {
    f.ctx.socket_fds = {20};
    j.sockets = {SocketSpec{.group = std::string(limits::kMaxSocketNameLength, 'n')}};
    CHECK(f.plan(j));
    j.sockets[0].group.push_back('n');
    CHECK(f.plan(j).error().code == PlanErrc::bad_socket_name);
    j.sockets[0].group = "a:b";
    CHECK(f.error(j) ==
          "Sockets: name 'a:b' cannot go in LISTEN_FDNAMES (expected 1 to 255 printable characters, no ':')");
  }
}

TEST_CASE("WatchdogSec gives WATCHDOG_USEC in microseconds and WATCHDOG_PID, after LISTEN_PID") {
  Fixture f;
  JobSpec j = job();
  SUBCASE("no WatchdogSec: neither") {
    SpawnPlan p = f.ok(j);
    CHECK(p.envp == std::vector<std::string>{kPathEntry});
    CHECK(p.pid_env_names.empty());
  }
  SUBCASE("fractional seconds") {
    j.watchdog_sec = 0.5;
    SpawnPlan p = f.ok(j);
    CHECK(p.envp == std::vector<std::string>{kPathEntry, "WATCHDOG_USEC=500000"});
    CHECK(p.pid_env_names == std::vector<std::string>{"WATCHDOG_PID"});
  }
  SUBCASE("the largest period, and a tiny one that must not read as off") {
    j.watchdog_sec = manifest::limits::kMaxWatchdogSec;
    CHECK(f.ok(j).envp == std::vector<std::string>{kPathEntry, "WATCHDOG_USEC=86400000000"});
    j.watchdog_sec = 1e-9;
    CHECK(f.ok(j).envp == std::vector<std::string>{kPathEntry, "WATCHDOG_USEC=1"});
  }
  SUBCASE("with fds to pass: both pid variables") {
    j.watchdog_sec = 2;
    j.sockets = {SocketSpec{.group = "web"}};
    f.ctx.socket_fds = {20};
    SpawnPlan p = f.ok(j);
    CHECK(p.envp == std::vector<std::string>{"LISTEN_FDNAMES=web", "LISTEN_FDS=1", kPathEntry, "WATCHDOG_USEC=2000000"});
    CHECK(p.pid_env_names == std::vector<std::string>{"LISTEN_PID", "WATCHDOG_PID"});
  }
}

TEST_CASE("at most kMaxPassedFds fds are passed: N pass, N+1 are refused") {
  Fixture f;
  JobSpec j = job();
  auto with_sockets = [&](size_t n) {
    j.sockets.assign(n, SocketSpec{.group = "s"});
    f.ctx.socket_fds.assign(n, 20);
  };
  SUBCASE("sockets alone") {
    with_sockets(limits::kMaxPassedFds);
    SpawnPlan p = f.ok(j);
    CHECK(p.fds.size() == limits::kMaxPassedFds);
    CHECK(p.fds.back().child_fd == static_cast<int>(2 + limits::kMaxPassedFds));
    with_sockets(limits::kMaxPassedFds + 1);
    CHECK(f.error(j) == "Sockets: too many fds to pass: 257 fds (at most 256)");
  }
  SUBCASE("the checkin channel counts") {
    f.ctx.checkin_fd = 30;
    with_sockets(limits::kMaxPassedFds - 1);
    CHECK(f.plan(j));
    with_sockets(limits::kMaxPassedFds);
    CHECK(f.plan(j).error().code == PlanErrc::too_many_fds);
  }
}

TEST_CASE("stored fds (FDSTORE) follow the Sockets fds, before the checkin channel, named in LISTEN_FDNAMES") {
  Fixture f;
  JobSpec j = job();
  f.ctx.stored_fds = {{40, "state"}, {41, "stored"}};
  SUBCASE("after the sockets, counted in LISTEN_FDS") {
    j.sockets = {SocketSpec{.group = "Listeners"}};
    f.ctx.socket_fds = {20};
    f.ctx.checkin_fd = 30;
    SpawnPlan p = f.ok(j);
    CHECK(p.fds == std::vector<FdAction>{{20, 3}, {40, 4}, {41, 5}, {30, 6}});
    CHECK(p.envp == std::vector<std::string>{"LISTEN_FDNAMES=Listeners:state:stored", "LISTEN_FDS=3", kPathEntry,
                                             "XPCD_CHECKIN_FD=6"});
    CHECK(p.pid_env_names == std::vector<std::string>{"LISTEN_PID"});
  }
  SUBCASE("a job without Sockets still gets LISTEN_FDS for its stored fds") {
    SpawnPlan p = f.ok(j);
    CHECK(p.fds == std::vector<FdAction>{{40, 3}, {41, 4}});
    CHECK(p.envp == std::vector<std::string>{"LISTEN_FDNAMES=state:stored", "LISTEN_FDS=2", kPathEntry});
    CHECK(p.pid_env_names == std::vector<std::string>{"LISTEN_PID"});
  }
  SUBCASE("a stored name that cannot go in LISTEN_FDNAMES is refused") {
    f.ctx.stored_fds[1].name = "a:b";
    CHECK(f.error(j) ==
          "FDNAME: name 'a:b' cannot go in LISTEN_FDNAMES (expected 1 to 255 printable characters, no ':')");
  }
}

TEST_CASE("fd names as systemd's fdname_is_valid, but not empty: 255 printable characters pass, 256 do not") {
  CHECK(fd_name_ok("stored"));
  CHECK(fd_name_ok(std::string(limits::kMaxSocketNameLength, 'n')));
  CHECK_FALSE(fd_name_ok(std::string(limits::kMaxSocketNameLength + 1, 'n')));
  CHECK(fd_name_ok(" ~!"));
  CHECK_FALSE(fd_name_ok(""));
  CHECK_FALSE(fd_name_ok("a:b"));
  CHECK_FALSE(fd_name_ok("tab\there"));
  CHECK_FALSE(fd_name_ok("del\x7f"));
  CHECK_FALSE(fd_name_ok("caf\xc3\xa9"));
}

TEST_CASE("stored fds count towards kMaxPassedFds with the sockets and the checkin channel: N pass, N+1 do not") {
  Fixture f;
  JobSpec j = job();
  f.ctx.checkin_fd = 30;
  const size_t store = manifest::limits::kMaxFileDescriptorStore;
  const size_t sockets = limits::kMaxPassedFds - 1 - store;  // the rest: the checkin channel
  j.sockets.assign(sockets, SocketSpec{.group = "s"});
  f.ctx.socket_fds.assign(sockets, 20);
  f.ctx.stored_fds.assign(store, {40, "stored"});
  SpawnPlan p = f.ok(j);
  CHECK(p.fds.size() == limits::kMaxPassedFds);
  CHECK(p.fds[sockets] == FdAction{40, static_cast<int>(3 + sockets)});
  CHECK(p.fds.back() == FdAction{30, static_cast<int>(2 + limits::kMaxPassedFds)});
  f.ctx.stored_fds.push_back({41, "stored"});
  CHECK(f.error(j) == "Sockets, FileDescriptorStoreMax: too many fds to pass: 257 fds, " + std::to_string(store + 1) +
                         " of them stored (at most 256)");
}

TEST_CASE("Standard*Path are opened by the child: stdin read-only, outputs appended and created 0666 & ~umask") {
  Fixture f;
  JobSpec j = job();
  j.stdin_path = "/etc/in";
  j.stdout_path = "/var/log/out";
  j.stderr_path = "/var/log/err";
  j.umask = 027;
  SpawnPlan p = f.ok(j);
  CHECK(p.stdio[0] == StdioSource(OpenPath{"/etc/in", O_RDONLY, 0}));
  CHECK(p.stdio[1] == StdioSource(OpenPath{"/var/log/out", O_WRONLY | O_CREAT | O_APPEND, 0640}));
  CHECK(p.stdio[2] == StdioSource(OpenPath{"/var/log/err", O_WRONLY | O_CREAT | O_APPEND, 0640}));
  j.stderr_path = "log/err";
  CHECK(f.error(j) == "StandardErrorPath: 'log/err' is not an absolute path");
}

TEST_CASE("WorkingDirectory, RootDirectory, Umask and Nice carry over; relative directories are refused") {
  Fixture f;
  JobSpec j = job();
  j.working_directory = "/srv/data";
  j.root_directory = "/srv/root";
  j.umask = 077;
  j.nice = -5;
  SpawnPlan p = f.ok(j);
  CHECK(p.cwd == "/srv/data");
  CHECK(p.root_directory == "/srv/root");
  CHECK(p.umask == 077);
  CHECK(p.nice == -5);
  SUBCASE("relative") {
    j.working_directory = "data";
    CHECK(f.error(j) == "WorkingDirectory: 'data' is not an absolute path");
    j.working_directory = "/";
    j.root_directory = "root";
    CHECK(f.plan(j).error().code == PlanErrc::relative_path);
  }
  SUBCASE("umask 0777 passes, 01000 does not") {
    j.umask = 0777;
    CHECK(f.plan(j));
    j.umask = 01000;
    CHECK(f.error(j) == "Umask: invalid value: 512");
  }
}

TEST_CASE("resource limits: each side optional, one Rlimit per resource, negatives refused") {
  Fixture f;
  JobSpec j = job();
  j.soft_limits.number_of_files = 100;
  j.hard_limits.number_of_files = 200;
  j.soft_limits.core = 0;
  j.hard_limits.stack = 1 << 20;
  SpawnPlan p = f.ok(j);
  CHECK(p.rlimits == std::vector<Rlimit>{{RLIMIT_CORE, 0, std::nullopt},
                                         {RLIMIT_NOFILE, 100, 200},
                                         {RLIMIT_STACK, std::nullopt, 1 << 20}});
  j.hard_limits.cpu = -1;
  CHECK(f.error(j) == "HardResourceLimits.CPU: invalid value: -1");
}

TEST_CASE("the open file limit xpcd started with is the jobs' soft default; a manifest's NumberOfFiles wins") {
  Fixture f;
  f.ctx.job_nofile_soft = 1024;
  JobSpec j = job();
  CHECK(f.ok(j).rlimits == std::vector<Rlimit>{{RLIMIT_NOFILE, 1024, std::nullopt}});
  j.soft_limits.number_of_files = 100;
  CHECK(f.ok(j).rlimits == std::vector<Rlimit>{{RLIMIT_NOFILE, 100, std::nullopt}});
  // A hard limit alone: the default soft one, capped by it (xpcd's raised
  // soft limit, inherited, could be over it).
  j.soft_limits.number_of_files.reset();
  j.hard_limits.number_of_files = 4096;
  CHECK(f.ok(j).rlimits == std::vector<Rlimit>{{RLIMIT_NOFILE, 1024, 4096}});
  j.hard_limits.number_of_files = 512;
  CHECK(f.ok(j).rlimits == std::vector<Rlimit>{{RLIMIT_NOFILE, 512, 512}});
  f.ctx.job_nofile_soft.reset();  // unknown: inherited, as before
  j.hard_limits.number_of_files.reset();
  CHECK(f.ok(j).rlimits.empty());
}

TEST_CASE(
    "UserName in the system domain: uid, primary gid, groups from the database, and the user's "
    "HOME/USER/LOGNAME/SHELL") {
  Fixture f;
  JobSpec j = job();
  j.user_name = "nobody";
  SUBCASE("InitGroups (the default)") {
    SpawnPlan p = f.ok(j);
    REQUIRE(p.credentials);
    CHECK(*p.credentials == Credentials{65534, 65534, {65534, 100}, "nobody", ""});
    CHECK(p.envp == std::vector<std::string>{"HOME=/nonexistent", "LOGNAME=nobody", kPathEntry,
                                             "SHELL=/usr/sbin/nologin", "USER=nobody"});
  }
  SUBCASE("GroupName overrides the primary group, and the group list is computed with it") {
    j.group_name = "users";
    SpawnPlan p = f.ok(j);
    CHECK(*p.credentials == Credentials{65534, 100, {100, 100}, "nobody", "users"});
    CHECK(f.resolver.last_primary == 100);
  }
  SUBCASE("InitGroups false: no supplementary groups at all (the daemon's are dropped)") {
    j.init_groups = false;
    CHECK(f.ok(j).credentials->groups.empty());
  }
  SUBCASE("a user without a shell gets /bin/sh; the manifest's environment wins over HOME") {
    j.user_name = "alice";
    j.environment["HOME"] = "/data";
    SpawnPlan p = f.ok(j);
    CHECK(p.envp == std::vector<std::string>{"HOME=/data", "LOGNAME=alice", kPathEntry, "SHELL=/bin/sh", "USER=alice"});
  }
  SUBCASE("unknown user, unknown group, database failure") {
    j.user_name = "ghost";
    CHECK(f.error(j) == "UserName: no such user 'ghost'");
    j.user_name = "nobody";
    j.group_name = "ghosts";
    CHECK(f.error(j) == "GroupName: no such group 'ghosts'");
    f.resolver.fail = true;
    auto r = f.plan(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == PlanErrc::lookup_failed);
    CHECK(r.error().message() == "UserName: cannot look up 'nobody': Input/output error");
  }
}

TEST_CASE("GroupName alone changes the group only: the daemon's uid, no supplementary groups") {
  Fixture f;
  f.ctx.self_uid = 0;
  JobSpec j = job();
  j.group_name = "users";
  SpawnPlan p = f.ok(j);
  CHECK(*p.credentials == Credentials{0, 100, {}, "", "users"});
  CHECK(p.envp == std::vector<std::string>{kPathEntry});
}

TEST_CASE("supplementary groups: kMaxSupplementaryGroups pass, one more is refused") {
  Fixture f;
  JobSpec j = job();
  j.user_name = "nobody";
  f.resolver.memberships["nobody"].assign(limits::kMaxSupplementaryGroups - 1, 100);
  CHECK(f.ok(j).credentials->groups.size() == limits::kMaxSupplementaryGroups);
  f.resolver.memberships["nobody"].push_back(100);
  CHECK(f.error(j) == "InitGroups: 'nobody' is in 65537 groups (at most 65536)");
}

TEST_CASE("in a user domain, UserName and GroupName may only name the domain's own user and group") {
  Fixture f;
  f.ctx.domain = Domain::user;
  f.ctx.self_uid = 1000;
  f.ctx.self_gid = 1000;
  JobSpec j = job();
  SUBCASE("another user is refused, naming the rule") {
    j.user_name = "nobody";
    auto r = f.plan(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == PlanErrc::credentials_refused);
    CHECK(r.error().message() ==
          "UserName: 'nobody' is not this user domain's own user (UserName, GroupName and InitGroups are honoured "
          "only in the system domain)");
  }
  SUBCASE("another group is refused") {
    j.group_name = "users";
    CHECK(f.error(j) ==
          "GroupName: 'users' is not this user domain's own group (UserName, GroupName and InitGroups are honoured "
          "only in the system domain)");
  }
  SUBCASE("the domain's own user and group: accepted, nothing to switch, InitGroups ignored") {
    j.user_name = "alice";
    j.group_name = "alice";
    j.init_groups = true;
    SpawnPlan p = f.ok(j);
    CHECK_FALSE(p.credentials);
    CHECK(p.envp == std::vector<std::string>{kPathEntry});
  }
  SUBCASE("an unknown user is still reported as unknown") {
    j.user_name = "ghost";
    CHECK(f.plan(j).error().code == PlanErrc::unknown_user);
  }
}

TEST_CASE("every PlanErrc has a name") {
  for (auto c :
       {PlanErrc::no_program, PlanErrc::relative_program, PlanErrc::relative_path, PlanErrc::unknown_user,
        PlanErrc::unknown_group, PlanErrc::lookup_failed, PlanErrc::credentials_refused, PlanErrc::too_many_groups,
        PlanErrc::too_many_fds, PlanErrc::socket_fds_mismatch, PlanErrc::bad_socket_name,
        PlanErrc::reserved_environment, PlanErrc::bad_environment_name, PlanErrc::bad_value}) {
    CHECK(std::string(to_string(c)) != "?");
  }
}

}  // namespace xpcd::launcher::test
