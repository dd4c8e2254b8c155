// libFuzzer target for the wire decoder. The input describes the fds that
// come with the datagram as well as its bytes, so the fuzzer reaches the
// fd checks (shmem seals, endpoint socket types, out-of-line bodies):
//   byte 0: number of fds (low 3 bits)
//   then one byte per fd: its kind in the low 3 bits (see make_fd), a size
//   for kind 2 in the rest
//   the rest: the datagram. A kind-5 fd is a sealed memfd holding the
//   bytes after the header, and the datagram is then the header alone, so
//   out-of-line bodies get fuzzed too.
// Asserts that decoding leaks no fd, whatever the outcome.
#include <xpc/codec.hpp>

#include <fd_count.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace {

xpc::UniqueFd memfd_with(const uint8_t* data, size_t size, int seals) {
  xpc::UniqueFd fd = xpc::UniqueFd::adopt(memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (size > 0 && write(fd.get(), data, size) != static_cast<ssize_t>(size)) std::abort();
  if (seals != 0) fcntl(fd.get(), F_ADD_SEALS, seals);
  return fd;
}

xpc::UniqueFd socket_of(int type) {
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  close(sv[1]);
  return xpc::UniqueFd::adopt(sv[0]);
}

xpc::UniqueFd make_fd(uint8_t kind, const uint8_t* rest, size_t rest_size) {
  switch ((kind & 7) % 6) {
    case 0: {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) std::abort();
      close(p[1]);
      return xpc::UniqueFd::adopt(p[0]);
    }
    case 1: return memfd_with(nullptr, 0, 0);
    case 2: {
      xpc::UniqueFd fd = memfd_with(nullptr, 0, 0);
      if (ftruncate(fd.get(), (kind >> 3) * 8) != 0) std::abort();
      fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK);
      return fd;
    }
    case 3: return socket_of(SOCK_SEQPACKET);
    case 4: return socket_of(SOCK_DGRAM);
    default: {
      size_t skip = rest_size < xpc::wire::kHeaderSize ? rest_size : xpc::wire::kHeaderSize;
      return memfd_with(rest + skip, rest_size - skip, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t nfds = data[0] & 7;
  if (size < 1 + nfds) return 0;
  const uint8_t* rest = data + 1 + nfds;
  size_t rest_size = size - 1 - nfds;

  int before = xpc::test::open_fd_count();
  {
    std::vector<xpc::UniqueFd> fds;
    bool out_of_line = false;
    for (size_t i = 0; i < nfds; ++i) {
      fds.push_back(make_fd(data[1 + i], rest, rest_size));
      out_of_line |= (data[1 + i] & 7) % 6 == 5;
    }
    size_t datagram_size = out_of_line ? std::min(rest_size, xpc::wire::kHeaderSize) : rest_size;
    auto bytes = std::span(reinterpret_cast<const std::byte*>(rest), datagram_size);
    auto decoded = xpc::wire::decode(bytes, std::move(fds));
    if (decoded) {
      // Whatever decodes must describe, compare and re-encode.
      (void)decoded->body.description();
      if (!(decoded->body == decoded->body)) std::abort();
      if (!xpc::wire::encode(*decoded)) std::abort();
    } else {
      (void)decoded.error().message();
    }
  }
  if (xpc::test::open_fd_count() != before) {
    std::fprintf(stderr, "fuzz_wire: the decoder leaked an fd\n");
    std::abort();
  }
  return 0;
}
