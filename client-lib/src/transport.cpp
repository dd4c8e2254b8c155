// Messages over SOCK_SEQPACKET sockets.
#include <xpc/limits.hpp>
#include <xpc/transport.hpp>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace xpc::wire {

namespace {

// Room for every fd a message may carry plus the out-of-line body memfd.
constexpr std::size_t kMaxFdsPerDatagram = limits::kMaxFds + 1;
constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(int) * kMaxFdsPerDatagram) + CMSG_SPACE(sizeof(ucred));

// One more byte than the largest valid datagram, so an oversized one shows
// as MSG_TRUNC rather than silently fitting.
constexpr std::size_t kReceiveBufferSize = kHeaderSize + limits::kInlineBodyMax;

CodecError system_error(const char* what) { return CodecError{CodecErrc::System, what, errno}; }

// Takes ownership of every fd in the control messages, and notes the
// sender's credentials when the kernel attached them.
Result<std::vector<UniqueFd>, CodecError> collect_fds(msghdr& msg, std::optional<Credentials>& sender) {
  std::vector<UniqueFd> fds;
  bool unexpected = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      sender = Credentials{cred.pid, cred.uid, cred.gid};
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < n; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.push_back(UniqueFd::adopt(fd));
      }
    } else {
      unexpected = true;
    }
  }
  if (unexpected) return fail(CodecError{CodecErrc::UnexpectedControl, "ancillary data other than fds"});
  return fds;
}

}  // namespace

Result<Ok, CodecError> send_encoded(int socket, const Encoded& encoded) {
  std::size_t nfds = encoded.fds.size() + (encoded.body_memfd ? 1 : 0);
  alignas(cmsghdr) std::array<char, kControlSize> control{};
  iovec iov{const_cast<std::byte*>(encoded.datagram.data()), encoded.datagram.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    if (!encoded.fds.empty()) std::memcpy(CMSG_DATA(c), encoded.fds.data(), sizeof(int) * encoded.fds.size());
    if (encoded.body_memfd) {
      int memfd = encoded.body_memfd.get();
      std::memcpy(CMSG_DATA(c) + sizeof(int) * encoded.fds.size(), &memfd, sizeof memfd);
    }
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail(system_error("sendmsg"));
  return Ok{};
}

Result<Ok, CodecError> send(int socket, const Message& message) {
  auto encoded = encode(message);
  if (!encoded) return fail(std::move(encoded).error());
  return send_encoded(socket, *encoded);
}

Result<Message, CodecError> receive(int socket, int flags) {
  // Per thread, so concurrent receivers never share it; decode copies out
  // what it keeps.
  thread_local std::array<std::byte, kReceiveBufferSize + 1> buffer;
  alignas(cmsghdr) std::array<char, kControlSize> control;
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail(system_error("recvmsg"));

  std::optional<Credentials> sender;
  auto fds = collect_fds(msg, sender);  // owned from here: closed on every error path
  if (!fds) return fail(std::move(fds).error());
  if (n == 0 && fds->empty()) return fail(CodecError{CodecErrc::Closed, "peer closed the connection"});
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    return fail(CodecError{CodecErrc::ControlTruncated, "more than " + std::to_string(kMaxFdsPerDatagram) + " fds"});
  }
  if ((msg.msg_flags & MSG_TRUNC) != 0 || static_cast<std::size_t>(n) > kReceiveBufferSize) {
    return fail(CodecError{CodecErrc::DatagramTruncated, "datagram over " + std::to_string(kReceiveBufferSize) + " bytes"});
  }
  auto message = decode(std::span(buffer.data(), static_cast<std::size_t>(n)), std::move(fds).value());
  if (message) message->sender = sender;
  return message;
}

}  // namespace xpc::wire
