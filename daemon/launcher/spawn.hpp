// spawn: applies a SpawnPlan and starts the process. The one place in xpcd
// that creates processes.
//
// How: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) onto a private stack,
// never fork(): the daemon's address space is not copied (DESIGN 11: fork
// from a 256 MiB heap is 28x slower than posix_spawn). The child runs only
// raw system calls on data the parent prepared (child_exec.hpp), and reports
// a failure as {stage, errno} over a CLOEXEC pipe; EOF on that pipe means
// execve succeeded. See docs/launcher.md for why not a posix_spawn helper.
//
// Not supervision: the caller watches the returned pidfd and reaps the child
// (waitid(P_PIDFD) or sd-event); spawn() reaps only children that failed
// before exec.
#pragma once

#include <sys/types.h>

#include <string>

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include "launcher/spawn_plan.hpp"

namespace xpcd::launcher {

// Where a spawn failed, in the order the child goes through them.
enum class SpawnStage {
  prepare,    // parent: pipe, stack or argument preparation
  clone,      // parent: clone() itself (EAGAIN: process limit)
  signals,    // child: resetting signal dispositions and mask
  stdio,      // child: opening a Standard*Path (index: 0, 1, 2)
  fds,        // child: moving fds into place (index: the child fd)
  session,    // child: setsid / setpgid
  rlimit,     // child: setrlimit (index: the RLIMIT_* resource)
  nice,       // child: setpriority
  chroot,     // child: chroot
  chdir,      // child: chdir
  setgroups,  // child: setgroups
  setgid,     // child: setresgid
  setuid,     // child: setresuid
  exec,       // child: execve
};

const char* to_string(SpawnStage stage) noexcept;

struct SpawnError {
  SpawnStage stage = SpawnStage::prepare;
  int error = 0;        // errno
  int index = -1;       // stage-specific, see SpawnStage
  std::string subject;  // what the stage acted on, from the plan: a path, a user name
  // "cannot exec /usr/bin/nope: No such file or directory",
  // "cannot switch to user 'nobody': Operation not permitted".
  std::string message() const;
};

struct Spawned {
  pid_t pid = -1;
  xpc::UniqueFd pidfd;  // CLOEXEC; owned by the caller
};

// Starts the process the plan describes and returns once it has exec'd (or
// failed). Thread-safe: may be called from any thread; it blocks all signals
// of the calling thread for the duration of the clone. The plan's fds must
// stay open until it returns. Errors: SpawnError with the stage and errno;
// a child that failed is already reaped.
xpc::Result<Spawned, SpawnError> spawn(const SpawnPlan& plan);

}  // namespace xpcd::launcher
