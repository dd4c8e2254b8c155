// inetd Wait=false: one process per accepted connection.
#include "supervisor/inetd.hpp"

#include "job/types.hpp"
#include "supervisor/log.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xpcd {

InetdChildren::InetdChildren(sd_event* loop, std::string label, JobSockets& sockets, Start start)
    : loop_(loop), label_(std::move(label)), sockets_(sockets), start_(std::move(start)) {
  sockets_.set_on_readable([this](int fd) { accept_one(fd); });
  if (!sockets_.watch(loop_, true)) log_job(LogLevel::error, label_, "sockets", "cannot watch the listeners");
}

// The job is going (bootout, or xpcd stopping): its connections' processes go too.
InetdChildren::~InetdChildren() {
  sockets_.set_on_readable({});
  for (auto& [pid, child] : children_) ::syscall(SYS_pidfd_send_signal, child->pidfd.get(), SIGTERM, nullptr, 0);
}

void InetdChildren::accept_one(int listener) {
  // Non-blocking listener: a connection reset while queued leaves nothing
  // to accept, and xpcd must not block on it.
  auto connection = xpc::UniqueFd::adopt(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!connection) {
    if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
      log_job(LogLevel::warning, label_, "inetd", fmt::format("accept: {}", std::strerror(errno)));
    }
    return;
  }
  auto started = start_(connection.get());
  if (!started) {
    log_job(LogLevel::warning, label_, "inetd", fmt::format("Failed to start for a connection: {}", started.error()));
    return;  // closing the connection tells the client
  }
  auto child = std::make_unique<Child>(Child{this, started->pid, std::move(started->pidfd), {}});
  sd_event_source* source = nullptr;
  if (sd_event_add_io(loop_, &source, child->pidfd.get(), EPOLLIN, on_exit, child.get()) >= 0)
    child->source.reset(source);
  log_job(LogLevel::info, label_, "spawned", fmt::format("pid {} for a connection (inetd)", child->pid));
  children_.emplace(child->pid, std::move(child));
  if (children_.size() >= kMaxInetdChildren) {
    log_job(LogLevel::notice, label_, "inetd",
            fmt::format("{} connections are being served; further ones wait in the kernel", kMaxInetdChildren));
    sockets_.watch(loop_, false);
  }
}

int InetdChildren::on_exit(sd_event_source*, int, uint32_t, void* userdata) noexcept {
  auto* child = static_cast<Child*>(userdata);
  InetdChildren* self = child->owner;
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child->pidfd.get()), &info, WEXITED | WNOHANG) != 0 ||
      info.si_pid == 0) {
    return 0;
  }
  auto status =
      info.si_code == CLD_EXITED ? job::ExitStatus::exited(info.si_status) : job::ExitStatus::killed(info.si_status);
  log_job(LogLevel::info, self->label_, "exited", fmt::format("pid {} {} (inetd)", child->pid, job::describe(status)));
  self->children_.erase(child->pid);  // destroys this source: sd-event allows it from its own callback
  if (!self->sockets_.watching() && self->children_.size() < kMaxInetdChildren) self->sockets_.watch(self->loop_, true);
  return 0;
}

}  // namespace xpcd
