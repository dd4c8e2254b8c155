// The parent side of spawn(): turns the SpawnPlan into the flat ChildArgs
// the child reads, clones, and reads the child's report.
#include "launcher/spawn.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "launcher/child_exec.hpp"

namespace xpcd::launcher {
namespace {

using detail::ChildArgs;
using detail::ChildFd;
using detail::ChildReport;
using detail::ChildRlimit;

// The child's stack. The child runs a few small uninstrumented frames and
// glibc's syscall(); 64 KiB is generous. A PROT_NONE guard page below turns
// an overflow into a crash of the child (reported as an exit) rather than
// a write into the daemon's memory.
constexpr size_t kStackSize = 64 * 1024;
constexpr size_t kGuardSize = 4096;

class ChildStack {
 public:
  ChildStack() {
    void* p = mmap(nullptr, kStackSize + kGuardSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    mprotect(base_, kGuardSize, PROT_NONE);
  }
  ~ChildStack() {
    if (base_ != nullptr) munmap(base_, kStackSize + kGuardSize);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool ok() const { return base_ != nullptr; }
  void* top() const { return base_ + kGuardSize + kStackSize; }  // page aligned, so 16-byte aligned

 private:
  char* base_ = nullptr;
};

// Everything the child reads, owned by the parent for the duration of the
// clone. Pointers in `args` point into the vectors here and into the plan.
struct Prepared {
  std::vector<std::string> exec_path_storage;
  std::vector<const char*> exec_paths;
  std::vector<char*> argv, envp;
  std::vector<std::string> pid_entries;  // "LISTEN_PID=" and room for the digits, ...
  std::vector<char*> pid_digits;         // where the digits go in each
  std::vector<ChildFd> fds;
  std::vector<int> temps, sorted_targets;
  std::vector<ChildRlimit> rlimits;
  ChildArgs args{};
};

SpawnError error_at(SpawnStage stage, int error, int index = -1) { return SpawnError{stage, error, index, {}}; }

std::vector<std::string> exec_candidates(const SpawnPlan& plan) {
  if (plan.executable.find('/') != std::string::npos) return {plan.executable};
  std::vector<std::string> out;
  std::string_view rest = plan.search_path;
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    // Empty and relative entries would search the daemon's cwd: skipped.
    if (!dir.empty() && dir.front() == '/') out.push_back(std::string(dir) + "/" + plan.executable);
  }
  return out;
}

xpc::Result<xpc::Ok, SpawnError> prepare_fds(const SpawnPlan& plan, Prepared& p) {
  for (int target = 0; target < 3; ++target) {
    const StdioSource& s = plan.stdio[static_cast<size_t>(target)];
    if (const auto* dup = std::get_if<DupFd>(&s)) {
      p.fds.push_back({dup->fd, nullptr, 0, 0, target});
    } else {
      const auto& open = std::get<OpenPath>(s);
      p.fds.push_back({-1, open.path.c_str(), open.flags, open.mode, target});
    }
  }
  for (const FdAction& a : plan.fds) p.fds.push_back({a.parent_fd, nullptr, 0, 0, a.child_fd});
  for (const ChildFd& f : p.fds) {
    if (f.target < 0 || (f.source_fd < 0 && f.path == nullptr))
      return xpc::fail(error_at(SpawnStage::prepare, EBADF, f.target));
    p.sorted_targets.push_back(f.target);
  }
  std::sort(p.sorted_targets.begin(), p.sorted_targets.end());
  if (std::adjacent_find(p.sorted_targets.begin(), p.sorted_targets.end()) != p.sorted_targets.end()) {
    return xpc::fail(error_at(SpawnStage::prepare, EINVAL));  // two sources for one child fd
  }
  p.temps.assign(p.fds.size(), -1);
  return xpc::Ok{};
}

void prepare_strings(const SpawnPlan& plan, Prepared& p) {
  p.exec_path_storage = exec_candidates(plan);
  for (const std::string& s : p.exec_path_storage) p.exec_paths.push_back(s.c_str());
  for (const std::string& s : plan.argv) p.argv.push_back(const_cast<char*>(s.c_str()));
  p.argv.push_back(nullptr);
  for (const std::string& s : plan.envp) p.envp.push_back(const_cast<char*>(s.c_str()));
  p.pid_entries.reserve(plan.pid_env_names.size());  // no reallocation: envp points into them
  for (const std::string& name : plan.pid_env_names) {
    std::string& entry = p.pid_entries.emplace_back(name + "=");
    entry.resize(entry.size() + 24, '\0');  // 20 digits of a 64-bit pid and a NUL, rounded up
    p.envp.push_back(entry.data());
    p.pid_digits.push_back(entry.data() + name.size() + 1);
  }
  p.envp.push_back(nullptr);
}

void fill_args(const SpawnPlan& plan, Prepared& p) {
  ChildArgs& a = p.args;
  a.exec_paths = p.exec_paths.data();
  a.exec_path_count = p.exec_paths.size();
  a.argv = p.argv.data();
  a.envp = p.envp.data();
  a.pid_digits = p.pid_digits.data();
  a.pid_digit_count = p.pid_digits.size();
  a.fds = p.fds.data();
  a.fd_count = p.fds.size();
  a.temps = p.temps.data();
  a.sorted_targets = p.sorted_targets.data();
  a.fd_floor = std::max(3, p.sorted_targets.back() + 1);
  a.session = plan.session;
  for (const Rlimit& l : plan.rlimits) {
    p.rlimits.push_back({l.resource, l.soft.has_value(), l.hard.has_value(), l.soft.value_or(0), l.hard.value_or(0)});
  }
  a.rlimits = p.rlimits.data();
  a.rlimit_count = p.rlimits.size();
  a.set_nice = plan.nice.has_value();
  a.nice = plan.nice.value_or(0);
  a.umask = plan.umask;
  a.root = plan.root_directory.empty() ? nullptr : plan.root_directory.c_str();
  a.cwd = plan.cwd.c_str();
  a.set_credentials = plan.credentials.has_value();
  if (plan.credentials) {
    a.uid = plan.credentials->uid;
    a.gid = plan.credentials->gid;
    a.groups = plan.credentials->groups.data();
    a.group_count = plan.credentials->groups.size();
  }
}

const char* rlimit_name(int resource) {
  switch (resource) {
    case RLIMIT_CORE: return "Core";
    case RLIMIT_CPU: return "CPU";
    case RLIMIT_DATA: return "Data";
    case RLIMIT_FSIZE: return "FileSize";
    case RLIMIT_MEMLOCK: return "MemoryLock";
    case RLIMIT_NOFILE: return "NumberOfFiles";
    case RLIMIT_NPROC: return "NumberOfProcesses";
    case RLIMIT_RSS: return "ResidentSetSize";
    case RLIMIT_STACK: return "Stack";
    default: return "?";
  }
}

std::string subject_of(const SpawnPlan& plan, const Prepared& p, SpawnStage stage, int index) {
  const std::optional<Credentials>& c = plan.credentials;
  switch (stage) {
    case SpawnStage::prepare:
    case SpawnStage::clone:
    case SpawnStage::signals:
    case SpawnStage::session:
    case SpawnStage::fds: return {};
    case SpawnStage::stdio: {
      const auto* open =
          index >= 0 && index < 3 ? std::get_if<OpenPath>(&plan.stdio[static_cast<size_t>(index)]) : nullptr;
      return open != nullptr ? open->path : std::string();
    }
    case SpawnStage::rlimit: return rlimit_name(index);
    case SpawnStage::nice: return std::to_string(plan.nice.value_or(0));
    case SpawnStage::chroot: return plan.root_directory;
    case SpawnStage::chdir: return plan.cwd;
    case SpawnStage::setgroups:
    case SpawnStage::setuid:
      if (!c) return {};
      return c->user_name.empty() ? std::to_string(c->uid) : c->user_name;
    case SpawnStage::setgid:
      if (!c) return {};
      return c->group_name.empty() ? std::to_string(c->gid) : c->group_name;
    case SpawnStage::exec:
      if (index >= 0 && static_cast<size_t>(index) < p.exec_path_storage.size()) {
        return p.exec_path_storage[static_cast<size_t>(index)];
      }
      return plan.executable;
  }
  return {};
}

// The write end of the report pipe must sit at or above the fd floor so that
// closing the gaps between targets in the child cannot close it.
xpc::Result<std::pair<xpc::UniqueFd, xpc::UniqueFd>, SpawnError> report_pipe(int floor) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return xpc::fail(error_at(SpawnStage::prepare, errno));
  xpc::UniqueFd read_end = xpc::UniqueFd::adopt(ends[0]);
  xpc::UniqueFd write_end = xpc::UniqueFd::adopt(ends[1]);
  if (write_end.get() < floor) {
    write_end = xpc::UniqueFd::adopt(fcntl(write_end.get(), F_DUPFD_CLOEXEC, floor));
    if (!write_end) return xpc::fail(error_at(SpawnStage::prepare, errno));
  }
  return std::pair{std::move(read_end), std::move(write_end)};
}

// Blocks every signal of the calling thread while the child shares its
// memory: a handler of the daemon run in the child would act on the
// daemon's state from another process. Restored on scope exit.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

void reap(int pidfd) {
  siginfo_t info{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
  }
}

}  // namespace

const char* to_string(SpawnStage stage) noexcept {
  switch (stage) {
    case SpawnStage::prepare: return "prepare";
    case SpawnStage::clone: return "clone";
    case SpawnStage::signals: return "signals";
    case SpawnStage::stdio: return "stdio";
    case SpawnStage::fds: return "fds";
    case SpawnStage::session: return "session";
    case SpawnStage::rlimit: return "rlimit";
    case SpawnStage::nice: return "nice";
    case SpawnStage::chroot: return "chroot";
    case SpawnStage::chdir: return "chdir";
    case SpawnStage::setgroups: return "setgroups";
    case SpawnStage::setgid: return "setgid";
    case SpawnStage::setuid: return "setuid";
    case SpawnStage::exec: return "exec";
  }
  return "?";
}

std::string SpawnError::message() const {
  std::string what;
  switch (stage) {
    case SpawnStage::prepare: what = "cannot prepare the spawn"; break;
    case SpawnStage::clone: what = "cannot create a process"; break;
    case SpawnStage::signals: what = "cannot reset the signal mask"; break;
    case SpawnStage::stdio: {
      static constexpr const char* kStream[] = {"standard input", "standard output", "standard error"};
      what = "cannot open " + subject + (index >= 0 && index < 3 ? std::string(" for ") + kStream[index] : "");
      break;
    }
    case SpawnStage::fds: what = "cannot pass file descriptor " + std::to_string(index); break;
    case SpawnStage::session: what = "cannot start a new session"; break;
    case SpawnStage::rlimit: what = "cannot set resource limit " + subject; break;
    case SpawnStage::nice: what = "cannot set nice value " + subject; break;
    case SpawnStage::chroot: what = "cannot change root directory to " + subject; break;
    case SpawnStage::chdir: what = "cannot change directory to " + subject; break;
    case SpawnStage::setgroups: what = "cannot set the supplementary groups of user '" + subject + "'"; break;
    case SpawnStage::setgid: what = "cannot switch to group '" + subject + "'"; break;
    case SpawnStage::setuid: what = "cannot switch to user '" + subject + "'"; break;
    case SpawnStage::exec: what = "cannot exec " + subject; break;
  }
  return what + ": " + std::system_category().message(error);
}

xpc::Result<Spawned, SpawnError> spawn(const SpawnPlan& plan) {
  Prepared p;
  if (auto r = prepare_fds(plan, p); !r) return xpc::fail(std::move(r).error());
  prepare_strings(plan, p);
  fill_args(plan, p);
  auto pipe = report_pipe(p.args.fd_floor);
  if (!pipe) return xpc::fail(std::move(pipe).error());
  auto& [read_end, write_end] = *pipe;
  p.args.report_fd = write_end.get();
  ChildStack stack;
  if (!stack.ok()) return xpc::fail(error_at(SpawnStage::prepare, errno));

  int pidfd = -1;
  pid_t pid;
  int clone_errno;
  {
    SignalsBlocked blocked;
    // CLONE_VFORK: this thread resumes once the child has exec'd or exited,
    // so the child may read `p` (on this thread's stack and heap) throughout.
    // With CLONE_PIDFD, the legacy clone() stores the pidfd (CLOEXEC) at the
    // parent_tid argument.
    pid = clone(detail::child_main, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &p.args, &pidfd);
    clone_errno = errno;
  }
  if (pid < 0) return xpc::fail(error_at(SpawnStage::clone, clone_errno));
  xpc::UniqueFd owned_pidfd = xpc::UniqueFd::adopt(pidfd);
  write_end.reset();  // now only an un-exec'd child could hold it, and it has exited or exec'd

  ChildReport report{};
  ssize_t n;
  do {
    n = read(read_end.get(), &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return Spawned{pid, std::move(owned_pidfd)};

  reap(owned_pidfd.get());
  if (n != static_cast<ssize_t>(sizeof report)) return xpc::fail(error_at(SpawnStage::prepare, n < 0 ? errno : EPROTO));
  auto stage = static_cast<SpawnStage>(report.stage);
  SpawnError e{stage, report.error, report.index, subject_of(plan, p, stage, report.index)};
  return xpc::fail(std::move(e));
}

}  // namespace xpcd::launcher
