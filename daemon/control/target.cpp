// Parsing of domains, targets and signals (target.hpp).
#include "control/target.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <csignal>
#include <utility>

namespace xpcd::control {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 31> kSignals{{
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"SYS", SIGSYS},
}};
constexpr int kMaxSignal = 64;

std::optional<uid_t> parse_uid(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == static_cast<uid_t>(-1)) {
    return std::nullopt;
  }
  return static_cast<uid_t>(value);
}

std::string expected(std::string_view text) {
  return "'" + std::string(text) + "' (expected system, system/LABEL, user/UID, user/UID/LABEL or LABEL)";
}

}  // namespace

std::string to_string(const Domain& domain) {
  return domain.system ? std::string("system") : "user/" + std::to_string(domain.uid);
}

Domain default_domain(uid_t caller, bool daemon_is_system) {
  if (caller == 0 && daemon_is_system) return Domain{true, 0};
  return Domain{false, caller};
}

std::string to_string(const Target& target) {
  if (!target.domain) return target.label;
  if (target.label.empty()) return to_string(*target.domain);
  return to_string(*target.domain) + "/" + target.label;
}

xpc::Result<Target, std::string> parse_target(std::string_view text) {
  if (text.empty()) return xpc::fail(std::string("empty target ") + expected(text));
  const std::size_t slash = text.find('/');
  const std::string_view head = text.substr(0, slash);
  if (slash == std::string_view::npos) {
    if (text == "system") return Target{Domain{true, 0}, {}};
    if (text == "user") return xpc::fail("'user' needs a UID: user/UID " + expected(text));
    return Target{std::nullopt, std::string(text)};
  }
  std::string_view rest = text.substr(slash + 1);
  if (head == "system") {
    if (rest.empty()) return xpc::fail("no label after 'system/' in " + expected(text));
    return Target{Domain{true, 0}, std::string(rest)};
  }
  if (head == "user") {
    const std::size_t next = rest.find('/');
    auto uid = parse_uid(rest.substr(0, next));
    if (!uid) return xpc::fail("bad UID '" + std::string(rest.substr(0, next)) + "' in " + expected(text));
    if (next == std::string_view::npos) return Target{Domain{false, *uid}, {}};
    if (next + 1 == rest.size()) return xpc::fail("no label after 'user/UID/' in " + expected(text));
    return Target{Domain{false, *uid}, std::string(rest.substr(next + 1))};
  }
  return xpc::fail("unknown domain '" + std::string(head) + "' in " + expected(text));
}

xpc::Result<Domain, std::string> parse_domain(std::string_view text) {
  auto target = parse_target(text);
  if (!target) return xpc::fail(std::move(target).error());
  if (!target->domain || !target->label.empty()) {
    return xpc::fail("'" + std::string(text) + "' is not a domain (expected system or user/UID)");
  }
  return *target->domain;
}

xpc::Result<int, std::string> parse_signal(std::string_view text) {
  const std::string error = "unknown signal '" + std::string(text) +
                            "' (expected a name such as TERM or SIGTERM, or a number from 1 to " +
                            std::to_string(kMaxSignal) + ")";
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) != 0) {
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > kMaxSignal) {
      return xpc::fail(error);
    }
    return value;
  }
  std::string name(text);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (const auto& [known, number] : kSignals) {
    if (known == name) return number;
  }
  return xpc::fail(error);
}

}  // namespace xpcd::control
