// The codec at work: builds a message with an fd in it, sends it over a
// SOCK_SEQPACKET socketpair, receives and decodes it, prints its
// description, and proves the fd arrived by writing through it.
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

using namespace xpc;

int main() {
  int sock[2];
  int pipefd[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) != 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
    std::perror("codec-demo");
    return 1;
  }

  Object message{
      {"op", "greet"},
      {"count", 3},
      {"ratio", 0.75},
      {"tags", Object::array({"demo", "codec"})},
      {"reply-pipe", Object::fd(UniqueFd::adopt(pipefd[1]))},
  };
  std::printf("sending (%zu keys, one of them an fd) over a socketpair...\n", message.size());
  if (auto sent = wire::send(sock[0], wire::Message{1, 0, true, message}); !sent) {
    std::fprintf(stderr, "codec-demo: send failed: %s\n", sent.error().message().c_str());
    return 1;
  }
  message = Object();  // our copy of the fd is gone; the kernel carries it

  auto received = wire::receive(sock[1]);
  if (!received) {
    std::fprintf(stderr, "codec-demo: receive failed: %s\n", received.error().message().c_str());
    return 1;
  }
  std::printf("received message %llu (wants reply: %s):\n%s\n", static_cast<unsigned long long>(received->id),
              received->wants_reply ? "yes" : "no", received->body.description().c_str());

  const char text[] = "written through the received fd";
  int fd = received->body["reply-pipe"].borrowed_fd();
  char buffer[64] = {};
  if (write(fd, text, sizeof text) != static_cast<ssize_t>(sizeof text) || read(pipefd[0], buffer, sizeof buffer) <= 0) {
    std::perror("codec-demo: pipe");
    return 1;
  }
  std::printf("read back from the pipe: \"%s\"\n", buffer);
  return std::strcmp(buffer, text) == 0 ? 0 : 1;
}
