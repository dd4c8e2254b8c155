// The child side of spawn(): raw system calls only, see child_exec.hpp.
// Compiled with -fno-sanitize=all -fno-stack-protector
// -fno-tree-loop-distribute-patterns (no memcpy/memset calls synthesised
// from loops); every function here is also marked kChild.
#include "launcher/child_exec.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "launcher/spawn.hpp"

#define XPCD_CHILD __attribute__((no_sanitize("address", "undefined"), noinline))

namespace xpcd::launcher::detail {
namespace {

// A raw system call: the result, or -errno. glibc's syscall() is a few
// instructions of assembly (no interceptor, no lock); errno is the
// suspended parent thread's, which is harmless since it is not running.
XPCD_CHILD long sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long r = syscall(nr, a, b, c, d, e);
  return r == -1 ? -errno : r;
}

template <typename P>
XPCD_CHILD long ptr(P* p) {
  return reinterpret_cast<long>(p);
}

[[noreturn]] XPCD_CHILD void fail(const ChildArgs& a, SpawnStage stage, long negative_errno, int index) {
  ChildReport report;
  report.stage = static_cast<int32_t>(stage);
  report.error = static_cast<int32_t>(-negative_errno);
  report.index = index;
  // One write below PIPE_BUF is atomic; if it fails the parent sees EOF and
  // an exit status of 127, and reports the exit instead.
  sys(SYS_write, a.report_fd, ptr(&report), sizeof report);
  for (;;) syscall(SYS_exit, 127);
}

// The kernel's struct sigaction (not glibc's, whose layout differs).
struct KernelSigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};
constexpr int kKernelNsig = 64;

// Handlers of the daemon must not run in the child (they would run on the
// daemon's memory), and a job starts with default dispositions. Signals
// stay blocked (the parent blocked them all before clone) until just
// before execve.
XPCD_CHILD void reset_signals() {
  KernelSigaction dfl;
  dfl.handler = 0;  // SIG_DFL
  dfl.flags = 0;
  dfl.restorer = 0;
  dfl.mask = 0;
  for (int sig = 1; sig <= kKernelNsig; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sys(SYS_rt_sigaction, sig, ptr(&dfl), 0, sizeof dfl.mask);  // EINVAL for none of 1..64 but KILL/STOP
  }
}

// Moves every planned fd into place, safe against any overlap between
// sources and targets: (1) every source is duplicated (or opened) to a
// temporary at or above fd_floor, which is above every target; (2) each
// temporary is dup3'd to its target without O_CLOEXEC, the only fds that
// survive exec; (3) fds below the floor that are not targets are closed and
// everything at or above it (temporaries, the report pipe, anything the
// daemon had open) is marked CLOEXEC, so the kernel closes it at execve.
XPCD_CHILD void place_fds(const ChildArgs& a) {
  for (size_t i = 0; i < a.fd_count; ++i) {
    const ChildFd& f = a.fds[i];
    long fd;
    if (f.source_fd >= 0) {
      fd = sys(SYS_fcntl, f.source_fd, F_DUPFD_CLOEXEC, a.fd_floor);
      if (fd < 0) fail(a, SpawnStage::fds, fd, f.target);
    } else {
      fd = sys(SYS_openat, AT_FDCWD, ptr(f.path), f.flags | O_CLOEXEC | O_NOCTTY, f.mode);
      if (fd < 0) fail(a, SpawnStage::stdio, fd, f.target);
      if (fd < a.fd_floor) {
        long high = sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, a.fd_floor);
        sys(SYS_close, fd);
        if (high < 0) fail(a, SpawnStage::fds, high, f.target);
        fd = high;
      }
    }
    a.temps[i] = static_cast<int>(fd);
  }
  for (size_t i = 0; i < a.fd_count; ++i) {
    long r = sys(SYS_dup3, a.temps[i], a.fds[i].target, 0);
    if (r < 0) fail(a, SpawnStage::fds, r, a.fds[i].target);
  }
  long next = 0;  // first fd not yet known to be a target or closed
  for (size_t i = 0; i < a.fd_count; ++i) {
    long t = a.sorted_targets[i];
    if (t > next) sys(SYS_close_range, next, t - 1, 0);
    next = t + 1;
  }
  if (next < a.fd_floor) sys(SYS_close_range, next, a.fd_floor - 1, 0);
  long r = sys(SYS_close_range, a.fd_floor, ~0U, CLOSE_RANGE_CLOEXEC);
  if (r < 0) fail(a, SpawnStage::fds, r, -1);
}

XPCD_CHILD void apply_rlimits(const ChildArgs& a) {
  for (size_t i = 0; i < a.rlimit_count; ++i) {
    const ChildRlimit& l = a.rlimits[i];
    struct {
      uint64_t cur, max;
    } value;
    long r = sys(SYS_prlimit64, 0, l.resource, 0, ptr(&value));
    if (r < 0) fail(a, SpawnStage::rlimit, r, l.resource);
    if (l.has_soft) value.cur = l.soft;
    if (l.has_hard) value.max = l.hard;
    r = sys(SYS_prlimit64, 0, l.resource, ptr(&value), 0);
    if (r < 0) fail(a, SpawnStage::rlimit, r, l.resource);
  }
}

// Raw setgroups/setresgid/setresuid act on the calling thread only, which
// is the whole process here (glibc's wrappers would signal every thread of
// the daemon). Groups first: once the uid is dropped, setgroups is refused.
XPCD_CHILD void switch_credentials(const ChildArgs& a) {
  long r = sys(SYS_setgroups, static_cast<long>(a.group_count), ptr(a.groups));
  if (r < 0) fail(a, SpawnStage::setgroups, r, -1);
  r = sys(SYS_setresgid, a.gid, a.gid, a.gid);
  if (r < 0) fail(a, SpawnStage::setgid, r, -1);
  r = sys(SYS_setresuid, a.uid, a.uid, a.uid);
  if (r < 0) fail(a, SpawnStage::setuid, r, -1);
}

XPCD_CHILD void write_pid(char* out) {
  char digits[24];
  int n = 0;
  unsigned long pid = static_cast<unsigned long>(sys(SYS_getpid));
  do {
    digits[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid != 0);
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\0';
}

// execvp semantics over the prepared candidates: go on after ENOENT,
// ENOTDIR and EACCES; report EACCES if any candidate gave it.
[[noreturn]] XPCD_CHILD void exec(const ChildArgs& a) {
  long first_eacces = -1, error = -ENOENT, at = 0;
  for (size_t i = 0; i < a.exec_path_count; ++i) {
    error = sys(SYS_execve, ptr(a.exec_paths[i]), ptr(a.argv), ptr(a.envp));
    at = static_cast<long>(i);
    if (error == -EACCES && first_eacces < 0) first_eacces = at;
    if (error != -ENOENT && error != -ENOTDIR && error != -EACCES) break;
  }
  if (error == -ENOENT || error == -ENOTDIR) {
    if (first_eacces >= 0) fail(a, SpawnStage::exec, -EACCES, static_cast<int>(first_eacces));
  }
  fail(a, SpawnStage::exec, error, static_cast<int>(at));
}

}  // namespace

XPCD_CHILD int child_main(void* raw) {
  const ChildArgs& a = *static_cast<const ChildArgs*>(raw);
  reset_signals();
  place_fds(a);
  if (a.session != SessionMode::inherit) {
    long r = a.session == SessionMode::new_session ? sys(SYS_setsid) : sys(SYS_setpgid, 0, 0);
    if (r < 0) fail(a, SpawnStage::session, r, -1);
  }
  apply_rlimits(a);
  if (a.set_nice) {
    long r = sys(SYS_setpriority, PRIO_PROCESS, 0, a.nice);
    if (r < 0) fail(a, SpawnStage::nice, r, a.nice);
  }
  sys(SYS_umask, a.umask);
  if (a.root != nullptr) {
    long r = sys(SYS_chroot, ptr(a.root));
    if (r < 0) fail(a, SpawnStage::chroot, r, -1);
  }
  long r = sys(SYS_chdir, ptr(a.cwd));
  if (r < 0) fail(a, SpawnStage::chdir, r, -1);
  if (a.set_credentials) switch_credentials(a);
  for (size_t i = 0; i < a.pid_digit_count; ++i) write_pid(a.pid_digits[i]);
  unsigned long empty = 0;
  r = sys(SYS_rt_sigprocmask, SIG_SETMASK, ptr(&empty), 0, sizeof empty);
  if (r < 0) fail(a, SpawnStage::signals, r, -1);
  exec(a);
}

}  // namespace xpcd::launcher::detail
