// A service manager without systemd, for tests of xpcd's own sd-daemon
// side: the test owns the NOTIFY_SOCKET (AF_UNIX datagrams with
// SO_PASSCRED, so each carries the sender's kernel-stamped pid) and the
// bootstrap listening socket, passes the latter as LISTEN_FDS the way
// systemd does (LISTEN_PID set in the child after fork), and keeps what
// xpcd stores with FDSTORE=1. Waits are bounded polls, never sleeps.
#pragma once

#include <doctest/doctest.h>
#include <xpc/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace xpc::test {

struct Notification {
  std::string text;  // "READY=1\nSTATUS=..."
  pid_t pid = 0;     // SCM_CREDENTIALS: who really sent it
  std::vector<UniqueFd> fds;

  bool has(std::string_view line) const {
    std::string_view rest = text;
    while (!rest.empty()) {
      auto end = rest.find('\n');
      if (rest.substr(0, end) == line) return true;
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
    return false;
  }
};

inline sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// A listening SOCK_SEQPACKET socket at `path`, as a socket unit makes it.
inline UniqueFd listen_seqpacket(const std::string& path) {
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_un addr = unix_address(path);
  ::unlink(path.c_str());
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd.get(), 16) == 0);
  return fd;
}

// The path a unix socket is bound to.
inline std::string bound_path_of(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  return std::string(addr.sun_path, ::strnlen(addr.sun_path, sizeof addr.sun_path));
}

inline bool same_socket(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

class FakeManager {
 public:
  explicit FakeManager(std::filesystem::path dir) : dir_(std::move(dir)) {
    notify_path_ = (dir_ / "notify").string();
    notify_ = UniqueFd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(notify_);
    int on = 1;
    REQUIRE(::setsockopt(notify_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    sockaddr_un addr = unix_address(notify_path_);
    ::unlink(notify_path_.c_str());
    REQUIRE(::bind(notify_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }

  ~FakeManager() { stop(); }

  struct Launch {
    std::vector<std::string> argv;
    int listen_fd = -1;                   // passed as fd 3 with LISTEN_FDS=1, or none
    std::string fd_name = "bootstrap";    // LISTEN_FDNAMES; "" leaves it unset
    std::vector<std::string> extra_env;   // "NAME=value"
    int stderr_fd = -1;                   // the child's stderr; -1: the log file
  };

  // Forks and execs like systemd: LISTEN_PID is the child's own pid,
  // written after fork with async-signal-safe calls only.
  void start(const Launch& launch) {
    REQUIRE(pid_ <= 0);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view v = *e;
      if (v.starts_with("LISTEN_") || v.starts_with("NOTIFY_SOCKET=") || v.starts_with("WATCHDOG_")) continue;
      env.emplace_back(v);
    }
    env.push_back("NOTIFY_SOCKET=" + notify_path_);
    if (launch.listen_fd >= 0) {
      env.emplace_back("LISTEN_FDS=1");
      if (!launch.fd_name.empty()) env.push_back("LISTEN_FDNAMES=" + launch.fd_name);
    }
    for (const auto& e : launch.extra_env) env.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    char listen_pid[32] = "LISTEN_PID=";
    if (launch.listen_fd >= 0) envp.push_back(listen_pid);
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (const auto& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::string log = (dir_ / "xpcd.log").string();
    int log_fd = launch.stderr_fd >= 0 ? ::fcntl(launch.stderr_fd, F_DUPFD_CLOEXEC, 3)
                                       : ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(log_fd >= 0);

    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) exec_child(argv.data(), envp.data(), listen_pid, launch.listen_fd, log_fd);
    ::close(log_fd);
    pidfd_ = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    REQUIRE(pidfd_);
  }

  pid_t pid() const { return pid_; }

  // The next notification from the running child with `line` in it; the
  // ones before it are kept in `seen()`. nullopt after `timeout`.
  std::optional<Notification> wait_for(std::string_view line,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (!it->has(line)) continue;
        Notification n = std::move(*it);
        pending_.erase(it);
        return n;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{notify_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) == 1) receive_one();
    }
  }

  // Sends `signal` and waits (bounded) for the child to exit; its status.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    pollfd p{pidfd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    pidfd_ = UniqueFd();
    return status;
  }

  std::string log() const {
    std::string text;
    UniqueFd fd = UniqueFd::adopt(::open((dir_ / "xpcd.log").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[4096];
    ssize_t n;
    while (fd && (n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    return text;
  }

 private:
  [[noreturn]] static void exec_child(char** argv, char** envp, char* listen_pid, int listen_fd, int log_fd) {
    if (listen_fd >= 0) {
      // "LISTEN_PID=" + getpid(), by hand: no allocation after fork.
      char digits[16];
      int n = 0;
      for (pid_t v = ::getpid(); v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
      char* out = listen_pid + std::strlen("LISTEN_PID=");
      while (n > 0) *out++ = digits[--n];
      *out = '\0';
      // dup2 clears FD_CLOEXEC on the copy; an fd already at 3 keeps it, so clear it there.
      if (listen_fd == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else if (::dup2(listen_fd, 3) != 3) {
        ::_exit(126);
      }
    }
    ::dup2(log_fd, 2);
    ::execve(argv[0], argv, envp);
    ::_exit(127);
  }

  void receive_one() {
    char text[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    iovec iov{text, sizeof text - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(notify_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) return;
    Notification note;
    note.text.assign(text, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        note.pid = cred.pid;
      } else if (c->cmsg_type == SCM_RIGHTS) {
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          note.fds.push_back(UniqueFd::adopt(fd));
        }
      }
    }
    CHECK_MESSAGE((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0, "truncated notification: " << note.text);
    pending_.push_back(std::move(note));
  }

  std::filesystem::path dir_;
  std::string notify_path_;
  UniqueFd notify_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::vector<Notification> pending_;
};

}  // namespace xpc::test
