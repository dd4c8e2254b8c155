// xpcd's configuration file (DESIGN 9, docs/config-and-limits.md): TOML,
// default /etc/xpcd/xpcd.toml for --system. Parsed with toml++ as the
// manifests are (exceptions off, errors with line and column). Pure: no
// files opened except by load(), no effects, no libsystemd.
//
//   manifest_dirs = ["/etc/xpcd/daemons"]   # replaces the domain's defaults
//   bootstrap = "/run/xpcd/bootstrap"       # the bootstrap socket
//   activation_timeout = 30                 # seconds (integer or float)
//   idle_timeout = 30                       # seconds: TimeOut of jobs without one (unset: none)
//   dbus = true                             # the D-Bus API (docs/dbus.md); false: none
//   [limits]
//   pending_lookups_per_uid = 256
//   held_fds_per_uid = 512
//   [pressure]
//   memory = true                           # the PSI trigger on /proc/pressure/memory
//   memory_stall_ms = 150                   # tasks stalled this long on memory ...
//   memory_window_ms = 2000                 # ... within this window (a multiple of 2 s without CAP_SYS_RESOURCE)
//
// An unknown key is a warning (a newer file on an older xpcd still runs); a
// wrong type or a value out of bounds is an error naming the key and
// FILE:LINE:COL, and xpcd exits 2.
#pragma once

#include "supervisor/limits.hpp"

#include <xpc/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xpcd::config {

// The longest bootstrap path a unix socket address holds (sun_path, 108
// bytes with its terminating NUL).
inline constexpr std::size_t kMaxBootstrapPathLength = 107;

// The system domain's config file; used only when it exists.
inline constexpr std::string_view kSystemConfigPath = "/etc/xpcd/xpcd.toml";

// The kernel's bounds on a PSI trigger window.
inline constexpr std::int64_t kMinPressureWindowMs = 500;
inline constexpr std::int64_t kMaxPressureWindowMs = 10000;

struct PressureConfig {
  bool memory = true;
  std::chrono::milliseconds stall{150};
  std::chrono::milliseconds window{2000};
};

struct DaemonConfig {
  std::optional<std::vector<std::string>> manifest_dirs;  // unset: the domain's defaults
  std::optional<std::string> bootstrap;                    // unset: $XPCD_BOOTSTRAP, else the domain's
  std::optional<std::chrono::nanoseconds> activation_timeout;  // unset: the engine's default
  std::optional<std::chrono::nanoseconds> idle_timeout;        // unset: only jobs with TimeOut exit idle
  bool dbus = true;  // org.xpcd.Manager1 on the domain's bus, when there is one
  limits::UidLimits limits;
  PressureConfig pressure;
};

struct Loaded {
  DaemonConfig config;
  std::vector<std::string> warnings;  // "FILE:LINE:COL: unknown key 'x' (ignored)"
};

// Parses `text`; `file` names it in messages. The error is one line,
// "FILE:LINE:COL: ..." naming the key.
xpc::Result<Loaded, std::string> parse(std::string_view text, std::string_view file);

// Reads and parses the file at `path`.
xpc::Result<Loaded, std::string> load(const std::string& path);

}  // namespace xpcd::config
