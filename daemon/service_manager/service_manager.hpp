// xpcd's own side of the sd-daemon protocol, towards the manager that runs
// xpcd (systemd, or anything that speaks it): the bootstrap socket taken
// from LISTEN_FDS, and READY/STOPPING/STATUS/FDSTORE sent to NOTIFY_SOCKET.
// Not xpcd's NOTIFY_SOCKET server for its own jobs (supervisor/notify_socket.*).
// Nothing here logs: main.cpp decides and logs (STYLE 7).
#pragma once

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace xpcd::service_manager {

// The name the bootstrap socket carries in LISTEN_FDNAMES (the socket
// unit's FileDescriptorName=) and in the fd store (FDNAME=).
inline constexpr std::string_view kBootstrapFdName = "bootstrap";

struct PassedFds {
  // The listening bootstrap socket, or empty when none was passed.
  xpc::UniqueFd bootstrap;
  // One line per passed fd that was closed instead (a duplicate of the
  // bootstrap socket, an unknown name, not a listening SOCK_SEQPACKET unix
  // socket), for main to log.
  std::vector<std::string> closed;
};

// Takes the fds passed with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (when
// LISTEN_PID names this process) and unsets those variables, so no job
// inherits them. The bootstrap socket is the first fd named "bootstrap"
// that is a listening SOCK_SEQPACKET unix socket; when no fd has that name
// (systemd-socket-activate without --fdname), the only fd passed if it is
// one. Under socket activation systemd passes the socket unit's fd and the
// fd store's copy of the same socket: same inode, one is kept. Every other
// passed fd is closed. Returns an error only when sd_listen_fds fails.
xpc::Result<PassedFds, std::string> take_passed_fds();

// The path a listening unix socket is bound to ("" for an unnamed one).
std::string bound_path(int fd);

// True when a manager listens (NOTIFY_SOCKET is set).
bool manager_listens();

// Sends `state` ("READY=1\nSTATUS=...") to NOTIFY_SOCKET. 0 when no manager
// listens, > 0 when sent, -errno on failure.
int notify(const std::string& state);

// Stores `fd` in the manager's fd store under `name` (FDSTORE=1), so a
// restart gets it back through LISTEN_FDS. Same return values as notify.
int store_fd(int fd, std::string_view name);

}  // namespace xpcd::service_manager
