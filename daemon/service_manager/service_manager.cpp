// The sd-daemon client side of xpcd, over libsystemd's sd-daemon.
#include "service_manager/service_manager.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace xpcd::service_manager {

namespace {

// The strv sd_listen_fds_with_names hands out, freed on scope exit.
struct StrvFree {
  void operator()(char** strv) const noexcept {
    if (strv == nullptr) return;
    for (char** s = strv; *s != nullptr; ++s) std::free(*s);
    std::free(strv);
  }
};

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool is_bootstrap_listener(int fd) { return sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, nullptr, 0) > 0; }

}  // namespace

xpc::Result<PassedFds, std::string> take_passed_fds() {
  char** raw_names = nullptr;
  // unset_environment = 1: LISTEN_* are for this process only.
  int n = sd_listen_fds_with_names(1, &raw_names);
  std::unique_ptr<char*, StrvFree> names(raw_names);
  if (n < 0) return xpc::fail(fmt::format("cannot take the fds passed by the service manager: {}", std::strerror(-n)));
  PassedFds passed;
  std::vector<xpc::UniqueFd> unnamed;
  for (int i = 0; i < n; ++i) {
    // sd_listen_fds has set FD_CLOEXEC on each; ownership is ours from here.
    xpc::UniqueFd fd = xpc::UniqueFd::adopt(SD_LISTEN_FDS_START + i);
    std::string name = names && names.get()[i] != nullptr ? names.get()[i] : "unknown";
    std::string what = fmt::format("fd {} named '{}'", fd.get(), name);
    if (name != kBootstrapFdName) {
      unnamed.push_back(std::move(fd));
      continue;
    }
    if (!is_bootstrap_listener(fd.get())) {
      passed.closed.push_back(what + ": not a listening SOCK_SEQPACKET unix socket");
    } else if (!passed.bootstrap) {
      passed.bootstrap = std::move(fd);
    } else if (!same_file(passed.bootstrap.get(), fd.get())) {
      passed.closed.push_back(what + ": a second bootstrap socket");
    }
  }
  // No name given (systemd-socket-activate without --fdname): the only fd.
  if (!passed.bootstrap && n == 1 && !unnamed.empty() && is_bootstrap_listener(unnamed.front().get())) {
    passed.bootstrap = std::move(unnamed.front());
    unnamed.clear();
  }
  for (const auto& fd : unnamed) passed.closed.push_back(fmt::format("fd {}: not the bootstrap socket", fd.get()));
  return passed;
}

std::string bound_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_family != AF_UNIX) return {};
  std::size_t max = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  if (max == 0 || addr.sun_path[0] == '\0') return {};  // unnamed or abstract
  return std::string(addr.sun_path, ::strnlen(addr.sun_path, max));
}

bool manager_listens() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

int notify(const std::string& state) { return sd_notify(0, state.c_str()); }

int store_fd(int fd, std::string_view name) {
  std::string state = fmt::format("FDSTORE=1\nFDNAME={}", name);
  return sd_pid_notify_with_fds(0, 0, state.c_str(), &fd, 1);
}

}  // namespace xpcd::service_manager
