// What runs in the child between clone() and execve(). Internal to
// spawn.cpp. The child shares the parent's memory (CLONE_VM) while the
// parent's calling thread is suspended (CLONE_VFORK), so it may only:
//  * read ChildArgs, which the parent filled completely before clone (plain
//    arrays and C strings, no std containers, no allocation);
//  * write its pid's digits (LISTEN_PID, WATCHDOG_PID) into the buffers the
//    parent reserved;
//  * make raw system calls through syscall(2): no glibc wrapper that
//    touches shared state (glibc's setuid would signal the parent's threads
//    to change their credentials too), no sanitizer interceptor, no malloc.
// child_exec.cpp is compiled without sanitizers or stack protector, and
// child_main is marked no_sanitize as well: ASan's runtime must not run in a
// process that shares the daemon's memory but is not one of its threads.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "launcher/spawn_plan.hpp"

namespace xpcd::launcher::detail {

// What the child writes into the error pipe before _exit(127): one write
// of 12 bytes, atomic on a pipe.
struct ChildReport {
  int32_t stage;  // SpawnStage
  int32_t error;  // errno
  int32_t index;
};

struct ChildFd {
  int source_fd;     // >= 0: dup this parent fd; -1: open path
  const char* path;  // when source_fd < 0
  int flags;
  mode_t mode;
  int target;
};

struct ChildRlimit {
  int resource;
  bool has_soft, has_hard;
  uint64_t soft, hard;
};

struct ChildArgs {
  int report_fd;  // write end of the CLOEXEC error pipe, >= fd_floor

  const char* const* exec_paths;  // candidates tried in order (execvp-style)
  size_t exec_path_count;
  char* const* argv;
  char* const* envp;
  char* const* pid_digits;  // where the child's pid goes (NUL-terminated), one buffer per variable
  size_t pid_digit_count;

  const ChildFd* fds;  // stdio then passed fds
  size_t fd_count;
  int* temps;                 // fd_count slots the child fills
  const int* sorted_targets;  // the fd_count targets ascending, to close the gaps
  int fd_floor;               // > every target; temporaries and report_fd live above

  SessionMode session;
  const ChildRlimit* rlimits;
  size_t rlimit_count;
  bool set_nice;
  int nice;
  mode_t umask;
  const char* root;  // null: no chroot
  const char* cwd;
  bool set_credentials;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t group_count;
};

// The clone() entry point; never returns (execve or exit(127)).
int child_main(void* args);

}  // namespace xpcd::launcher::detail
