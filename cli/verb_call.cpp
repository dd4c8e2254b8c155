// xpcctl call [--privileged] NAME [JSON] [--count N] [--interval S]
// [--timeout S]: the `busctl call` of xpcd. Looks NAME up, sends the JSON
// object as a dictionary N times on one connection and prints each reply as
// one line of JSON. Exit codes in kCallHelp.
#include <fmt/format.h>

#include <xpc/connection.hpp>
#include <xpc/protocol.hpp>
#include <xpc/unique_fd.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "json.hpp"
#include "verbs.hpp"

namespace xpcctl {
namespace {

using namespace std::chrono;

constexpr std::string_view kCallHelp =
    "usage: xpcctl call [--privileged] NAME [JSON] [--count N] [--interval SECONDS] [--timeout SECONDS]\n"
    "Looks the service NAME up and sends JSON (an object; default {}) as a dictionary N times\n"
    "on one connection, waiting for each reply; prints each reply as JSON on its own line.\n"
    "  --privileged        look NAME up in the system domain only\n"
    "  --count N           messages to send, 1 to 1000000 (default 1)\n"
    "  --interval SECONDS  pause between messages (default 0)\n"
    "  --timeout SECONDS   how long to wait for each reply, more than 0 (default 30)\n"
    "JSON in: integers become int64 (uint64 above INT64_MAX), other numbers double,\n"
    "objects dictionaries. JSON out: data as a base64 string, uuid as its canonical string,\n"
    "date as an RFC 3339 UTC string, fd/shmem/endpoint as \"<fd>\", \"<shmem N bytes>\",\n"
    "\"<endpoint>\", non-finite doubles as \"nan\"/\"inf\"/\"-inf\". Messages the service sends\n"
    "that are not replies are ignored.\n"
    "Exit: 0 every reply came, 1 an error (error reply, timeout, invalid or interrupted\n"
    "connection; the error on stderr, earlier replies still printed), 2 usage,\n"
    "3 xpcd unreachable (no bootstrap socket tried accepts a connection).\n";

constexpr int kMaxCount = 1'000'000;
constexpr double kMaxSeconds = 86400;  // poll() takes int milliseconds; a day is plenty

struct Options {
  bool privileged = false;
  std::string name;
  xpc::Object message = xpc::Object::dictionary();
  int count = 1;
  milliseconds interval{0};
  milliseconds timeout{30'000};
};

// A usage error, already formatted; nullopt when parsing succeeded.
using Usage = std::optional<std::string>;

Usage parse_count(std::string_view text, int& out) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > kMaxCount) {
    return fmt::format("--count: expected an integer from 1 to {}, got '{}'", kMaxCount, text);
  }
  out = value;
  return std::nullopt;
}

// Seconds as a decimal number, rounded up to whole milliseconds.
Usage parse_seconds(std::string_view option, std::string_view text, bool zero_ok, milliseconds& out) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool ok = ec == std::errc() && end == text.data() + text.size() && std::isfinite(value) &&
            (zero_ok ? value >= 0 : value > 0) && value <= kMaxSeconds;
  if (!ok) {
    return fmt::format("{}: expected seconds ({} to {}), got '{}'", option, zero_ok ? "0" : "more than 0", kMaxSeconds,
                       text);
  }
  out = milliseconds(static_cast<std::int64_t>(std::ceil(value * 1000)));
  return std::nullopt;
}

Usage parse_json(std::string_view text, xpc::Object& out) {
  auto parsed = json::parse(text);
  if (!parsed) return fmt::format("JSON argument: {}", parsed.error());
  if (!parsed->is(xpc::Type::Dictionary)) {
    return fmt::format("JSON argument: expected an object, got {}", xpc::to_string(parsed->type()));
  }
  out = std::move(parsed).value();
  return std::nullopt;
}

// Splits "--opt=value" or takes the next argument as the value.
Usage option_value(Args args, std::size_t& i, std::string_view option, std::string_view& value) {
  std::string_view a = args[i];
  if (a.size() > option.size() && a[option.size()] == '=') {
    value = a.substr(option.size() + 1);
    return std::nullopt;
  }
  if (i + 1 >= args.size()) return fmt::format("{} needs a value", option);
  value = args[++i];
  return std::nullopt;
}

bool is_option(std::string_view a, std::string_view option) {
  return a == option || (a.starts_with(option) && a.size() > option.size() && a[option.size()] == '=');
}

Usage parse_args(Args args, Options& o) {
  std::vector<std::string_view> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view value;
    Usage err;
    if (a == "--privileged") {
      o.privileged = true;
    } else if (is_option(a, "--count")) {
      if (!(err = option_value(args, i, "--count", value))) err = parse_count(value, o.count);
    } else if (is_option(a, "--interval")) {
      if (!(err = option_value(args, i, "--interval", value))) {
        err = parse_seconds("--interval", value, true, o.interval);
      }
    } else if (is_option(a, "--timeout")) {
      if (!(err = option_value(args, i, "--timeout", value))) err = parse_seconds("--timeout", value, false, o.timeout);
    } else if (a.starts_with("--")) {
      err = fmt::format("unknown option '{}'", a);
    } else {
      positional.push_back(a);
    }
    if (err) return err;
  }
  if (positional.empty()) return std::string("no service NAME given");
  if (positional.size() > 2) return fmt::format("unexpected argument '{}'", positional[2]);
  o.name = positional[0];
  if (positional.size() == 2) return parse_json(positional[1], o.message);
  return std::nullopt;
}

// The bootstrap sockets libxpc tries for this lookup (DESIGN 2).
std::vector<std::string> bootstrap_candidates(bool privileged) {
  return xpc::protocol::lookup_paths(privileged ? xpc::protocol::kLookupPrivileged : 0);
}

bool accepts_connections(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  xpc::UniqueFd fd = xpc::UniqueFd::adopt(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  // connect() on a listening unix socket does not block: it succeeds while
  // the backlog has room and fails (EAGAIN) otherwise, which counts as up.
  return fd && (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN);
}

// Why exit 3 is decided by a probe and not by the reason's wording: the
// reason is a sentence meant for people ("xpcd is not running at ..."),
// and may list several domains' answers. An invalid connection counts as
// "xpcd unreachable" when no socket the lookup tried accepts a connection.
bool xpcd_unreachable(bool privileged) {
  for (const std::string& path : bootstrap_candidates(privileged)) {
    if (accepts_connections(path)) return false;
  }
  return true;
}

void pause_for(milliseconds interval) {
  timespec ts{static_cast<time_t>(interval.count() / 1000), static_cast<long>(interval.count() % 1000) * 1'000'000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int report_error(const Options& o, const xpc::Object& error) {
  std::string code = error[xpc::kErrorKeyCode].string_or("error");
  std::string reason = error[xpc::kErrorKeyDescription].string_or("");
  if (code == xpc::protocol::kErrorInvalid && xpcd_unreachable(o.privileged)) {
    fmt::print(stderr, "xpcctl call: {}: xpcd unreachable: {}\n", o.name, reason);
    return kExitUnreachable;
  }
  fmt::print(stderr, "xpcctl call: {}: {}: {}\n", o.name, code, reason.empty() ? json::format(error) : reason);
  return kExitFailed;
}

int call(const Options& o) {
  xpc::Connection connection =
      xpc::Connection::mach_service(o.name, o.privileged ? std::uint64_t{xpc::Connection::kPrivileged} : 0);
  connection.set_event_handler([](const xpc::Object&) {});
  connection.resume();
  int status = kExitOk;
  for (int i = 0; i < o.count && status == kExitOk; ++i) {
    if (i > 0 && o.interval.count() > 0) pause_for(o.interval);
    xpc::Object reply = connection.send_sync(o.message, o.timeout);
    if (reply.is(xpc::Type::Error)) {
      status = report_error(o, reply);
    } else {
      fmt::print("{}\n", json::format(reply));
      std::fflush(stdout);
    }
  }
  connection.cancel();
  return status;
}

}  // namespace

int verb_call(Args args) {
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") {
      fmt::print("{}", kCallHelp);
      return kExitOk;
    }
  }
  Options options;
  if (Usage err = parse_args(args, options)) {
    fmt::print(stderr, "xpcctl call: {}\n{}xpcctl call --help tells more.\n", *err,
               kCallHelp.substr(0, kCallHelp.find('\n') + 1));
    return kExitUsage;
  }
  return call(options);
}

}  // namespace xpcctl
