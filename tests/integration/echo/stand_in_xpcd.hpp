// The test plays xpcd for one real service binary (DESIGN 5.2, 5.3): it
// listens on a bootstrap socket in a temp dir, spawns the service with a
// checkin channel (XPCD_CHECKIN_FD), answers each lookup of the service's
// name with the client's end of a fresh socketpair and hands the other end
// to the service with a peer record built from the client's SO_PEERCRED
// (pid, a pidfd, uid, gid, /proc/PID/exe). Other names get not-found.
// Unlike tests/integration/client/fake_xpcd.hpp, the service is a separate
// process and the peer record is the real client's.
#pragma once

#include <event_queue.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "child_process.hpp"

namespace xpc::test {

class StandInXpcd {
 public:
  StandInXpcd(std::string name, std::string program) : name_(std::move(name)) {
    char pattern[] = "/tmp/xpc-echo-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    path_ = dir_ + "/bootstrap";
    listener_ = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 64) != 0) {
      std::abort();
    }
    int sv[2], stop[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 || ::pipe2(stop, O_CLOEXEC) != 0) {
      std::abort();
    }
    checkin_ = UniqueFd::adopt(sv[0]);
    UniqueFd service_end = UniqueFd::adopt(sv[1]);
    stop_read_ = UniqueFd::adopt(stop[0]);
    stop_write_ = UniqueFd::adopt(stop[1]);
    // The service's end becomes its fd 3, the only fd it inherits besides
    // stdio: dup2 in the child clears CLOEXEC on the copy.
    service_ = spawn({program}, {{protocol::kCheckinFdEnv, "3"}, {protocol::kBootstrapEnv, path_}},
                     {{service_end.get(), 3}}, Output::Inherit);
    thread_ = std::thread([this] { serve(); });
  }

  ~StandInXpcd() {
    if (service_.pid > 0) {
      ::kill(service_.pid, SIGTERM);
      (void)wait_exit(service_, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    }
    (void)::write(stop_write_.get(), "x", 1);
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  StandInXpcd(const StandInXpcd&) = delete;
  StandInXpcd& operator=(const StandInXpcd&) = delete;

  // Kills the service and reaps it (a crash, as xpcd would see it).
  void kill_service() {
    ::kill(service_.pid, SIGKILL);
    (void)wait_exit(service_, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    service_.pid = -1;
  }

  const std::string& bootstrap() const { return path_; }
  pid_t service_pid() const { return service_.pid; }
  int lookups() const { return lookups_.load(); }
  // Events the service sent on its checkin channel ("ready", ...), in order.
  EventQueue<std::string>& checkin_events() { return events_; }

 private:
  void serve() {
    for (;;) {
      pollfd p[3] = {{listener_.get(), POLLIN, 0}, {checkin_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) continue;
      if (p[2].revents != 0) return;
      if (p[1].revents != 0) read_checkin();
      if (p[0].revents != 0) {
        UniqueFd client = UniqueFd::adopt(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client) answer(client.get());
      }
    }
  }

  void read_checkin() {
    auto message = wire::receive(checkin_.get(), MSG_DONTWAIT);
    if (message) {
      events_.push(message->body[protocol::kEvent].string_or("?"));
    } else if (message.error().sys_errno != EAGAIN) {
      events_.push("closed");
      checkin_ = UniqueFd();  // the service is gone; poll ignores fd -1
    }
  }

  void answer(int client) {
    auto request = wire::receive(client);
    if (!request) return;
    ++lookups_;
    std::string name = request->body[protocol::kName].string_or("");
    if (name != name_) {
      send(client, request->id, Object::error(protocol::kErrorNotFound, "no service named '" + name + "'"));
      return;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    UniqueFd service_end = UniqueFd::adopt(sv[1]);
    send(client, request->id, Object{{protocol::kFd, Object::fd(UniqueFd::adopt(sv[0]))}});
    Object event{{protocol::kEvent, protocol::kConnection},
                 {protocol::kFd, Object::fd(std::move(service_end))},
                 {protocol::kService, name_},
                 {protocol::kPeer, peer_record(client)}};
    send(checkin_.get(), 0, event);
  }

  static Object peer_record(int client) {
    ucred cred{};
    socklen_t len = sizeof cred;
    ::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(cred.pid) + "/exe", ec);
    Object record{{protocol::kPid, std::int64_t{cred.pid}},
                  {protocol::kUid, std::uint64_t{cred.uid}},
                  {protocol::kGid, std::uint64_t{cred.gid}},
                  {protocol::kExe, exe.string()},
                  {protocol::kLabel, ""}};
    UniqueFd pidfd = UniqueFd::adopt(static_cast<int>(::syscall(SYS_pidfd_open, cred.pid, 0)));
    if (pidfd) record[protocol::kPidfd] = Object::fd(std::move(pidfd));
    return record;
  }

  static void send(int fd, std::uint64_t reply_to, const Object& body) {
    (void)wire::send(fd, wire::Message{0, reply_to, false, body});
  }

  std::string name_, dir_, path_;
  UniqueFd listener_, checkin_, stop_read_, stop_write_;
  Child service_;
  EventQueue<std::string> events_;
  std::atomic<int> lookups_{0};
  std::thread thread_;
};

}  // namespace xpc::test
