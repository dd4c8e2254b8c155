// Sockets listeners: creation from SocketSpec, ownership, watching.
#include "supervisor/sockets.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xpcd {

namespace {

using manifest::SocketSpec;

int socket_type(manifest::SockType type) {
  switch (type) {
    case manifest::SockType::stream: return SOCK_STREAM;
    case manifest::SockType::dgram: return SOCK_DGRAM;
    case manifest::SockType::seqpacket: return SOCK_SEQPACKET;
  }
  return SOCK_STREAM;
}

std::string failure(const SocketSpec& spec, std::string_view call, std::string_view what, int error) {
  return fmt::format("Sockets '{}': {} {}: {}", spec.group, call, what, std::strerror(error));
}

// Keys xpcd does not implement: refusing the job says so; running it with
// a socket it did not ask for would not.
std::string unsupported(const SocketSpec& spec) {
  if (!spec.passive) return "SockPassive=false (a connecting socket) is not supported";
  if (!spec.multicast_group.empty()) return "MulticastGroup is not supported";
  if (!spec.secure_socket_key.empty()) return "SecureSocketWithKey is not supported";
  return {};
}

struct Made {
  xpc::UniqueFd fd;
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

xpc::Result<Made, std::string> make_unix(const SocketSpec& spec, int flags) {
  if (spec.family == manifest::SockFamily::ipv4 || spec.family == manifest::SockFamily::ipv6) {
    return xpc::fail(fmt::format("Sockets '{}': SockPathName with an IP SockFamily", spec.group));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (spec.path_name.empty() || spec.path_name.size() >= sizeof(addr.sun_path)) {
    return xpc::fail(
        fmt::format("Sockets '{}': SockPathName must be 1 to {} bytes", spec.group, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, spec.path_name.data(), spec.path_name.size());
  const char* path = spec.path_name.c_str();
  // A socket file left by an earlier run is stale (nobody can be listening
  // on a path we are about to own); anything else there is not ours.
  if (struct stat st{}; ::lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return xpc::fail(fmt::format("Sockets '{}': {} exists and is not a socket", spec.group, path));
    ::unlink(path);
  }
  auto fd = xpc::UniqueFd::adopt(::socket(AF_UNIX, socket_type(spec.type) | flags, 0));
  if (!fd) return xpc::fail(failure(spec, "socket", "AF_UNIX", errno));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return xpc::fail(failure(spec, "bind", path, errno));
  }
  Made made{std::move(fd), spec.path_name};
  auto undo = [&](std::string_view call) {
    int error = errno;
    ::unlink(path);
    return failure(spec, call, path, error);
  };
  if (spec.path_mode && ::chmod(path, static_cast<mode_t>(*spec.path_mode & 07777)) != 0)
    return xpc::fail(undo("chmod"));
  if ((spec.path_owner || spec.path_group) &&
      ::lchown(path, spec.path_owner ? *spec.path_owner : static_cast<uid_t>(-1),
               spec.path_group ? *spec.path_group : static_cast<gid_t>(-1)) != 0) {
    return xpc::fail(undo("chown"));
  }
  struct stat st {};
  if (::stat(path, &st) != 0) return xpc::fail(undo("stat"));
  made.dev = st.st_dev;
  made.ino = st.st_ino;
  return made;
}

xpc::Result<Made, std::string> make_inet(const SocketSpec& spec, int flags) {
  if (spec.service_name.empty())
    return xpc::fail(fmt::format("Sockets '{}': needs SockServiceName or SockPathName", spec.group));
  addrinfo hints{};
  hints.ai_family = spec.family == manifest::SockFamily::ipv4   ? AF_INET
                    : spec.family == manifest::SockFamily::ipv6 ? AF_INET6
                                                                : AF_UNSPEC;
  hints.ai_socktype = socket_type(spec.type);
  hints.ai_protocol = spec.protocol == manifest::SockProtocol::tcp   ? IPPROTO_TCP
                      : spec.protocol == manifest::SockProtocol::udp ? IPPROTO_UDP
                                                                     : 0;
  hints.ai_flags = spec.node_name.empty() ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  const char* node = spec.node_name.empty() ? nullptr : spec.node_name.c_str();
  std::string where = fmt::format("{}:{}", spec.node_name.empty() ? "*" : spec.node_name, spec.service_name);
  if (int r = ::getaddrinfo(node, spec.service_name.c_str(), &hints, &found); r != 0) {
    return xpc::fail(fmt::format("Sockets '{}': cannot resolve {}: {}", spec.group, where, ::gai_strerror(r)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  // One fd per SocketSpec (LISTEN_FDS counts them): the first address that
  // binds. A v6 wildcard also takes v4 (V6ONLY off), as launchd's does.
  int error = EADDRNOTAVAIL;
  for (addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    auto fd = xpc::UniqueFd::adopt(::socket(a->ai_family, a->ai_socktype | flags, a->ai_protocol));
    if (!fd) {
      error = errno;
      continue;
    }
    int one = 1, zero = 0;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ai_family == AF_INET6) (void)::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0) return Made{std::move(fd)};
    error = errno;
  }
  return xpc::fail(failure(spec, "bind", where, error));
}

}  // namespace

xpc::Result<std::unique_ptr<JobSockets>, std::string> JobSockets::open(const std::vector<SocketSpec>& specs,
                                                                       bool nonblocking) {
  std::unique_ptr<JobSockets> sockets(new JobSockets());
  int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  for (const SocketSpec& spec : specs) {
    if (std::string why = unsupported(spec); !why.empty())
      return xpc::fail(fmt::format("Sockets '{}': {}", spec.group, why));
    bool local = !spec.path_name.empty() || spec.family == manifest::SockFamily::unix_local;
    auto made = local ? make_unix(spec, flags) : make_inet(spec, flags);
    if (!made) return xpc::fail(made.error());  // ~JobSockets unlinks the paths made so far
    Listener listener{std::move(made->fd), std::move(made->path), made->dev, made->ino, {}};
    sockets->listeners_.push_back(std::move(listener));
    Listener& l = sockets->listeners_.back();
    if (spec.type != manifest::SockType::dgram && ::listen(l.fd.get(), SOMAXCONN) != 0) {
      return xpc::fail(failure(spec, "listen", l.path.empty() ? spec.service_name : l.path, errno));
    }
  }
  return sockets;
}

// The path goes with the job (launchd does the same at unload), but only if
// it is still the socket we bound: someone may have replaced it meanwhile.
JobSockets::~JobSockets() {
  for (Listener& l : listeners_) {
    l.source.reset();
    struct stat st {};
    if (!l.path.empty() && ::lstat(l.path.c_str(), &st) == 0 && st.st_dev == l.dev && st.st_ino == l.ino) {
      ::unlink(l.path.c_str());
    }
  }
}

std::vector<int> JobSockets::fds() const {
  std::vector<int> fds;
  for (const Listener& l : listeners_) fds.push_back(l.fd.get());
  return fds;
}

bool JobSockets::watch(sd_event* loop, bool on) {
  watching_ = on;
  bool ok = true;
  for (Listener& l : listeners_) {
    if (!l.source && on) {
      sd_event_source* source = nullptr;
      if (sd_event_add_io(loop, &source, l.fd.get(), EPOLLIN, on_io, this) < 0) {
        ok = false;
        continue;
      }
      l.source.reset(source);
    } else if (l.source) {
      sd_event_source_set_enabled(l.source.get(), on ? SD_EVENT_ON : SD_EVENT_OFF);
    }
  }
  return ok;
}

int JobSockets::on_io(sd_event_source*, int fd, uint32_t, void* userdata) noexcept {
  auto* self = static_cast<JobSockets*>(userdata);
  if (self->watching_ && self->on_readable_) self->on_readable_(fd);
  return 0;
}

}  // namespace xpcd
