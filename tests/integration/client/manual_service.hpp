// The service end of a test played by hand, with no libxpc loop behind it:
// the test takes each connection xpcd hands over on the checkin channel and
// reads, answers or closes it when the scenario says, so it decides exactly
// what the client reads when. Also: waiting until a thread is blocked, for
// scenarios that need a thread parked inside a call before the next step.
#pragma once

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

namespace xpc::test {

// Waits (bounded) until `fd` is readable.
inline bool readable(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// The next message on `fd`, or nullopt when none came in time or it was
// not a message (EOF, garbage).
inline std::optional<wire::Message> receive_message(int fd) {
  if (!readable(fd)) return std::nullopt;
  auto received = wire::receive(fd, MSG_DONTWAIT);
  if (!received) return std::nullopt;
  return std::move(received).value();
}

class ManualService {
 public:
  explicit ManualService(UniqueFd checkin) : checkin_(std::move(checkin)) {}

  // The service end of the next connection handed over (invalid if none
  // came within 10 s).
  UniqueFd accept() {
    auto event = receive_message(checkin_.get());
    if (!event || event->body[protocol::kEvent].as_string() != protocol::kConnection) return UniqueFd();
    return event->body[protocol::kFd].dup_fd();
  }

 private:
  UniqueFd checkin_;
};

inline pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// True once thread `tid` of this process sleeps in a system call (its
// state in /proc is S or D), within 10 s. The caller knows which call the
// thread is about to make; this says it got there and stays there.
inline bool wait_until_blocked(pid_t tid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && (stat[paren + 2] == 'S' || stat[paren + 2] == 'D')) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

// True once thread `tid` of this process sleeps inside system call `nr`
// (SYS_*, the first field of /proc/.../syscall), within 10 s: stricter
// than wait_until_blocked when a brief sleep elsewhere could come first.
inline bool wait_until_in_syscall(pid_t tid, long nr) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/syscall";
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string first;
    in >> first;
    if (first == std::to_string(nr)) return wait_until_blocked(tid);
    std::this_thread::yield();
  }
  return false;
}

}  // namespace xpc::test
