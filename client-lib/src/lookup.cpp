// The client half of the bootstrap protocol.
#include "lookup.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace xpc::protocol {

namespace {

const char* bootstrap_override() {
  const char* path = std::getenv(kBootstrapEnv);
  return path != nullptr && *path != '\0' ? path : nullptr;
}

}  // namespace

std::vector<std::string> lookup_paths(std::uint64_t flags) {
  if (const char* path = bootstrap_override()) return {path};
  std::vector<std::string> paths;
  if ((flags & kLookupPrivileged) == 0) {
    if (auto user = bootstrap_path(Domain::User)) paths.push_back(*user);
  }
  paths.push_back(*bootstrap_path(Domain::System));
  return paths;
}

std::optional<std::string> bootstrap_path(Domain domain) {
  if (const char* path = bootstrap_override()) return std::string(path);
  if (domain == Domain::System) return std::string(kSystemBootstrapPath);
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  if (runtime_dir == nullptr || *runtime_dir == '\0') return std::nullopt;
  return std::string(runtime_dir) + "/xpcd/bootstrap";
}

}  // namespace xpc::protocol

namespace xpc::detail {

namespace {

using namespace std::chrono;

struct Answer {
  enum { Found, NotHere, Refused } kind;
  UniqueFd fd;
  std::string reason;
};

Result<UniqueFd, std::string> connect_to(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail(std::string("bootstrap path too long: ") + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd = UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail("xpcd is not running at " + path + " (" + std::strerror(errno) + ")");
  }
  return fd;
}

Answer ask(const std::string& path, std::string_view name, std::uint64_t flags, milliseconds timeout) {
  auto sock = connect_to(path);
  if (!sock) return {Answer::NotHere, {}, sock.error()};
  Object request{{protocol::kRequest, protocol::kLookup}, {protocol::kName, name}, {protocol::kFlags, flags}};
  if (auto sent = wire::send(sock->get(), wire::Message{1, 0, true, request}); !sent) {
    return {Answer::NotHere, {}, "cannot ask xpcd at " + path + ": " + sent.error().message()};
  }
  pollfd p{sock->get(), POLLIN, 0};
  auto deadline = steady_clock::now() + timeout;
  int ready;
  do {  // a signal must not turn into a refused lookup
    auto left = std::max<std::int64_t>(duration_cast<milliseconds>(deadline - steady_clock::now()).count(), 0);
    ready = ::poll(&p, 1, static_cast<int>(left));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    return {Answer::Refused, {}, "xpcd at " + path + " did not answer within " + std::to_string(timeout.count()) + " ms"};
  }
  auto reply = wire::receive(sock->get());
  if (!reply) return {Answer::Refused, {}, "bad answer from xpcd at " + path + ": " + reply.error().message()};
  const Object& body = reply->body;
  if (body.is(Type::Error)) {
    std::string reason(body[kErrorKeyDescription].string_or("lookup refused"));
    bool not_here = body[kErrorKeyCode].as_string() == protocol::kErrorNotFound;
    return {not_here ? Answer::NotHere : Answer::Refused, {}, reason};
  }
  UniqueFd fd = body[protocol::kFd].dup_fd();
  if (!fd) return {Answer::Refused, {}, "xpcd at " + path + " answered without a connection"};
  return {Answer::Found, std::move(fd), {}};
}

}  // namespace

Result<UniqueFd, std::string> lookup(std::string_view name, std::uint64_t flags, milliseconds timeout) {
  std::string reasons;
  for (const std::string& path : protocol::lookup_paths(flags)) {
    Answer answer = ask(path, name, flags, timeout);
    if (answer.kind == Answer::Found) return std::move(answer.fd);
    if (answer.kind == Answer::Refused) return fail(std::move(answer.reason));
    if (!reasons.empty()) reasons += "; ";
    reasons += answer.reason;
  }
  return fail(std::move(reasons));
}

}  // namespace xpc::detail
