// inetd mode with Wait=false (inetdCompatibility = {Wait = false}): the
// glue accepts each connection on the job's listeners and starts one
// process per connection, with the connection as stdin and stdout. These
// children are not the engine's instance (the engine is one-instance); they
// are tracked here by pidfd, logged when they end, and sent SIGTERM when the
// job goes away. At most kMaxInetdChildren run per job; past that the
// listeners are not watched and the kernel queues the connections.
// Not here: Wait=true (the engine's normal socket activation with the
// listener as stdin too, see supervisor.cpp). Runs on the sd-event loop.
#pragma once

#include "launcher/spawn.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/sockets.hpp"

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace xpcd {

// Each child holds a connection; a bound keeps one busy job from taking
// every process and fd slot of the domain.
inline constexpr std::size_t kMaxInetdChildren = 64;

class InetdChildren {
 public:
  // Starts one process for a connection (borrowed: spawn dups it). The
  // error is the launcher's text, logged here once.
  using Start = std::function<xpc::Result<launcher::Spawned, std::string>(int connection)>;

  // `sockets` is borrowed and outlives this object (both live in the job's
  // entry); this object takes over its readable handler and watches it.
  InetdChildren(sd_event* loop, std::string label, JobSockets& sockets, Start start);
  ~InetdChildren();
  InetdChildren(const InetdChildren&) = delete;
  InetdChildren& operator=(const InetdChildren&) = delete;

  std::size_t running() const { return children_.size(); }

 private:
  struct Child {
    InetdChildren* owner;
    pid_t pid;
    xpc::UniqueFd pidfd;
    SourcePtr source;
  };
  void accept_one(int listener);
  static int on_exit(sd_event_source* s, int fd, uint32_t revents, void* userdata) noexcept;

  sd_event* loop_;
  std::string label_;
  JobSockets& sockets_;
  Start start_;
  std::map<pid_t, std::unique_ptr<Child>> children_;
};

}  // namespace xpcd
