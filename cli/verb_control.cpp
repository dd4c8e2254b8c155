// xpcctl's control verbs (DESIGN 8, docs/control-plane.md): bootstrap,
// bootout, enable, disable, kickstart, kill, list, print, blame, reload.
// Each checks its command line first (targets, signals: exit 2 before any
// contact), sends one `command` request on the bootstrap socket and prints
// the answer: its text, or with --json its result as one line of JSON.
#include <fmt/format.h>

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>
#include <xpc/unique_fd.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "control/target.hpp"
#include "json.hpp"
#include "verbs.hpp"

namespace xpcctl {
namespace {

namespace control = xpcd::control;
namespace protocol = xpc::protocol;
using xpc::Object;

// Longer than the daemon's own longest wait (kickstart -k -p: 120 s) and a
// bootout's ExitTimeOut (default 20 s): xpcd answers first in both cases.
constexpr int kAnswerTimeoutMs = 150'000;

struct Usage {
  std::string_view verb;
  std::string_view synopsis;
  bool json = false;  // takes --json
};

constexpr Usage kUsages[] = {
    {"bootstrap", "bootstrap DOMAIN PATH...", true},
    {"bootout", "bootout TARGET | bootout DOMAIN PATH...", true},
    {"enable", "enable TARGET", true},
    {"disable", "disable TARGET", true},
    {"kickstart", "kickstart [-k] [-p] TARGET", true},
    {"kill", "kill SIGNAL TARGET", true},
    {"list", "list [--json] [DOMAIN]", true},
    {"print", "print [--json] TARGET|DOMAIN", true},
    {"blame", "blame [--json] TARGET", true},
    {"reload", "reload [DOMAIN]", true},
};

constexpr std::string_view kTargets =
    "TARGET: system/LABEL, user/UID/LABEL, or LABEL (the caller's domain: system for root, else user/UID).\n"
    "DOMAIN: system or user/UID. Exit: 0 ok, 1 failed or refused (the rule on stderr), 2 usage,\n"
    "3 xpcd unreachable. See xpcctl(1) and docs/control-plane.md.\n";

std::string_view synopsis(std::string_view verb) {
  for (const auto& u : kUsages) {
    if (u.verb == verb) return u.synopsis;
  }
  return verb;
}

int usage_error(std::string_view verb, const std::string& message) {
  fmt::print(stderr, "xpcctl {}: {}\nusage: xpcctl {}\n", verb, message, synopsis(verb));
  return kExitUsage;
}

// The parsed command line of one control verb.
struct Command {
  std::string_view verb;
  bool json = false;
  bool print_pid = false;  // kickstart -p
  std::optional<control::Domain> domain;  // which daemon: named by the target or domain given
  Object request = Object::dictionary();
};

// Which bootstrap socket: XPCD_BOOTSTRAP when set; else the domain's
// (DESIGN 2), the caller's own when none is named.
std::optional<std::string> socket_for(const std::optional<control::Domain>& domain) {
  if (const char* env = std::getenv(protocol::kBootstrapEnv); env != nullptr && *env != '\0') return env;
  const uid_t self = ::getuid();
  control::Domain d = domain.value_or(control::default_domain(self, true));
  if (d.system) return protocol::bootstrap_path(protocol::Domain::System);
  if (d.uid == self) return protocol::bootstrap_path(protocol::Domain::User);
  return fmt::format("/run/user/{}/xpcd/bootstrap", d.uid);
}

std::string absolute(std::string_view path) {
  std::error_code ec;
  std::string out = std::filesystem::absolute(std::filesystem::path(path), ec).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Sets `key` from a target argument; false (and a usage error printed)
// when it does not parse. `domain_only`: a DOMAIN, not a job.
bool take_target(Command& c, const char* key, std::string_view text, bool domain_only, int& exit) {
  auto target = control::parse_target(text);
  if (!target) {
    exit = usage_error(c.verb, target.error());
    return false;
  }
  if (domain_only && (!target->domain || !target->label.empty())) {
    exit = usage_error(c.verb, fmt::format("'{}' is not a domain (expected system or user/UID)", text));
    return false;
  }
  c.domain = target->domain;
  c.request[key] = std::string(text);
  return true;
}

// Verb-specific arguments after the options. Returns an exit code on a
// usage error, nullopt when the command is complete.
std::optional<int> parse_positional(Command& c, const std::vector<std::string_view>& args) {
  int exit = kExitUsage;
  const std::string_view v = c.verb;
  auto count_error = [&] { return usage_error(v, args.empty() ? "missing arguments" : "wrong number of arguments"); };
  if (v == "list" || v == "reload") {
    if (args.size() > 1) return count_error();
    if (args.size() == 1 && !take_target(c, protocol::kDomain, args[0], true, exit)) return exit;
    return std::nullopt;
  }
  if (v == "bootstrap" || (v == "bootout" && args.size() >= 2)) {
    if (args.size() < 2) return usage_error(v, args.empty() ? "missing DOMAIN and PATH" : "missing PATH");
    if (!take_target(c, protocol::kDomain, args[0], true, exit)) return exit;
    Object paths = Object::array();
    for (std::size_t i = 1; i < args.size(); ++i) paths.push_back(absolute(args[i]));
    c.request[protocol::kPaths] = std::move(paths);
    return std::nullopt;
  }
  if (v == "kill") {
    if (args.size() != 2) return count_error();
    auto signal = control::parse_signal(args[0]);
    if (!signal) return usage_error(v, signal.error());
    c.request[protocol::kSignal] = *signal;
    if (!take_target(c, protocol::kTarget, args[1], false, exit)) return exit;
    if (control::parse_target(args[1])->label.empty()) return usage_error(v, "kill needs a job, not a domain");
    return std::nullopt;
  }
  // bootout TARGET, enable, disable, kickstart, print, blame: one target.
  if (args.size() != 1) return count_error();
  if (!take_target(c, protocol::kTarget, args[0], false, exit)) return exit;
  if (v != "print" && control::parse_target(args[0])->label.empty()) {
    return usage_error(v, fmt::format("{} needs a job (DOMAIN/LABEL or LABEL), not a domain", v));
  }
  return std::nullopt;
}

std::optional<int> parse(Command& c, Args args) {
  std::vector<std::string_view> positional;
  bool options_done = false;
  for (std::string_view a : args) {
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && a == "--json") {
      c.json = true;
    } else if (!options_done && c.verb == "kickstart" && (a == "-k" || a == "-p" || a == "-kp" || a == "-pk")) {
      if (a.find('k') != std::string_view::npos) c.request[protocol::kKill] = true;
      if (a.find('p') != std::string_view::npos) c.print_pid = true;
    } else if (!options_done && a.size() > 1 && a[0] == '-' && !(c.verb == "kill" && positional.empty())) {
      return usage_error(c.verb, fmt::format("unknown option '{}'", a));
    } else {
      positional.push_back(a);
    }
  }
  c.request[protocol::kRequest] = protocol::kCommand;
  c.request[protocol::kVerb] = std::string(c.verb);
  return parse_positional(c, positional);
}

// One request, one answer, with a deadline. nullopt: unreachable (printed).
std::optional<Object> ask(const Command& c, int& exit) {
  auto path = socket_for(c.domain);
  if (!path) {
    fmt::print(stderr, "xpcctl {}: xpcd unreachable: no bootstrap socket (set XDG_RUNTIME_DIR or XPCD_BOOTSTRAP)\n",
               c.verb);
    exit = kExitUnreachable;
    return std::nullopt;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  xpc::UniqueFd fd = xpc::UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (path->size() >= sizeof addr.sun_path || !fd) {
    fmt::print(stderr, "xpcctl {}: xpcd unreachable at {}: bad socket path\n", c.verb, *path);
    exit = kExitUnreachable;
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, path->c_str(), path->size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fmt::print(stderr, "xpcctl {}: xpcd unreachable at {}: {}\n", c.verb, *path, std::strerror(errno));
    exit = kExitUnreachable;
    return std::nullopt;
  }
  exit = kExitFailed;
  if (!xpc::wire::send(fd.get(), {1, 0, true, c.request})) {
    fmt::print(stderr, "xpcctl {}: cannot send to xpcd at {}\n", c.verb, *path);
    return std::nullopt;
  }
  pollfd p{fd.get(), POLLIN, 0};
  int ready = 0;
  while ((ready = ::poll(&p, 1, kAnswerTimeoutMs)) < 0 && errno == EINTR) {
  }
  if (ready != 1) {
    fmt::print(stderr, "xpcctl {}: no answer from xpcd within {} s\n", c.verb, kAnswerTimeoutMs / 1000);
    return std::nullopt;
  }
  auto reply = xpc::wire::receive(fd.get());
  if (!reply) {
    fmt::print(stderr, "xpcctl {}: xpcd closed the connection without an answer\n", c.verb);
    return std::nullopt;
  }
  return reply->body;
}

int show(const Command& c, const Object& answer) {
  if (answer.is(xpc::Type::Error)) {  // an xpcd without the control plane
    fmt::print(stderr, "xpcctl {}: {}\n", c.verb, answer[xpc::kErrorKeyDescription].string_or("refused"));
    return kExitFailed;
  }
  const bool ok = answer[protocol::kOk].bool_or(false);
  const int exit = static_cast<int>(answer[protocol::kExit].int64_or(ok ? kExitOk : kExitFailed));
  if (c.json && answer.contains(protocol::kResult)) {
    fmt::print("{}\n", json::format(answer[protocol::kResult]));
  } else if (c.verb != "kickstart" || c.print_pid || !ok) {
    fmt::print("{}", answer[protocol::kOutput].string_or(""));
  }
  if (!ok) fmt::print(stderr, "xpcctl {}: {}\n", c.verb, answer[protocol::kError].string_or("failed"));
  return exit;
}

}  // namespace

int verb_control(std::string_view verb, Args args) {
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") {
      fmt::print("usage: xpcctl {}\n{}", synopsis(verb), kTargets);
      return kExitOk;
    }
  }
  Command command{verb};
  if (auto exit = parse(command, args)) return *exit;
  int exit = kExitFailed;
  auto answer = ask(command, exit);
  if (!answer) return exit;
  return show(command, *answer);
}

}  // namespace xpcctl
