// make_spawn_plan: JobSpec + SpawnContext to SpawnPlan. Pure; the
// decisions are listed in plan_builder.hpp and docs/launcher.md.
#include "launcher/plan_builder.hpp"

#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <optional>

#include "launcher/limits.hpp"

namespace xpcd::launcher {
namespace {

using manifest::JobSpec;

// The variables xpcd sets for its protocols; a manifest may not set them.
constexpr const char* kReservedNames[] = {"XPCD_CHECKIN_FD", "LISTEN_FDS",    "LISTEN_FDNAMES",
                                          "LISTEN_PID",      "WATCHDOG_USEC", "WATCHDOG_PID"};

PlanError error(PlanErrc code, std::string key, std::string detail = {}) {
  return PlanError{code, std::move(key), std::move(detail), {}};
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

std::optional<PlanError> check_program(const JobSpec& spec, SpawnPlan& plan) {
  if (spec.program.empty()) return error(PlanErrc::no_program, "Program");
  if (spec.program.front() != '/' && spec.program.find('/') != std::string::npos) {
    return error(PlanErrc::relative_program, "Program", quoted(spec.program));
  }
  plan.executable = spec.program;
  plan.argv = spec.arguments.empty() ? std::vector<std::string>{spec.program} : spec.arguments;
  for (const std::string& a : plan.argv) {
    if (has_nul(a)) return error(PlanErrc::bad_value, "ProgramArguments", "an argument contains a NUL byte");
  }
  if (has_nul(spec.program)) return error(PlanErrc::bad_value, "Program", "contains a NUL byte");
  return std::nullopt;
}

std::optional<PlanError> check_absolute(const std::string& path, const char* key) {
  if (has_nul(path)) return error(PlanErrc::bad_value, key, "contains a NUL byte");
  if (!path.empty() && path.front() != '/') return error(PlanErrc::relative_path, key, quoted(path));
  return std::nullopt;
}

// --- credentials -----------------------------------------------------------------------

using UserResult = xpc::Result<std::optional<UserEntry>, PlanError>;

UserResult find_user(const SpawnContext& ctx, const std::string& name) {
  if (name.empty()) return std::optional<UserEntry>();
  auto r = ctx.resolver->user(name);
  if (!r) return xpc::fail(PlanError{PlanErrc::lookup_failed, "UserName", quoted(name), r.error()});
  if (!*r) return xpc::fail(error(PlanErrc::unknown_user, "UserName", quoted(name)));
  return std::move(*r);
}

xpc::Result<std::optional<GroupEntry>, PlanError> find_group(const SpawnContext& ctx, const std::string& name) {
  if (name.empty()) return std::optional<GroupEntry>();
  auto r = ctx.resolver->group(name);
  if (!r) return xpc::fail(PlanError{PlanErrc::lookup_failed, "GroupName", quoted(name), r.error()});
  if (!*r) return xpc::fail(error(PlanErrc::unknown_group, "GroupName", quoted(name)));
  return std::move(*r);
}

// In a user domain the daemon runs as the user and cannot switch identity:
// UserName and GroupName may only restate the domain's own user and primary
// group (so one manifest can serve both domains); anything else is refused.
std::optional<PlanError> check_user_domain(const SpawnContext& ctx, const std::optional<UserEntry>& user,
                                           const std::optional<GroupEntry>& group) {
  if (user && user->uid != ctx.self_uid) return error(PlanErrc::credentials_refused, "UserName", quoted(user->name));
  if (group && group->gid != ctx.self_gid) {
    return error(PlanErrc::credentials_refused, "GroupName", quoted(group->name));
  }
  return std::nullopt;
}

std::optional<PlanError> plan_credentials(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan,
                                          std::map<std::string, std::string>& env) {
  UserResult user = find_user(ctx, spec.user_name);
  if (!user) return std::move(user).error();
  auto group = find_group(ctx, spec.group_name);
  if (!group) return std::move(group).error();
  if (ctx.domain == Domain::user) return check_user_domain(ctx, *user, *group);
  if (!*user && !*group) return std::nullopt;

  Credentials c;
  if (*user) {
    const UserEntry& u = **user;
    c.uid = u.uid;
    c.gid = *group ? (*group)->gid : u.gid;
    c.user_name = u.name;
    // launchd sets these when it switches user (job_postfork_become_user).
    env["HOME"] = u.home;
    env["USER"] = u.name;
    env["LOGNAME"] = u.name;
    env["SHELL"] = u.shell.empty() ? "/bin/sh" : u.shell;
    if (spec.init_groups) {
      // getgrouplist is not async-signal-safe: computed here, in the parent.
      auto groups = ctx.resolver->groups_of(u, c.gid);
      if (!groups) return PlanError{PlanErrc::lookup_failed, "InitGroups", quoted(u.name), groups.error()};
      c.groups = std::move(*groups);
    }
  } else {
    c.uid = ctx.self_uid;  // GroupName alone changes the group only
    c.gid = (*group)->gid;
  }
  if (*group) c.group_name = (*group)->name;
  if (c.groups.size() > limits::kMaxSupplementaryGroups) {
    return error(PlanErrc::too_many_groups, "InitGroups",
                 quoted(c.user_name) + " is in " + std::to_string(c.groups.size()) + " groups");
  }
  plan.credentials = std::move(c);
  return std::nullopt;
}

// --- fds -------------------------------------------------------------------------------

std::optional<PlanError> plan_fds(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan,
                                  std::map<std::string, std::string>& protocol_env) {
  if (ctx.socket_fds.size() != spec.sockets.size()) {
    return error(PlanErrc::socket_fds_mismatch, "Sockets",
                 std::to_string(spec.sockets.size()) + " sockets, " + std::to_string(ctx.socket_fds.size()) + " fds");
  }
  size_t passed = ctx.socket_fds.size() + ctx.stored_fds.size() + (ctx.checkin_fd >= 0 ? 1 : 0);
  if (passed > limits::kMaxPassedFds) {
    const bool stored = !ctx.stored_fds.empty();
    return error(PlanErrc::too_many_fds, stored ? "Sockets, FileDescriptorStoreMax" : "Sockets",
                 std::to_string(passed) + " fds" +
                     (stored ? ", " + std::to_string(ctx.stored_fds.size()) + " of them stored" : "") + " (at most " +
                     std::to_string(limits::kMaxPassedFds) + ")");
  }
  int next = 3;
  std::string names;
  for (size_t i = 0; i < spec.sockets.size(); ++i) {
    const std::string& group = spec.sockets[i].group;
    if (!fd_name_ok(group)) return error(PlanErrc::bad_socket_name, "Sockets", quoted(group));
    plan.fds.push_back({ctx.socket_fds[i], next++});
    names += (names.empty() ? "" : ":") + group;
  }
  for (const SpawnContext::StoredFd& stored : ctx.stored_fds) {
    if (!fd_name_ok(stored.name)) return error(PlanErrc::bad_socket_name, "FDNAME", quoted(stored.name));
    plan.fds.push_back({stored.fd, next++});
    names += (names.empty() ? "" : ":") + stored.name;
  }
  if (next > 3) {
    protocol_env["LISTEN_FDS"] = std::to_string(next - 3);
    protocol_env["LISTEN_FDNAMES"] = names;
    plan.pid_env_names.push_back("LISTEN_PID");
  }
  if (ctx.checkin_fd >= 0) {
    plan.fds.push_back({ctx.checkin_fd, next});
    protocol_env["XPCD_CHECKIN_FD"] = std::to_string(next);
  }
  return std::nullopt;
}

// WatchdogSec: the period and the pid it is meant for, so sd_watchdog_enabled()
// in the job returns the period (and 0 in any process it starts, whose pid
// differs).
void plan_watchdog(const JobSpec& spec, SpawnPlan& plan, std::map<std::string, std::string>& protocol_env) {
  const std::chrono::microseconds usec = manifest::watchdog_usec(spec);
  if (usec <= std::chrono::microseconds::zero()) return;
  protocol_env["WATCHDOG_USEC"] = std::to_string(usec.count());
  plan.pid_env_names.push_back("WATCHDOG_PID");
}

StdioSource output(const std::string& path, const SpawnContext& ctx, mode_t umask) {
  if (!path.empty()) return OpenPath{path, O_WRONLY | O_CREAT | O_APPEND, static_cast<mode_t>(0666 & ~umask)};
  if (ctx.default_output_fd >= 0) return DupFd{ctx.default_output_fd};
  return OpenPath{"/dev/null", O_WRONLY, 0};
}

std::optional<PlanError> plan_stdio(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan) {
  for (auto [path, key] : {std::pair{&spec.stdin_path, "StandardInPath"},
                           {&spec.stdout_path, "StandardOutPath"},
                           {&spec.stderr_path, "StandardErrorPath"}}) {
    if (auto e = check_absolute(*path, key)) return e;
  }
  plan.stdio[0] = OpenPath{spec.stdin_path.empty() ? "/dev/null" : spec.stdin_path, O_RDONLY, 0};
  plan.stdio[1] = output(spec.stdout_path, ctx, plan.umask);
  plan.stdio[2] = output(spec.stderr_path, ctx, plan.umask);
  return std::nullopt;
}

// --- process attributes ----------------------------------------------------------------

std::optional<PlanError> plan_limits(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan) {
  using manifest::ResourceLimits;
  struct Entry {
    int resource;
    std::optional<int64_t> ResourceLimits::*field;
    const char* name;
  };
  static constexpr Entry kEntries[] = {
      {RLIMIT_CORE, &ResourceLimits::core, "Core"},
      {RLIMIT_CPU, &ResourceLimits::cpu, "CPU"},
      {RLIMIT_DATA, &ResourceLimits::data, "Data"},
      {RLIMIT_FSIZE, &ResourceLimits::file_size, "FileSize"},
      {RLIMIT_MEMLOCK, &ResourceLimits::memory_lock, "MemoryLock"},
      {RLIMIT_NOFILE, &ResourceLimits::number_of_files, "NumberOfFiles"},
      {RLIMIT_NPROC, &ResourceLimits::number_of_processes, "NumberOfProcesses"},
      {RLIMIT_RSS, &ResourceLimits::resident_set_size, "ResidentSetSize"},
      {RLIMIT_STACK, &ResourceLimits::stack, "Stack"},
  };
  for (const Entry& e : kEntries) {
    const std::optional<int64_t>& soft = spec.soft_limits.*e.field;
    const std::optional<int64_t>& hard = spec.hard_limits.*e.field;
    if (!soft && !hard) continue;
    for (auto [v, side] : {std::pair{&soft, "SoftResourceLimits."}, {&hard, "HardResourceLimits."}}) {
      if (*v && **v < 0) return error(PlanErrc::bad_value, std::string(side) + e.name, std::to_string(**v));
    }
    Rlimit r{e.resource, {}, {}};
    if (soft) r.soft = static_cast<rlim_t>(*soft);
    if (hard) r.hard = static_cast<rlim_t>(*hard);
    plan.rlimits.push_back(r);
  }
  // The soft NOFILE xpcd started with, unless the manifest sets one; a hard
  // limit alone caps it (xpcd's raised soft limit, inherited, may be over it).
  if (!ctx.job_nofile_soft) return std::nullopt;
  auto nofile = std::find_if(plan.rlimits.begin(), plan.rlimits.end(),
                             [](const Rlimit& r) { return r.resource == RLIMIT_NOFILE; });
  if (nofile == plan.rlimits.end()) {
    plan.rlimits.push_back(Rlimit{RLIMIT_NOFILE, *ctx.job_nofile_soft, {}});
  } else if (!nofile->soft) {
    nofile->soft = std::min(*ctx.job_nofile_soft, *nofile->hard);
  }
  return std::nullopt;
}

std::optional<PlanError> plan_process(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan) {
  if (spec.umask && *spec.umask > 0777) return error(PlanErrc::bad_value, "Umask", std::to_string(*spec.umask));
  plan.umask = static_cast<mode_t>(spec.umask.value_or(022));
  plan.nice = spec.nice;
  if (auto e = check_absolute(spec.working_directory, "WorkingDirectory")) return e;
  if (auto e = check_absolute(spec.root_directory, "RootDirectory")) return e;
  plan.cwd = spec.working_directory.empty() ? "/" : spec.working_directory;
  plan.root_directory = spec.root_directory;
  plan.session = SessionMode::new_session;  // launchd makes every job a session leader
  return plan_limits(spec, ctx, plan);
}

// --- environment -----------------------------------------------------------------------

std::optional<PlanError> plan_environment(const JobSpec& spec, const SpawnContext& ctx, SpawnPlan& plan,
                                          std::map<std::string, std::string> env,
                                          std::map<std::string, std::string> protocol_env) {
  for (const auto& [name, value] : ctx.environment) protocol_env[name] = value;
  for (const auto& [name, value] : spec.environment) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name)) {
      return error(PlanErrc::bad_environment_name, "EnvironmentVariables", quoted(name));
    }
    if (has_nul(value)) return error(PlanErrc::bad_value, "EnvironmentVariables." + name, "contains a NUL byte");
    bool reserved = protocol_env.count(name) != 0 ||
                    std::find(std::begin(kReservedNames), std::end(kReservedNames), name) != std::end(kReservedNames);
    if (reserved) return error(PlanErrc::reserved_environment, "EnvironmentVariables", quoted(name));
    env[name] = value;
  }
  for (auto& [name, value] : protocol_env) env[name] = std::move(value);
  plan.search_path = plan.executable.find('/') == std::string::npos ? env["PATH"] : std::string();
  for (const auto& [name, value] : env) plan.envp.push_back(name + "=" + value);
  return std::nullopt;
}

}  // namespace

bool fd_name_ok(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxSocketNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7f && c != ':';
  });
}

const char* to_string(PlanErrc code) noexcept {
  switch (code) {
    case PlanErrc::no_program: return "no-program";
    case PlanErrc::relative_program: return "relative-program";
    case PlanErrc::relative_path: return "relative-path";
    case PlanErrc::unknown_user: return "unknown-user";
    case PlanErrc::unknown_group: return "unknown-group";
    case PlanErrc::lookup_failed: return "lookup-failed";
    case PlanErrc::credentials_refused: return "credentials-refused";
    case PlanErrc::too_many_groups: return "too-many-groups";
    case PlanErrc::too_many_fds: return "too-many-fds";
    case PlanErrc::socket_fds_mismatch: return "socket-fds-mismatch";
    case PlanErrc::bad_socket_name: return "bad-socket-name";
    case PlanErrc::reserved_environment: return "reserved-environment";
    case PlanErrc::bad_environment_name: return "bad-environment-name";
    case PlanErrc::bad_value: return "bad-value";
  }
  return "?";
}

std::string PlanError::message() const {
  std::string what;
  switch (code) {
    case PlanErrc::no_program: what = "no program to run"; break;
    case PlanErrc::relative_program: what = detail + " is not an absolute path nor a bare command name"; break;
    case PlanErrc::relative_path: what = detail + " is not an absolute path"; break;
    case PlanErrc::unknown_user: what = "no such user " + detail; break;
    case PlanErrc::unknown_group: what = "no such group " + detail; break;
    case PlanErrc::lookup_failed: what = "cannot look up " + detail + ": " + system.message(); break;
    case PlanErrc::credentials_refused:
      what = detail + " is not this user domain's own " + (key == "GroupName" ? "group" : "user") +
             " (UserName, GroupName and InitGroups are honoured only in the system domain)";
      break;
    case PlanErrc::too_many_groups:
      what = detail + " (at most " + std::to_string(limits::kMaxSupplementaryGroups) + ")";
      break;
    case PlanErrc::too_many_fds: what = "too many fds to pass: " + detail; break;
    case PlanErrc::socket_fds_mismatch: what = "the daemon passed the wrong number of socket fds: " + detail; break;
    case PlanErrc::bad_socket_name:
      what = "name " + detail + " cannot go in LISTEN_FDNAMES (expected 1 to 255 printable characters, no ':')";
      break;
    case PlanErrc::reserved_environment: what = detail + " is set by xpcd and cannot be overridden"; break;
    case PlanErrc::bad_environment_name: what = "invalid variable name " + detail; break;
    case PlanErrc::bad_value: what = "invalid value: " + detail; break;
  }
  return key + ": " + what;
}

xpc::Result<SpawnPlan, PlanError> make_spawn_plan(const JobSpec& spec, const SpawnContext& ctx) {
  SpawnPlan plan;
  plan.label = spec.label;
  std::map<std::string, std::string> env{{"PATH", kDefaultPath}}, protocol_env;
  for (const auto& [name, value] : ctx.default_environment) env[name] = value;
  if (auto e = check_program(spec, plan)) return xpc::fail(std::move(*e));
  if (auto e = plan_process(spec, ctx, plan)) return xpc::fail(std::move(*e));
  if (auto e = plan_credentials(spec, ctx, plan, env)) return xpc::fail(std::move(*e));
  if (auto e = plan_fds(spec, ctx, plan, protocol_env)) return xpc::fail(std::move(*e));
  plan_watchdog(spec, plan, protocol_env);
  if (auto e = plan_stdio(spec, ctx, plan)) return xpc::fail(std::move(*e));
  if (auto e = plan_environment(spec, ctx, plan, std::move(env), std::move(protocol_env)))
    return xpc::fail(std::move(*e));
  return plan;
}

}  // namespace xpcd::launcher
