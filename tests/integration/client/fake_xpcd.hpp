// A stand-in for xpcd's bootstrap socket, played by the test (as sd-daemon
// tests play the manager): it answers lookups with the client's end of a
// fresh socketpair and hands the service end, with a peer record, to an
// in-process listener through a checkin channel, per DESIGN 5.2/5.3. It
// can also refuse a name, fail a "launch" with a reason, or speak garbage,
// and hold its answers until told, to keep a lookup in flight.
#pragma once

#include <event_queue.hpp>
#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace xpc::test {

class FakeXpcd {
 public:
  enum class Mode { Serve, FailLaunch, Garbage };

  FakeXpcd() {
    dir_ = std::filesystem::temp_directory_path() / ("xpc-fake-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "bootstrap").string();
    listener_ = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_.get(), 16) != 0) {
      std::abort();
    }
    int stop[2];
    if (::pipe2(stop, O_CLOEXEC) != 0) std::abort();
    stop_read_ = UniqueFd::adopt(stop[0]);
    stop_write_ = UniqueFd::adopt(stop[1]);
    ::setenv(protocol::kBootstrapEnv, path_.c_str(), 1);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeXpcd() {
    release_answers();  // a test that failed may have left them held
    (void)::write(stop_write_.get(), "x", 1);
    thread_.join();
    ::unsetenv(protocol::kBootstrapEnv);
    std::filesystem::remove_all(dir_);
  }

  // Registers a service; returns the listener's end of its checkin channel.
  UniqueFd add_service(const std::string& name, Mode mode = Mode::Serve, std::string reason = {}) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    std::lock_guard lock(mu_);
    services_[name] = Service{UniqueFd::adopt(sv[0]), mode, std::move(reason)};
    return UniqueFd::adopt(sv[1]);
  }

  int lookups() const { return lookups_.load(); }

  // Each lookup request, by name, as it arrives (before any answer).
  EventQueue<std::string>& requests() { return requests_; }

  // Answers wait until release_answers().
  void hold_answers() {
    std::lock_guard lock(hold_mu_);
    held_ = true;
  }
  void release_answers() {
    {
      std::lock_guard lock(hold_mu_);
      held_ = false;
    }
    hold_cv_.notify_all();
  }

 private:
  struct Service {
    UniqueFd checkin;
    Mode mode = Mode::Serve;
    std::string reason;
  };

  static std::atomic<int>& counter() {
    static std::atomic<int> n{0};
    return n;
  }

  void serve() {
    for (;;) {
      pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents != 0) return;
      UniqueFd client = UniqueFd::adopt(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) answer(client.get());
    }
  }

  void answer(int client) {
    auto request = wire::receive(client);
    if (!request) return;
    ++lookups_;
    std::string name = request->body[protocol::kName].string_or("");
    requests_.push(name);
    {
      std::unique_lock hold(hold_mu_);
      hold_cv_.wait(hold, [this] { return !held_; });
    }
    std::lock_guard lock(mu_);
    auto it = services_.find(name);
    if (it == services_.end()) {
      reply(client, request->id, Object::error(protocol::kErrorNotFound, "no service named '" + name + "'"));
      return;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    UniqueFd service_end = UniqueFd::adopt(sv[1]);
    reply(client, request->id, Object{{protocol::kFd, Object::fd(UniqueFd::adopt(sv[0]))}});
    Service& s = it->second;
    switch (s.mode) {
      case Mode::Serve: hand_over(s, name, std::move(service_end), client); break;
      case Mode::FailLaunch:
        (void)wire::send(service_end.get(), wire::Message{0, 0, false, Object::error(protocol::kErrorInvalid, s.reason)});
        break;
      case Mode::Garbage: (void)::send(service_end.get(), "garbage", 7, MSG_NOSIGNAL); break;
    }
  }

  void reply(int client, std::uint64_t id, const Object& body) {
    (void)wire::send(client, wire::Message{0, id, false, body});
  }

  void hand_over(Service& s, const std::string& name, UniqueFd service_end, int client) {
    ucred cred{};
    socklen_t len = sizeof cred;
    ::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    Object peer{{protocol::kPid, std::int64_t{cred.pid}},
                {protocol::kUid, std::uint64_t{cred.uid}},
                {protocol::kGid, std::uint64_t{cred.gid}},
                {protocol::kExe, "/proc/self/exe"},
                {protocol::kLabel, ""}};
    Object event{{protocol::kEvent, protocol::kConnection},
                 {protocol::kFd, Object::fd(std::move(service_end))},
                 {protocol::kService, name},
                 {protocol::kPeer, peer}};
    (void)wire::send(s.checkin.get(), wire::Message{0, 0, false, event});
  }

  std::filesystem::path dir_;
  std::string path_;
  UniqueFd listener_, stop_read_, stop_write_;
  std::mutex mu_;
  std::map<std::string, Service> services_;
  std::atomic<int> lookups_{0};
  EventQueue<std::string> requests_;
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool held_ = false;
  std::thread thread_;
};

}  // namespace xpc::test
