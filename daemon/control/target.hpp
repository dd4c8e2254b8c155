// Domains and targets of the control plane (DESIGN 8), and signal names:
// pure parsing shared by xpcd's command core and xpcctl, which checks its
// command line before it contacts a daemon. No syscalls.
//   system                 the system domain
//   user/UID               the user domain of UID
//   system/LABEL           a job of the system domain
//   user/UID/LABEL         a job of a user domain
//   LABEL                  a job of the caller's default domain (no '/')
#pragma once

#include <xpc/result.hpp>

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace xpcd::control {

struct Domain {
  bool system = false;
  uid_t uid = 0;  // user domains only
  friend bool operator==(const Domain&, const Domain&) = default;
};
std::string to_string(const Domain& domain);  // "system", "user/1000"

// The domain a caller means when it names none: the system domain for root
// talking to the system daemon, else the caller's own user domain.
Domain default_domain(uid_t caller, bool daemon_is_system);

struct Target {
  std::optional<Domain> domain;  // unset: a bare LABEL, the caller's default domain
  std::string label;             // empty: the target is the domain itself
};
std::string to_string(const Target& target);  // as written, domain resolved or not

// Parses a target or domain. Errors are sentences: "unknown domain 'gui' in
// 'gui/501/x' (expected system or user/UID)".
xpc::Result<Target, std::string> parse_target(std::string_view text);
// A domain only (bootstrap, bootout DOMAIN PATH, list).
xpc::Result<Domain, std::string> parse_domain(std::string_view text);

// SIGNAL as TERM, SIGTERM, term or 15 (1 to 64, real-time signals as
// numbers). Error: "unknown signal 'FOO' (expected a name such as TERM or
// SIGTERM, or a number from 1 to 64)".
xpc::Result<int, std::string> parse_signal(std::string_view text);

}  // namespace xpcd::control
