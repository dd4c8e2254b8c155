// The NOTIFY_SOCKET protocol (sd_notify): one SOCK_DGRAM unix socket per
// xpcd with SO_PASSCRED. Each datagram is attributed by the sender pid the
// kernel stamped on it (SCM_CREDENTIALS; a pid a sender claims there is
// checked by the kernel, which allows another pid only with CAP_SYS_ADMIN,
// as systemd relies on too), never by anything in the payload. The parser
// is a pure function; the socket hands parsed messages to the supervisor,
// which maps the pid to an instance and feeds the engine's Notify* events
// or, with FDSTORE=1, keeps the fds that came along (fd_store.hpp).
// Not here: what the messages mean (the engine), what is stored (fds the
// handler does not take are closed when it returns, which also completes
// sd_notify_barrier). Runs on the sd-event loop.
#pragma once

#include "supervisor/event_loop.hpp"

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xpcd {

// Bounds: a datagram longer than this is dropped whole (systemd's own
// limit is 4 KiB too); the engine clamps STATUS= further (512 bytes).
inline constexpr std::size_t kMaxNotifyDatagram = 4096;
// Datagrams read per wake-up before other sources get their turn.
inline constexpr int kNotifyBatch = 64;

// One datagram: newline-separated NAME=VALUE assignments. Unknown names and
// malformed values are ignored, as sd_notify readers do.
struct NotifyMessage {
  bool ready = false;                                       // READY=1
  bool stopping = false;                                    // STOPPING=1
  bool watchdog = false;                                    // WATCHDOG=1
  bool watchdog_trigger = false;                            // WATCHDOG=trigger
  std::optional<std::chrono::microseconds> watchdog_usec;   // WATCHDOG_USEC=N (last one wins)
  bool fdstore = false;                                     // FDSTORE=1: keep the fds sent along
  bool fdstore_remove = false;                              // FDSTOREREMOVE=1: drop the stored fds named FDNAME
  bool fdpoll = true;                                       // FDPOLL=0 clears it: do not drop them on EPOLLHUP
  // FDNAME=name, the first one, as systemd reads it; set only when valid
  // (launcher::fd_name_ok). A bad one sets bad_fdname and is ignored.
  std::optional<std::string> fdname;
  bool bad_fdname = false;
  std::optional<std::chrono::microseconds> extend_timeout;  // EXTEND_TIMEOUT_USEC=N
  std::optional<std::string> status;                        // STATUS=text (last one wins)
  bool empty() const {
    return !ready && !stopping && !watchdog && !watchdog_trigger && !watchdog_usec && !fdstore && !fdstore_remove &&
           !extend_timeout && !status;
  }
};

NotifyMessage parse_notify(std::string_view payload);

class NotifySocket {
 public:
  // Called for each well-formed datagram with its kernel-stamped sender pid
  // and the fds that came along (CLOEXEC); those it does not move away
  // close when it returns.
  using Handler = std::function<void(pid_t sender, const NotifyMessage& message, std::vector<xpc::UniqueFd>& fds)>;

  // Binds `path` (a stale socket there is replaced; anything else is an
  // error), mode 0666 so jobs running as other users can reach it (who may
  // speak is decided per datagram by pid), SO_PASSCRED, and watches it at
  // a priority above the pidfds, so a message sent just before an exit is
  // read before the exit is handled.
  static xpc::Result<std::unique_ptr<NotifySocket>, std::string> open(sd_event* loop, std::string path,
                                                                      Handler handler);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // Reads and dispatches what is queued now (at most kNotifyBatch).
  void drain();

 private:
  NotifySocket() = default;
  static int on_io(sd_event_source* s, int fd, uint32_t revents, void* userdata) noexcept;

  std::string path_;
  xpc::UniqueFd fd_;
  SourcePtr source_;
  Handler handler_;
};

}  // namespace xpcd
