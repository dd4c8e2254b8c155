// A job's Sockets listeners (DESIGN 4): created when the job is loaded,
// owned here for the job's whole life (kept while the job is down, so the
// kernel queues connections and nothing is lost), CLOEXEC in xpcd, borrowed
// by each spawn as fds 3.. (the launcher sets LISTEN_*). Watching is on only
// when the engine says so (WatchSockets), or always for inetd Wait=false
// jobs, whose connections the glue accepts itself (inetd.hpp).
// Not here: the engine's decisions, the spawn. Runs on the sd-event loop.
#pragma once

#include "manifest/job_spec.hpp"
#include "supervisor/event_loop.hpp"

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace xpcd {

class JobSockets {
 public:
  // Creates, binds and (for stream/seqpacket) listens one socket per
  // SocketSpec, in order. A failure is a value naming the socket and the
  // call ("Sockets 'bus': bind /run/x.sock: Permission denied"); nothing
  // is left behind (paths this call created are unlinked). `nonblocking`
  // for listeners xpcd accepts on itself (inetd Wait=false).
  static xpc::Result<std::unique_ptr<JobSockets>, std::string> open(const std::vector<manifest::SocketSpec>& specs,
                                                                    bool nonblocking);
  ~JobSockets();
  JobSockets(const JobSockets&) = delete;
  JobSockets& operator=(const JobSockets&) = delete;

  // Borrowed fds, one per SocketSpec, in manifest order.
  std::vector<int> fds() const;

  // Set once, before watch: runs on the loop with the listener's fd.
  void set_on_readable(std::function<void(int fd)> on_readable) { on_readable_ = std::move(on_readable); }
  // While on, the handler runs when any listener is readable;
  // level-triggered, so it runs again until the cause is gone or watching
  // is turned off (which the handler itself may do). Returns false if
  // sd-event refused a source.
  bool watch(sd_event* loop, bool on);
  bool watching() const { return watching_; }

 private:
  struct Listener {
    xpc::UniqueFd fd;
    std::string path;  // AF_UNIX path we created, unlinked at close if still ours
    dev_t dev = 0;
    ino_t ino = 0;
    SourcePtr source;
  };
  JobSockets() = default;
  static int on_io(sd_event_source* s, int fd, uint32_t revents, void* userdata) noexcept;

  std::vector<Listener> listeners_;
  std::function<void(int)> on_readable_;
  bool watching_ = false;
};

}  // namespace xpcd
