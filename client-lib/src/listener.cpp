// The service side: the checkin channel from xpcd (DESIGN 5.3) and the
// connections it hands over, each with its client's peer record.
#include "connection_impl.hpp"
#include "idle_exit.hpp"
#include "runtime.hpp"
#include "transactions.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace xpc::detail {

namespace {

PeerInfo peer_from(const Object& record) {
  PeerInfo info;
  info.pid = static_cast<std::int32_t>(record[protocol::kPid].int64_or(0));
  info.uid = static_cast<std::uint32_t>(record[protocol::kUid].uint64_or(0));
  info.gid = static_cast<std::uint32_t>(record[protocol::kGid].uint64_or(0));
  info.exe = record[protocol::kExe].string_or("");
  info.label = record[protocol::kLabel].string_or("");
  return info;
}

}  // namespace

class CheckinChannel : public Watched {
 public:
  CheckinChannel(UniqueFd fd, ConnectionHandler on_connection)
      : fd_(std::move(fd)), on_connection_(std::move(on_connection)) {}

  int fd() const { return fd_.get(); }

  void cancel() {
    ConnectionHandler gone;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      gone.swap(on_connection_);
    }
    Transactions::get().detach(fd_.get());
    Runtime::get().unwatch(fd_.get());
  }

  void on_readable() override {
    auto received = wire::receive(fd_.get(), MSG_DONTWAIT);
    if (!received) {
      // ECONNRESET is one-shot: what xpcd sent before closing is still queued.
      if (received.error().sys_errno == EAGAIN || received.error().sys_errno == ECONNRESET) return;
      // xpcd went away (or spoke nonsense). Connections already handed over
      // are direct socketpairs and keep working (DESIGN 2).
      cancel();
      return;
    }
    const Object& body = received->body;
    auto event = body[protocol::kEvent].as_string();
    if (event == protocol::kConnection) accept(body, received->id);
    if (event == protocol::kExitIfIdle) answer_exit_if_idle(fd_.get());
    if (event == protocol::kTerminationImminent) announce_termination();
  }

 private:
  void accept(const Object& event, std::uint64_t id) {
    UniqueFd fd = event[protocol::kFd].dup_fd();
    if (!fd) return;
    // Ours now: xpcd may drop its copy (it keeps one until told, so that a
    // connection handed to an instance that dies before taking it is not lost).
    Object accepted{{protocol::kEvent, protocol::kAccepted}, {protocol::kId, id}};
    (void)wire::send(fd_.get(), wire::Message{0, 0, false, accepted});
    const Object& record = event[protocol::kPeer];
    auto impl = ConnectionImpl::peer(std::move(fd), event[protocol::kService].string_or(""), peer_from(record),
                                     record[protocol::kPidfd].dup_fd());
    ConnectionHandler handler;
    {
      std::lock_guard lock(mu_);
      handler = on_connection_;
    }
    if (handler) handler(ConnectionImpl::wrap(impl->handle()));
  }

  UniqueFd fd_;
  std::mutex mu_;
  bool cancelled_ = false;
  ConnectionHandler on_connection_;
};

namespace {

// The checkin fd named in the environment, taken over: CLOEXEC from now on
// and the variable removed, so the service's own children inherit neither.
int checkin_fd_from_environment() {
  const char* text = std::getenv(protocol::kCheckinFdEnv);
  if (text == nullptr) return -1;
  char* end = nullptr;
  long fd = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || fd < 0 || fd > 1 << 20) return -1;
  ::unsetenv(protocol::kCheckinFdEnv);
  if (::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC) != 0) return -1;
  return static_cast<int>(fd);
}

}  // namespace

Connection ConnectionImpl::wrap(Object handle) { return Connection(std::move(handle)); }

}  // namespace xpc::detail

namespace xpc {

Result<Listener, std::string> Listener::start(ConnectionHandler on_connection, int checkin_fd) {
  if (checkin_fd < 0) checkin_fd = detail::checkin_fd_from_environment();
  if (checkin_fd < 0) {
    return fail(std::string("no checkin channel: ") + protocol::kCheckinFdEnv +
                " is not set to an fd (was this process launched by xpcd?)");
  }
  UniqueFd owned = UniqueFd::adopt(checkin_fd);
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(checkin_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) {
    return fail("the checkin channel (fd " + std::to_string(checkin_fd) + ") is not a SOCK_SEQPACKET socket");
  }
  auto channel = std::make_shared<detail::CheckinChannel>(std::move(owned), std::move(on_connection));
  int fd = channel->fd();
  detail::Runtime::get().watch(fd, channel);
  detail::Transactions::get().attach(fd);
  // Checked in: xpcd hands over what it holds from now on.
  if (auto sent = wire::send(fd, wire::Message{1, 0, false, Object{{protocol::kEvent, protocol::kReady}}}); !sent) {
    channel->cancel();
    return fail("cannot check in with xpcd: " + sent.error().message());
  }
  return Listener(std::move(channel));
}

void Listener::cancel() {
  if (channel_) channel_->cancel();
}

void service_main(ConnectionHandler on_connection) {
  // Serve on this thread when the loop has not started elsewhere yet: a
  // service then needs no second thread at all.
  bool here = detail::Runtime::get().select_external();
  auto listener = Listener::start(std::move(on_connection));
  if (!listener) {
    std::fprintf(stderr, "xpc service: %s\n", listener.error().c_str());
    std::exit(1);
  }
  if (here) detail::Runtime::get().run_here();
  for (;;) ::pause();
}

}  // namespace xpc
