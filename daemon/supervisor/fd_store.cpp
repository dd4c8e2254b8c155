// The file descriptor store of one job (FDSTORE=1).
#include "supervisor/fd_store.hpp"

#include "supervisor/log.hpp"

#include <fmt/format.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xpcd {

namespace {

// Whether two of our fds refer to the same open file description, as
// systemd's same_fd(): kcmp(2) first, which asks nothing of the file's
// owner (fstat on a FUSE file asks the user's FUSE daemon, which could
// stall xpcd's loop). Only where kcmp is missing or filtered (ENOSYS,
// EPERM under a seccomp profile) the inodes are compared: the same file,
// if not the same description, which errs towards not storing twice.
bool same_open_file(int a, int b) {
  const pid_t self = ::getpid();
  long r = ::syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);
  if (r >= 0) return r == 0;
  if (errno != ENOSYS && errno != EPERM) return false;
  struct stat sa{}, sb{};
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

FdStore::FdStore(sd_event* loop, std::string label, std::size_t max)
    : loop_(loop), label_(std::move(label)), max_(max) {}

bool FdStore::holds(int fd) const {
  return std::any_of(stored_.begin(), stored_.end(), [fd](const auto& s) { return same_open_file(s->fd.get(), fd); });
}

void FdStore::add(std::vector<xpc::UniqueFd>& fds, const std::string& name, bool poll) {
  std::size_t kept = 0, closed = 0;
  for (xpc::UniqueFd& fd : fds) {
    if (!fd || holds(fd.get())) continue;  // closed with the vector: stored already
    if (stored_.size() >= max_) {
      ++closed;
      continue;
    }
    auto stored = std::make_unique<Stored>(Stored{this, name, std::move(fd), {}});
    sd_event_source* source = nullptr;
    // Events 0: epoll reports EPOLLHUP and EPOLLERR always. EPERM: an fd
    // epoll cannot watch (a regular file, a memfd) has no peer to lose.
    if (poll && sd_event_add_io(loop_, &source, stored->fd.get(), 0, on_hangup, stored.get()) >= 0) {
      stored->watch.reset(source);
    }
    stored_.push_back(std::move(stored));
    ++kept;
  }
  if (kept > 0) {
    log_job(LogLevel::info, label_, "fdstore",
            fmt::format("stored {} fds named '{}' ({} of {} in use)", kept, name, stored_.size(), max_));
  }
  if (closed > 0) {
    log_job(LogLevel::notice, label_, "fdstore",
            fmt::format("the store is full (FileDescriptorStoreMax={}); {} more fds named '{}' were closed", max_,
                        closed, name));
  }
}

std::size_t FdStore::remove(std::string_view name) {
  std::size_t removed = std::erase_if(stored_, [name](const auto& s) { return s->name == name; });
  log_job(LogLevel::info, label_, "fdstore", fmt::format("removed {} fds named '{}' (FDSTOREREMOVE=1)", removed, name));
  return removed;
}

std::vector<launcher::SpawnContext::StoredFd> FdStore::fds() const {
  std::vector<launcher::SpawnContext::StoredFd> out;
  out.reserve(stored_.size());
  for (const auto& s : stored_) out.push_back({s->fd.get(), s->name});
  return out;
}

// The peer of a stored socket or pipe went away: what it connected to is
// gone, so the next instance has no use for it (systemd drops it too).
int FdStore::on_hangup(sd_event_source*, int, uint32_t, void* userdata) noexcept {
  auto* stored = static_cast<Stored*>(userdata);
  FdStore& self = *stored->owner;
  log_job(LogLevel::info, self.label_, "fdstore",
          fmt::format("a stored fd named '{}' hung up and was dropped", stored->name));
  std::erase_if(self.stored_, [stored](const auto& s) { return s.get() == stored; });
  return 0;
}

}  // namespace xpcd
