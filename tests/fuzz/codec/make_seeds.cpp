// Writes the seed corpus of fuzz_wire: valid messages of every type in the
// fuzz input format (fd kinds, then the datagram). Run once; the seeds are
// committed in tests/fuzz/corpus/fuzz_wire.
//   build/dev/tests/fuzz/make_wire_seeds tests/fuzz/corpus/fuzz_wire
#include <xpc/codec.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

using namespace xpc;

namespace {

// An out-of-line body is written after the header: the fuzz target puts
// it into a sealed memfd (fd kind 5), which the encoder appends last.
void write_seed(const std::string& dir, const std::string& name, const Object& body, std::string fd_kinds) {
  auto encoded = wire::encode(wire::Message{1, 0, true, body});
  if (!encoded) std::abort();
  std::string bytes(reinterpret_cast<const char*>(encoded->datagram.data()), encoded->datagram.size());
  if (encoded->body_memfd) {
    fd_kinds += '\x05';
    char buf[4096];
    ssize_t n;
    while ((n = pread(encoded->body_memfd.get(), buf, sizeof buf, static_cast<off_t>(bytes.size() - wire::kHeaderSize))) > 0) {
      bytes.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(static_cast<char>(fd_kinds.size()));
  out << fd_kinds << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  Uuid u{};
  u[3] = 9;
  write_seed(dir, "scalars", Object{{"n", -1}, {"u", 2u}, {"d", 0.5}, {"b", true}, {"z", Object()},
                                    {"t", Object::date_now()}, {"id", Object::uuid(u)}}, "");
  write_seed(dir, "strings", Object{{"s", "hello"}, {"", ""}, {"data", Object::data("\x01\x02\x03")}}, "");
  write_seed(dir, "nested", Object{{"a", Object::array({1, Object{{"b", Object::array({Object::array()})}}})}}, "");
  write_seed(dir, "error", Object::error("invalid", "no such service"), "");
  write_seed(dir, "fd", Object{{"fd", Object::fd_dup(2)}}, std::string(1, '\0'));
  write_seed(dir, "shmem", Object{{"m", Object::shmem_copy(std::as_bytes(std::span("abcdefgh", 8)))}}, std::string(1, '\x0a'));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 1;
  write_seed(dir, "endpoint", Object{{"e", Object::endpoint(UniqueFd::adopt(sv[0]))}}, std::string(1, '\x03'));
  write_seed(dir, "out_of_line", Object{{"blob", Object::data(std::string(70000, 'q'))}, {"n", 1}}, "");
  return 0;
}
