// Messages over a real SOCK_SEQPACKET socketpair: fds by SCM_RIGHTS,
// out-of-line bodies, oversized datagrams, hostile senders.
#include "wire_builder.hpp"

#include <doctest/doctest.h>
#include <fd_count.hpp>
#include <xpc/limits.hpp>
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

using namespace xpc;
using namespace xpc::wire;

namespace {

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    a = UniqueFd::adopt(fds[0]);
    b = UniqueFd::adopt(fds[1]);
  }
};

// Sends raw bytes and raw fds, as a hostile peer could.
void send_raw(int sock, const std::vector<std::byte>& bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  REQUIRE(sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

}  // namespace

TEST_CASE("a message with an fd crosses a socketpair and the fd works on the other side") {
  int before = xpc::test::open_fd_count();
  {
    SocketPair sp;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    Object body{{"op", "hello"}, {"fd", Object::fd(UniqueFd::adopt(p[1]))}};
    REQUIRE(send(sp.a.get(), Message{5, 0, true, body}).ok());
    body = Object();  // the sender's copy is gone; the kernel holds the fd in flight

    auto got = receive(sp.b.get());
    REQUIRE_MESSAGE(got.ok(), got.error().message());
    CHECK(got->id == 5);
    CHECK(got->wants_reply);
    CHECK(got->body["op"].as_string() == "hello");
    int fd = got->body["fd"].borrowed_fd();
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(write(fd, "ping", 4) == 4);
    char buf[4];
    CHECK(read(p[0], buf, 4) == 4);
    CHECK(std::memcmp(buf, "ping", 4) == 0);
    close(p[0]);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("a 1 MiB blob travels out of line and arrives intact") {
  int before = xpc::test::open_fd_count();
  {
    SocketPair sp;
    std::string blob(1 << 20, '\0');
    for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 31);
    REQUIRE(send(sp.a.get(), Message{1, 0, false, Object{{"blob", Object::data(blob)}}}).ok());
    auto got = receive(sp.b.get());
    REQUIRE(got.ok());
    auto bytes = *got->body["blob"].as_data();
    REQUIRE(bytes.size() == blob.size());
    CHECK(std::memcmp(bytes.data(), blob.data(), blob.size()) == 0);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("a datagram larger than any inline body is refused whole, fds closed") {
  int before = xpc::test::open_fd_count();
  {
    SocketPair sp;
    int sndbuf = 1 << 20;
    REQUIRE(setsockopt(sp.a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);
    xpc::test::WireBuilder b(1);
    b.value(Tag::Fd, 0);
    std::vector<std::byte> bytes = b.datagram();
    bytes.resize(kHeaderSize + limits::kInlineBodyMax + 8);
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    send_raw(sp.a.get(), bytes, {p[0]});
    close(p[0]);
    close(p[1]);
    auto got = receive(sp.b.get());
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == CodecErrc::DatagramTruncated);

    SUBCASE("and the next message still arrives") {
      REQUIRE(send(sp.a.get(), Message{2, 0, false, Object("after")}).ok());
      auto next = receive(sp.b.get());
      REQUIRE(next.ok());
      CHECK(next->body.as_string() == "after");
    }
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("the most fds one sendmsg can carry, against a header that expects fewer, are all closed") {
  int before = xpc::test::open_fd_count();
  {
    SocketPair sp;
    xpc::test::WireBuilder b(static_cast<std::uint32_t>(limits::kMaxFds));
    b.value(Tag::Null, 0);
    std::vector<int> fds(limits::kMaxFds + 1, STDERR_FILENO);  // SCM_MAX_FD
    send_raw(sp.a.get(), b.datagram(), fds);
    auto got = receive(sp.b.get());
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == CodecErrc::FdCountMismatch);
  }
  CHECK(xpc::test::open_fd_count() == before);
}

TEST_CASE("a closed peer reads as Closed, and sending to it fails without SIGPIPE") {
  SocketPair sp;
  sp.a.reset();
  auto got = receive(sp.b.get());
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code == CodecErrc::Closed);
  auto sent = send(sp.b.get(), Message{1, 0, false, Object()});
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().code == CodecErrc::System);
  CHECK(sent.error().sys_errno == EPIPE);
}

TEST_CASE("a non-blocking receive with nothing queued says EAGAIN") {
  SocketPair sp;
  REQUIRE(fcntl(sp.b.get(), F_SETFL, O_NONBLOCK) == 0);
  auto got = receive(sp.b.get());
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().sys_errno == EAGAIN);
}
