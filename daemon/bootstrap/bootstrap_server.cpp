// The bootstrap socket: accept, read requests, answer lookups.
#include "bootstrap/bootstrap_server.hpp"

#include "supervisor/log.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace xpcd {

using xpc::Object;
using xpc::UniqueFd;

namespace {

// The kernel's word on who is at the other end of `fd`.
PeerRecord identify(int fd) {
  PeerRecord peer;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
  }
  int pidfd = -1;
  len = sizeof pidfd;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
    peer.pidfd = UniqueFd::adopt(pidfd);
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  }
  // The exe is read by pid; the pidfd taken before pins the process, so a
  // reused pid would have to outrace it (and the record says pidfd first).
  std::error_code ec;
  auto exe = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", peer.pid), ec);
  if (!ec) peer.exe = exe.string();
  return peer;
}

Object reply_to_lookup(Supervisor& supervisor, const Object& request, int fd) {
  auto name = request[xpc::protocol::kName].as_string();
  if (!name || name->empty() || name->size() > kMaxServiceNameLength) {
    return Object::error(xpc::protocol::kErrorInvalid,
                         fmt::format("lookup needs a service name of 1 to {} bytes", kMaxServiceNameLength));
  }
  auto result = supervisor.lookup(std::string(*name), request[xpc::protocol::kFlags].uint64_or(0), identify(fd));
  if (!result) return std::move(result).error();
  return Object{{xpc::protocol::kFd, Object::fd(std::move(result).value())}};
}

}  // namespace

xpc::Result<xpc::Ok, std::string> BootstrapServer::listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return xpc::fail("bootstrap path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  ::unlink(path.c_str());
  listener_ = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(listener_.get(), SOMAXCONN) != 0) {
    return xpc::fail(fmt::format("cannot listen at {}: {}", path, std::strerror(errno)));
  }
  return adopt(std::move(listener_));
}

xpc::Result<xpc::Ok, std::string> BootstrapServer::adopt(UniqueFd listener) {
  listener_ = std::move(listener);
  int flags = ::fcntl(listener_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(listener_.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return xpc::fail(fmt::format("cannot make the bootstrap socket non-blocking: {}", std::strerror(errno)));
  }
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(loop_, &source, listener_.get(), EPOLLIN, on_listen, this);
  if (r < 0) return xpc::fail(fmt::format("cannot watch the bootstrap socket: {}", std::strerror(-r)));
  listen_source_.reset(source);
  return xpc::Ok{};
}

int BootstrapServer::on_listen(sd_event_source*, int, uint32_t, void* userdata) {
  static_cast<BootstrapServer*>(userdata)->accept_one();
  return 0;
}

void BootstrapServer::accept_one() {
  UniqueFd fd = UniqueFd::adopt(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) return;
  if (clients_.size() >= kMaxBootstrapClients) {
    log_line(LogLevel::warning, fmt::format("refusing a bootstrap client: {} are connected already", clients_.size()));
    return;
  }
  sd_event_source* source = nullptr;
  if (sd_event_add_io(loop_, &source, fd.get(), EPOLLIN, on_client, this) < 0) return;
  int key = fd.get();
  clients_.emplace(key, Client{std::move(fd), SourcePtr(source), std::make_shared<int>(0)});
}

int BootstrapServer::on_client(sd_event_source*, int fd, uint32_t, void* userdata) {
  static_cast<BootstrapServer*>(userdata)->serve(fd);
  return 0;
}

void BootstrapServer::serve(int fd) {
  auto request = xpc::wire::receive(fd);
  if (!request) {
    if (request.error().sys_errno == EAGAIN) return;
    clients_.erase(fd);  // EOF, or a client that cannot frame a message
    return;
  }
  auto verb = request->body[xpc::protocol::kRequest].as_string();
  Object reply;
  if (verb == xpc::protocol::kLookup) {
    reply = reply_to_lookup(supervisor_, request->body, fd);
  } else if (verb == xpc::protocol::kCommand && control_ != nullptr) {
    return command(fd, request->id, request->body);
  } else {
    reply = Object::error(xpc::protocol::kErrorInvalid,
                          fmt::format("unknown request '{}'", verb.value_or("(none)")));
  }
  if (!xpc::wire::send(fd, {0, request->id, false, reply})) clients_.erase(fd);
}

// A control verb: the caller as SO_PEERCRED says. The answer may come
// after this returns (bootout waits for the job to go); by then the client
// may be gone, and its fd number reused by another, which `alive` tells.
void BootstrapServer::command(int fd, std::uint64_t id, const Object& request) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    clients_.erase(fd);
    return;
  }
  std::weak_ptr<int> alive = clients_.at(fd).alive;
  control_->run(control::Caller{cred.uid, cred.gid, cred.pid}, request, [this, fd, id, alive](Object answer) {
    if (alive.expired()) return;
    if (!xpc::wire::send(fd, {0, id, false, answer})) clients_.erase(fd);
  });
}

}  // namespace xpcd
