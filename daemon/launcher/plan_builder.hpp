// make_spawn_plan: a JobSpec plus what the daemon's glue knows (domain,
// fds to pass, default output, extra environment, a user database) to a
// SpawnPlan. Pure: no syscalls besides what the injected CredentialResolver
// does. Expected problems (unknown user, relative path, another user's job in
// a user domain, ...) come back as a PlanError value, never logged here.
//
// The decisions (see docs/launcher.md):
// * fds: Sockets fds at 3.. in manifest order, then the fds of the job's
//   store (FDSTORE=1) in the order they were stored, then the checkin
//   channel; LISTEN_FDS / LISTEN_FDNAMES (one name per fd, ':'-separated:
//   the Sockets group, then the FDNAME of each stored fd) and LISTEN_PID
//   (filled in by the child) only when there are sockets or stored fds;
//   XPCD_CHECKIN_FD=N when there is a checkin channel.
// * watchdog: WATCHDOG_USEC (WatchdogSec in microseconds) and WATCHDOG_PID
//   (filled in by the child) only with WatchdogSec; a job never inherits
//   xpcd's own WATCHDOG_* (it gets no variable of xpcd's environment unless
//   the context passes it).
// * environment, later layers win: PATH default < the context's defaults <
//   HOME/USER/LOGNAME/SHELL of UserName < EnvironmentVariables. The context's environment and the fd
//   variables above are xpcd's protocol: a manifest setting one is an error.
// * stdio: StandardInPath or /dev/null; Standard{Out,Error}Path (created
//   0666 & ~umask, appended) or the context's default output fd.
// * credentials: only in the system domain; in a user domain UserName and
//   GroupName may only name the domain's own user and primary group.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <xpc/result.hpp>

#include "launcher/credential_resolver.hpp"
#include "launcher/spawn_plan.hpp"
#include "manifest/job_spec.hpp"

namespace xpcd::launcher {

enum class Domain { system, user };

// The PATH a job gets unless EnvironmentVariables sets one (Debian's
// default for root, as systemd gives its services).
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct SpawnContext {
  Domain domain = Domain::system;
  uid_t self_uid = 0;  // who the daemon runs as: root, or the user domain's user
  gid_t self_gid = 0;
  const CredentialResolver* resolver = nullptr;  // borrowed, not null

  // Borrowed fds; the caller keeps them open until spawn() returns.
  int checkin_fd = -1;          // -1: no checkin channel
  std::vector<int> socket_fds;  // one per JobSpec::sockets entry, same order
  // The job's file descriptor store (FDSTORE=1), after the sockets in
  // LISTEN_FDS, each under its FDNAME (fd_name_ok).
  struct StoredFd {
    int fd;
    std::string name;
  };
  std::vector<StoredFd> stored_fds;
  int default_output_fd = -1;   // stdout/stderr without a path; -1: /dev/null
  // The soft RLIMIT_NOFILE a job gets unless its manifest sets
  // NumberOfFiles: the one xpcd started with, before it raised its own to
  // the hard limit (as systemd does: select() breaks on fds over 1023).
  // Unset: the job inherits xpcd's.
  std::optional<rlim_t> job_nofile_soft;

  // Defaults the manifest may override (in a user domain, the user's HOME,
  // XDG_RUNTIME_DIR, LANG, ...); they override the default PATH.
  std::vector<std::pair<std::string, std::string>> default_environment;
  // xpcd's variables (NOTIFY_SOCKET, XPC_SERVICE_NAME, ...): the manifest
  // cannot override them.
  std::vector<std::pair<std::string, std::string>> environment;
};

enum class PlanErrc {
  no_program,        // neither Program nor ProgramArguments
  relative_program,  // a program path with '/' that is not absolute
  relative_path,     // WorkingDirectory, RootDirectory, Standard*Path
  unknown_user,
  unknown_group,
  lookup_failed,         // the user/group database failed (system error)
  credentials_refused,   // UserName/GroupName naming another identity in a user domain
  too_many_groups,       // limits::kMaxSupplementaryGroups
  too_many_fds,          // limits::kMaxPassedFds
  socket_fds_mismatch,   // context.socket_fds.size() != spec.sockets.size()
  bad_socket_name,       // a Sockets name or stored fd's name unusable in LISTEN_FDNAMES
  reserved_environment,  // EnvironmentVariables sets one of xpcd's variables
  bad_environment_name,  // empty or containing '='
  bad_value,             // Umask > 0777, a negative limit, a NUL in a string
};

const char* to_string(PlanErrc code) noexcept;

struct PlanError {
  PlanErrc code;
  std::string key;         // the manifest key at fault, e.g. "UserName"
  std::string detail;      // what was wrong, e.g. "'alice'"
  std::error_code system;  // for lookup_failed
  // "UserName: 'alice' is not the user of this domain (UserName, GroupName
  // and InitGroups are honoured only in the system domain)".
  std::string message() const;
};

// Whether `name` can go in LISTEN_FDNAMES: systemd's fdname_is_valid
// (at most limits::kMaxSocketNameLength printable ASCII characters, no
// ':'), except that the empty name is refused: sd_listen_fds_with_names
// could not tell it from a missing one.
bool fd_name_ok(std::string_view name);

xpc::Result<SpawnPlan, PlanError> make_spawn_plan(const manifest::JobSpec& spec, const SpawnContext& ctx);

}  // namespace xpcd::launcher
