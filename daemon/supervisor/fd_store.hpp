// A job's file descriptor store, as systemd's (sd_notify FDSTORE=1,
// FileDescriptorStoreMax=): fds an instance hands xpcd over NOTIFY_SOCKET
// to get back at its next start, after its Sockets fds in LISTEN_FDS,
// under their FDNAME in LISTEN_FDNAMES. Owned by the job's entry: the fds
// outlive instances (exits, crashes, idle exits, relaunches) and close
// when the job is removed. Unless stored with FDPOLL=0, each fd that epoll
// can watch is watched for EPOLLHUP/EPOLLERR and dropped when its peer
// goes. Not here: who may store (the supervisor checks the sender is the
// job's instance). Logs its own decisions. Runs on the sd-event loop.
#pragma once

#include "launcher/plan_builder.hpp"
#include "supervisor/event_loop.hpp"

#include <xpc/unique_fd.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xpcd {

// The name of an fd stored without FDNAME=, as in systemd.
inline constexpr std::string_view kDefaultFdName = "stored";

class FdStore {
 public:
  // `max`: the job's FileDescriptorStoreMax (1 to
  // manifest::limits::kMaxFileDescriptorStore; a job with 0 has no store).
  FdStore(sd_event* loop, std::string label, std::size_t max);
  FdStore(const FdStore&) = delete;
  FdStore& operator=(const FdStore&) = delete;

  // Keeps `fds` (taken from the vector) under `name`, in order, until the
  // store is full; the rest are closed, with a notice naming the limit. An
  // fd for an open file already stored is closed and not counted twice
  // (a service that stores again what it got back must not fill the store).
  void add(std::vector<xpc::UniqueFd>& fds, const std::string& name, bool poll);
  // Closes every stored fd named `name`; returns how many.
  std::size_t remove(std::string_view name);

  std::size_t size() const { return stored_.size(); }
  // What the next instance gets, in the launcher's terms: the fds borrowed
  // until the store changes.
  std::vector<launcher::SpawnContext::StoredFd> fds() const;

 private:
  struct Stored {
    FdStore* owner;
    std::string name;
    xpc::UniqueFd fd;
    SourcePtr watch;  // EPOLLHUP/EPOLLERR; null with FDPOLL=0 or an fd epoll cannot watch (a regular file)
  };
  bool holds(int fd) const;
  static int on_hangup(sd_event_source* s, int fd, uint32_t revents, void* userdata) noexcept;

  sd_event* loop_;
  std::string label_;
  std::size_t max_;
  std::vector<std::unique_ptr<Stored>> stored_;  // in the order stored
};

}  // namespace xpcd
