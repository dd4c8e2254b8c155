// Codec benchmark: encode + decode, in memory and across a socketpair, of
// (1) a 10-key dictionary, (2) a 1 MiB data blob, (3) a message carrying
// 4 fds; each beside a baseline that moves the same bytes (and fds) with
// no codec: memcpy, and a plain sendmsg/recvmsg over a socketpair.
//   scripts/bench            (release build, then this program)
#include "bench_harness.hpp"

#include <xpc/codec.hpp>
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

using namespace xpc;

namespace {

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

struct Pair {
  int a, b;
};

Pair seqpacket_pair(int buffer_bytes) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  // Root may raise the buffers past wmem_max, so the 1 MiB baseline can go
  // as one datagram like the memfd does; otherwise the request is capped.
  for (int fd : sv) {
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_bytes, sizeof buffer_bytes) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof buffer_bytes) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    }
  }
  return {sv[0], sv[1]};
}

// The baseline transport: the same bytes and fds with no codec at all.
void raw_send(int sock, const void* bytes, std::size_t n, const int* fds, std::size_t nfds) {
  iovec iov{const_cast<void*>(bytes), n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) die("sendmsg");
}

void raw_receive(int sock, void* buffer, std::size_t n) {
  iovec iov{buffer, n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) die("recvmsg");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

void codec_in_memory(const wire::Message& m) {
  auto e = wire::encode(m);
  if (!e) die("encode");
  std::vector<UniqueFd> fds;
  for (int fd : e->fds) fds.push_back(UniqueFd::adopt(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
  if (e->body_memfd) fds.push_back(std::move(e->body_memfd));
  auto d = wire::decode(e->datagram, std::move(fds));
  if (!d) die("decode");
}

void codec_over_socket(const Pair& p, const wire::Message& m) {
  if (!wire::send(p.a, m)) die("send");
  auto d = wire::receive(p.b);
  if (!d) die("receive");
}

std::size_t datagram_size(const wire::Message& m) {
  auto e = wire::encode(m);
  if (!e) die("encode");
  return e->datagram.size();
}

void bench_message(bench::SideBySide& bench, const char* name, const wire::Message& m, std::size_t raw_bytes,
                   const std::vector<int>& raw_fds) {
  std::vector<char> src(raw_bytes, 'x'), dst(raw_bytes);
  Pair p = seqpacket_pair(static_cast<int>(raw_bytes * 2 + 65536));
  bench.run(std::string(name) + ": encode+decode", [&] { codec_in_memory(m); },
            "memcpy of " + std::to_string(raw_bytes) + " bytes", [&] {
              std::memcpy(dst.data(), src.data(), raw_bytes);
              asm volatile("" : : "r"(dst.data()) : "memory");
            });
  bench.run(std::string(name) + ": send+receive", [&] { codec_over_socket(p, m); },
            "sendmsg/recvmsg of the same bytes" + std::string(raw_fds.empty() ? "" : " and fds"), [&] {
              raw_send(p.a, src.data(), raw_bytes, raw_fds.data(), raw_fds.size());
              raw_receive(p.b, dst.data(), raw_bytes);
            });
  close(p.a);
  close(p.b);
}

}  // namespace

int main() {
  std::printf("xpcd codec benchmark: candidate and baseline alternate in batches; ratio > 1 means xpc is slower\n\n");

  Object dict;
  for (int i = 0; i < 10; ++i) {
    std::string key = "key" + std::to_string(i);
    if (i % 3 == 0) dict[key] = i;
    else if (i % 3 == 1) dict[key] = "value-" + std::to_string(i);
    else dict[key] = 0.5 * i;
  }
  wire::Message small{1, 0, true, dict};
  bench::SideBySide fast(31, 2000);
  bench_message(fast, "10-key dictionary", small, datagram_size(small), {});

  Object blob{{"blob", Object::data(std::string(1 << 20, 'b'))}};
  wire::Message big{2, 0, false, blob};
  bench::SideBySide slow(21, 40);
  bench_message(slow, "1 MiB data blob", big, 1 << 20, {});

  Object with_fds{{"op", "open"}};
  for (int i = 0; i < 4; ++i) with_fds["fd" + std::to_string(i)] = Object::fd_dup(STDERR_FILENO);
  wire::Message fds{3, 0, false, with_fds};
  std::vector<int> raw_fds(4, STDERR_FILENO);
  bench_message(fast, "message with 4 fds", fds, datagram_size(fds), raw_fds);
  return 0;
}
