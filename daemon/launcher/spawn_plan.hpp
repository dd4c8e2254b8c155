// SpawnPlan: everything needed to start one process, as a plain value
// (STYLE 4: a spawn is data). make_spawn_plan() (plan_builder.hpp) builds it
// from a JobSpec without syscalls; spawn() (spawn.hpp) applies it.
// Not an owner of anything: every fd in a plan is BORROWED; whoever built the
// plan keeps those fds open until spawn() has returned. Users and groups are
// already resolved to numbers, paths are absolute, the environment final
// except for the variables that carry the child's own pid.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace xpcd::launcher {

// A path the child opens (before chroot and before dropping privileges,
// with the daemon's credentials, like systemd's StandardOutput=file:).
// The child adds O_CLOEXEC | O_NOCTTY itself.
struct OpenPath {
  std::string path;
  int flags = 0;
  mode_t mode = 0;
  friend bool operator==(const OpenPath&, const OpenPath&) = default;
};

// A parent fd (borrowed) the child duplicates.
struct DupFd {
  int fd = -1;
  friend bool operator==(const DupFd&, const DupFd&) = default;
};

using StdioSource = std::variant<OpenPath, DupFd>;

// A parent fd (borrowed) that appears as child_fd in the child. Every fd not
// named by an FdAction or stdio is closed in the child.
struct FdAction {
  int parent_fd = -1;
  int child_fd = -1;
  friend bool operator==(const FdAction&, const FdAction&) = default;
};

// One setrlimit. An unset side keeps the value the child inherited (the
// child reads it with getrlimit just before setting), as launchd does.
struct Rlimit {
  int resource = 0;  // RLIMIT_*
  std::optional<rlim_t> soft, hard;
  friend bool operator==(const Rlimit&, const Rlimit&) = default;
};

// Identity the child switches to, in this order: setgroups(groups),
// setresgid(gid), setresuid(uid). The names are for messages only.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, exactly (empty: none)
  std::string user_name;      // "" when only GroupName was given
  std::string group_name;
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

enum class SessionMode { inherit, new_session, new_process_group };

struct SpawnPlan {
  std::string label;  // for messages

  // Absolute path, or a bare command name (no '/') looked up in
  // search_path's directories, execvp-style, inside the child.
  std::string executable;
  std::string search_path;  // the job's PATH when executable is bare; else ""
  std::vector<std::string> argv;
  std::vector<std::string> envp;  // "NAME=value", sorted by name, names unique

  // The variables whose value is the child's own pid, known only after
  // clone: "LISTEN_PID" when the job gets fds, "WATCHDOG_PID" with
  // WatchdogSec; none otherwise. The child appends "NAME=<pid>" to envp for
  // each, in this order.
  std::vector<std::string> pid_env_names;

  std::string cwd = "/";       // absolute; inside root_directory when set
  std::string root_directory;  // "": no chroot
  mode_t umask = 022;
  std::optional<int> nice;
  std::vector<Rlimit> rlimits;
  std::optional<Credentials> credentials;  // unset: keep the daemon's

  std::array<StdioSource, 3> stdio{OpenPath{"/dev/null", O_RDONLY, 0}, OpenPath{"/dev/null", O_WRONLY, 0},
                                   OpenPath{"/dev/null", O_WRONLY, 0}};
  std::vector<FdAction> fds;  // child_fd >= 3, unique
  SessionMode session = SessionMode::new_session;
};

}  // namespace xpcd::launcher
