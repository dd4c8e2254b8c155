/* raw_echo: the no-library baseline server of activation_bench.cpp. Plain C,
 * libc only, SOCK_SEQPACKET on fd 3 (the LISTEN_FDS fd): each datagram read
 * is sent back unchanged. Not a service: no checkin, no codec.
 *   raw_echo loop   fd 3 a listener: accept and serve connections for ever,
 *                   one at a time, each until EOF; fd 3 connected: serve it
 *                   until EOF, then exit 0.
 *   raw_echo once   fd 3 a listener (systemd-socket-activate without
 *                   --accept): accept one connection; or fd 3 connected.
 *                   Echo one datagram, exit 0.
 * Exit codes: 0 done, 1 a socket call failed, 2 usage. */
#define _GNU_SOURCE /* accept4 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kListenFd = 3 };

static int is_listener(int fd) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting;
}

/* Echoes datagrams until EOF (or only one); returns 0 at EOF or when done. */
static int serve(int fd, int only_one) {
  char buffer[65536];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return 0;
    if (n < 0) return 1;
    if (send(fd, buffer, (size_t)n, MSG_NOSIGNAL) != n) return 1;
    if (only_one) return 0;
  }
}

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "loop") != 0 && strcmp(argv[1], "once") != 0)) return 2;
  int once = strcmp(argv[1], "once") == 0;
  if (!is_listener(kListenFd)) return serve(kListenFd, once);
  for (;;) {
    int connection = accept4(kListenFd, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) return 1;
    int failed = serve(connection, once);
    close(connection);
    if (once) return failed;
  }
}
