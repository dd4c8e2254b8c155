// NOTIFY_SOCKET: the datagram socket and the sd_notify parser.
#include "supervisor/notify_socket.hpp"

#include "launcher/plan_builder.hpp"
#include "supervisor/log.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace xpcd {
namespace {

// A *_USEC value: decimal digits only. Out of range saturates at 2^62 us
// (the engine bounds what it uses far below: 1 h for an extension, 24 h for
// a watchdog period), so later arithmetic cannot overflow.
std::optional<std::chrono::microseconds> parse_usec(std::string_view value) {
  constexpr std::uint64_t kSaturated = std::uint64_t{1} << 62;
  std::uint64_t usec = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), usec);
  if (ec == std::errc::result_out_of_range) {
    usec = kSaturated;
  } else if (ec != std::errc{} || ptr != value.data() + value.size() || value.empty()) {
    return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(std::min(usec, kSaturated)));
}

}  // namespace

NotifyMessage parse_notify(std::string_view payload) {
  NotifyMessage message;
  while (!payload.empty()) {
    std::size_t end = payload.find('\n');
    std::string_view line = payload.substr(0, end);
    payload = end == std::string_view::npos ? std::string_view{} : payload.substr(end + 1);
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || line.find('\0') != std::string_view::npos) continue;
    std::string_view name = line.substr(0, eq), value = line.substr(eq + 1);
    if (name == "READY") {
      message.ready = message.ready || value == "1";
    } else if (name == "STOPPING") {
      message.stopping = message.stopping || value == "1";
    } else if (name == "WATCHDOG") {
      message.watchdog = message.watchdog || value == "1";
      message.watchdog_trigger = message.watchdog_trigger || value == "trigger";
    } else if (name == "FDSTORE") {
      message.fdstore = message.fdstore || value == "1";
    } else if (name == "FDSTOREREMOVE") {
      message.fdstore_remove = message.fdstore_remove || value == "1";
    } else if (name == "FDPOLL") {
      message.fdpoll = message.fdpoll && value != "0";
    } else if (name == "FDNAME") {
      if (message.fdname || message.bad_fdname) continue;  // the first one counts, as in systemd
      if (launcher::fd_name_ok(value)) {
        message.fdname = std::string(value);
      } else {
        message.bad_fdname = true;
      }
    } else if (name == "STATUS") {
      message.status = std::string(value);
    } else if (name == "EXTEND_TIMEOUT_USEC") {
      if (auto usec = parse_usec(value)) message.extend_timeout = usec;
    } else if (name == "WATCHDOG_USEC") {
      // systemd's USEC_INFINITY (UINT64_MAX) means no watchdog, as 0 does.
      if (value == "18446744073709551615") {
        message.watchdog_usec = std::chrono::microseconds::zero();
      } else if (auto usec = parse_usec(value)) {
        message.watchdog_usec = usec;
      }
    }
  }
  return message;
}

xpc::Result<std::unique_ptr<NotifySocket>, std::string> NotifySocket::open(sd_event* loop, std::string path,
                                                                           Handler handler) {
  std::unique_ptr<NotifySocket> self(new NotifySocket());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return xpc::fail(fmt::format("notify socket path too long: {}", path));
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (struct stat st{}; ::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return xpc::fail(fmt::format("notify socket: {} exists and is not a socket", path));
    ::unlink(path.c_str());
  }
  self->fd_ = xpc::UniqueFd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!self->fd_) return xpc::fail(fmt::format("notify socket: socket: {}", std::strerror(errno)));
  if (::bind(self->fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return xpc::fail(fmt::format("notify socket: bind {}: {}", path, std::strerror(errno)));
  }
  self->path_ = std::move(path);  // from here ~NotifySocket unlinks it
  int one = 1;
  if (::setsockopt(self->fd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
      ::chmod(self->path_.c_str(), 0666) != 0) {
    return xpc::fail(fmt::format("notify socket: {}: {}", self->path_, std::strerror(errno)));
  }
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, self->fd_.get(), EPOLLIN, on_io, self.get()); r < 0) {
    return xpc::fail(fmt::format("notify socket: sd_event_add_io: {}", std::strerror(-r)));
  }
  self->source_.reset(source);
  sd_event_source_set_priority(source, SD_EVENT_PRIORITY_IMPORTANT);
  self->handler_ = std::move(handler);
  return self;
}

NotifySocket::~NotifySocket() {
  source_.reset();
  if (!path_.empty()) ::unlink(path_.c_str());
}

int NotifySocket::on_io(sd_event_source*, int, uint32_t, void* userdata) noexcept {
  static_cast<NotifySocket*>(userdata)->drain();
  return 0;
}

namespace {

// Takes ownership of every fd that came along (FDSTORE, sd_notify_barrier's
// pipe) into `fds` and returns the kernel's credentials, if any.
std::optional<ucred> take_control(msghdr& msg, std::vector<xpc::UniqueFd>& fds) {
  std::optional<ucred> cred;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < n; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (fd >= 0) fds.push_back(xpc::UniqueFd::adopt(fd));
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred u{};
      std::memcpy(&u, CMSG_DATA(c), sizeof(u));
      cred = u;
    }
  }
  return cred;
}

}  // namespace

void NotifySocket::drain() {
  // +1: a datagram that fills the buffer completely may have been longer.
  std::array<char, kMaxNotifyDatagram + 1> buffer{};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 253)> control{};
  for (int i = 0; i < kNotifyBatch; ++i) {
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) return;  // EAGAIN: all read; anything else: the next wake-up retries
    std::vector<xpc::UniqueFd> fds;  // closed at the end of this turn unless the handler keeps them
    std::optional<ucred> cred = take_control(msg, fds);
    if (!cred || cred->pid <= 0) continue;  // SO_PASSCRED always stamps one; be safe
    if (static_cast<std::size_t>(n) > kMaxNotifyDatagram || (msg.msg_flags & MSG_TRUNC) != 0) {
      log_line(LogLevel::notice, fmt::format("notify: a datagram from pid {} is longer than {} bytes, ignored",
                                             cred->pid, kMaxNotifyDatagram));
      continue;
    }
    NotifyMessage message = parse_notify(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    if (!message.empty() && handler_) handler_(cred->pid, message, fds);
  }
}

}  // namespace xpcd
