// The bootstrap socket (DESIGN 5.2): a listening SOCK_SEQPACKET unix
// socket; each client connection carries requests (messages awaiting a
// reply) and gets one reply per request. Requests: lookup, and command (the
// control verbs, answered by the command core, daemon/control, maybe
// later than replies to requests sent after it). The caller
// is identified by SO_PEERCRED and SO_PEERPIDFD, never by what it says.
// Not here: what a lookup does (the Supervisor decides).
#pragma once

#include "control/control.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/supervisor.hpp"

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <map>
#include <memory>
#include <string>

namespace xpcd {

// A client may send requests this long in one name (a service name).
inline constexpr std::size_t kMaxServiceNameLength = 512;
// Open bootstrap connections at once; more are refused (closed at accept)
// so a client cannot exhaust the daemon's fds.
inline constexpr std::size_t kMaxBootstrapClients = 1024;

class BootstrapServer {
 public:
  BootstrapServer(sd_event* loop, Supervisor& supervisor) : loop_(loop), supervisor_(supervisor) {}

  // Binds and listens at `path` (its directory is created, a stale socket
  // replaced), mode 0666: who may look up what is decided per request.
  xpc::Result<xpc::Ok, std::string> listen(const std::string& path);
  // Serves `listener`, a socket already bound and listening (from the
  // service manager: LISTEN_FDS, the fd store). Made non-blocking here; the
  // file at its path is left alone.
  xpc::Result<xpc::Ok, std::string> adopt(xpc::UniqueFd listener);
  // The listening socket, borrowed (for the service manager's fd store).
  int listener_fd() const { return listener_.get(); }
  std::size_t clients() const { return clients_.size(); }
  // The command core answering `command` requests; none: they are refused.
  void set_control(control::Control* control) { control_ = control; }

 private:
  struct Client {
    xpc::UniqueFd fd;
    SourcePtr source;
    std::shared_ptr<int> alive;  // expires with the client: a late answer finds it gone
  };
  static int on_listen(sd_event_source* s, int fd, uint32_t revents, void* userdata);
  static int on_client(sd_event_source* s, int fd, uint32_t revents, void* userdata);
  void accept_one();
  void serve(int fd);
  void command(int fd, std::uint64_t id, const xpc::Object& request);

  sd_event* loop_;
  Supervisor& supervisor_;
  xpc::UniqueFd listener_;
  SourcePtr listen_source_;
  std::map<int, Client> clients_;
  control::Control* control_ = nullptr;
};

}  // namespace xpcd
