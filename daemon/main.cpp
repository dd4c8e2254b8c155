// xpcd: the supervisor daemon of one domain. Parses its options, loads the
// manifests, listens on the bootstrap socket (or takes it from its service
// manager: docs/running-and-packaging.md) and runs the sd-event loop until
// SIGTERM or SIGINT.
#include "bootstrap/bootstrap_server.hpp"
#include "config/config.hpp"
#include "control/control.hpp"
#include "dbus/manager_api.hpp"
#include "service_manager/service_manager.hpp"
#include "supervisor/log.hpp"
#include "supervisor/manifest_watch.hpp"
#include "supervisor/supervisor.hpp"

#include <xpc/protocol.hpp>

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kExitUsage = 2;

struct Options {
  xpcd::launcher::Domain domain = xpcd::launcher::Domain::user;
  std::string bootstrap;
  std::vector<std::string> manifest_dirs;
  int ready_fd = -1;
  std::string config;  // --config FILE; "": the domain's default, if any
  std::string state_dir;  // --state-dir DIR; "": default_state_dir
};

void usage(std::FILE* out) {
  fmt::print(out,
             "usage: xpcd [--user|--system] [--config FILE] [--bootstrap PATH] [--manifest-dir DIR]... [--ready-fd N]\n"
             "  --user              the calling user's domain (default)\n"
             "  --system            the system domain (root)\n"
             "  --config FILE       settings (TOML); default for --system: /etc/xpcd/xpcd.toml if it exists;\n"
             "                      --user reads none unless given; options override the file\n"
             "  --bootstrap PATH    the bootstrap socket (default: $XPCD_BOOTSTRAP, else the domain's)\n"
             "  --manifest-dir DIR  load manifests from DIR; repeatable; replaces the defaults\n"
             "  --ready-fd N        write a newline to fd N once serving, then close it\n"
             "  --state-dir DIR     where xpcctl enable/disable are kept (default: $STATE_DIRECTORY,\n"
             "                      else /var/lib/xpcd for --system, $XDG_STATE_HOME/xpcd or\n"
             "                      ~/.local/state/xpcd for --user)\n");
}

std::vector<std::string> default_dirs(xpcd::launcher::Domain domain) {
  if (domain == xpcd::launcher::Domain::system) return {"/etc/xpcd/daemons", "/usr/lib/xpcd/daemons"};
  std::vector<std::string> dirs;
  if (const char* home = std::getenv("HOME")) dirs.push_back(std::string(home) + "/.config/xpcd/agents");
  dirs.insert(dirs.end(), {"/etc/xpcd/agents", "/usr/lib/xpcd/agents"});
  return dirs;
}

// xpcd's state (the enable/disable overrides): the service manager's
// StateDirectory= when it set one, else the domain's default.
std::string default_state_dir(xpcd::launcher::Domain domain) {
  if (const char* dir = std::getenv("STATE_DIRECTORY"); dir != nullptr && *dir != '\0') {
    std::string first(dir);
    return first.substr(0, first.find(':'));  // several directories are ':'-separated
  }
  if (domain == xpcd::launcher::Domain::system) return "/var/lib/xpcd";
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    return std::string(state) + "/xpcd";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/") + "/.local/state/xpcd";
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--user") {
      options.domain = xpcd::launcher::Domain::user;
    } else if (arg == "--system") {
      options.domain = xpcd::launcher::Domain::system;
    } else if (arg == "--bootstrap" || arg == "--manifest-dir" || arg == "--ready-fd" || arg == "--config" ||
               arg == "--state-dir") {
      const char* v = value();
      if (v == nullptr) {
        fmt::print(stderr, "xpcd: {} needs a value\n", arg);
        return false;
      }
      if (arg == "--bootstrap") options.bootstrap = v;
      if (arg == "--config") options.config = v;
      if (arg == "--state-dir") options.state_dir = v;
      if (arg == "--manifest-dir") options.manifest_dirs.emplace_back(v);
      if (arg == "--ready-fd") {
        char* end = nullptr;
        long fd = std::strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || fd < 0 || fd > 65535) {
          fmt::print(stderr, "xpcd: --ready-fd wants a file descriptor number, got '{}'\n", v);
          return false;
        }
        options.ready_fd = static_cast<int>(fd);
      }
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      fmt::print(stderr, "xpcd: unknown option '{}'\n", arg);
      return false;
    }
  }
  return true;
}

// The bootstrap socket the service manager passed (socket unit, fd store),
// else one bound at `path`. Returns the path clients reach it at.
xpc::Result<std::string, std::string> open_bootstrap(xpcd::BootstrapServer& server,
                                                     xpcd::service_manager::PassedFds passed,
                                                     const std::string& path) {
  if (!passed.bootstrap) {
    if (auto listening = server.listen(path); !listening) return xpc::fail(listening.error());
    return path;
  }
  std::string bound = xpcd::service_manager::bound_path(passed.bootstrap.get());
  if (auto adopted = server.adopt(std::move(passed.bootstrap)); !adopted) return xpc::fail(adopted.error());
  if (bound.empty()) bound = path;
  xpcd::log_line(bound == path ? xpcd::LogLevel::info : xpcd::LogLevel::notice,
                 fmt::format("using the bootstrap socket passed by the service manager, at {}{}", bound,
                             bound == path ? "" : fmt::format(" (not {})", path)));
  return bound;
}

// SIGTERM, SIGINT: tell the manager, then leave the loop (the supervisor
// stops its jobs as it is destroyed).
int on_stop_signal(sd_event_source* source, const struct signalfd_siginfo*, void*) noexcept {
  xpcd::log_line(xpcd::LogLevel::info, "stopping");
  xpcd::service_manager::notify("STOPPING=1\nSTATUS=stopping");
  return sd_event_exit(sd_event_source_get_event(source), 0);
}

// Once serving: the fd store first (so the socket is safe before the
// manager acts on READY), then READY=1 and the readiness fd.
void announce_ready(const xpcd::BootstrapServer& bootstrap, std::size_t jobs, const std::string& path,
                    int ready_fd) {
  namespace sm = xpcd::service_manager;
  if (sm::manager_listens()) {
    if (int r = sm::store_fd(bootstrap.listener_fd(), sm::kBootstrapFdName); r < 0) {
      xpcd::log_line(xpcd::LogLevel::warning,
                     fmt::format("cannot store the bootstrap socket in the fd store: {}, ignoring", std::strerror(-r)));
    }
  }
  if (int r = sm::notify(fmt::format("READY=1\nSTATUS=serving {} jobs at {}", jobs, path)); r < 0) {
    xpcd::log_line(xpcd::LogLevel::warning, fmt::format("cannot notify the service manager: {}", std::strerror(-r)));
  }
  if (ready_fd >= 0) {
    (void)::write(ready_fd, "\n", 1);
    ::close(ready_fd);
  }
}

// xpcd holds fds for every client waiting, every parked connection and
// every pidfd: it raises its soft RLIMIT_NOFILE to the hard limit, as
// systemd does for itself. Returns the soft limit it started with, which
// jobs get back (launcher::SpawnContext::job_nofile_soft); unset when the
// limit cannot be read.
std::optional<rlim_t> raise_nofile_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  rlim_t started = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      xpcd::log_line(xpcd::LogLevel::warning,
                     fmt::format("cannot raise the open file limit to {}: {}", limit.rlim_max, std::strerror(errno)));
    }
  }
  return started;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    usage(stderr);
    return kExitUsage;
  }
  xpcd::log_init(std::getenv("JOURNAL_STREAM") != nullptr && ::access("/run/systemd/journal/socket", F_OK) == 0);
  // First, so LISTEN_* are gone from the environment before anything runs.
  xpcd::service_manager::PassedFds passed;
  if (auto taken = xpcd::service_manager::take_passed_fds(); !taken) {
    xpcd::log_line(xpcd::LogLevel::warning, taken.error() + ", binding the bootstrap socket here");
  } else {
    passed = std::move(taken).value();
    for (const auto& closed : passed.closed) {
      xpcd::log_line(xpcd::LogLevel::warning, "closing a passed " + closed);
    }
  }
  // The config file (docs/config-and-limits.md): options given on the
  // command line, and XPCD_BOOTSTRAP, override it.
  xpcd::config::DaemonConfig config;
  if (options.config.empty() && options.domain == xpcd::launcher::Domain::system &&
      ::access(std::string(xpcd::config::kSystemConfigPath).c_str(), F_OK) == 0) {
    options.config = xpcd::config::kSystemConfigPath;
  }
  if (!options.config.empty()) {
    auto loaded = xpcd::config::load(options.config);
    if (!loaded) {
      fmt::print(stderr, "xpcd: {}\n", loaded.error());
      return kExitUsage;
    }
    for (const auto& warning : loaded->warnings) xpcd::log_line(xpcd::LogLevel::warning, warning);
    config = std::move(loaded->config);
  }
  const char* bootstrap_env = std::getenv(xpc::protocol::kBootstrapEnv);
  bool env_bootstrap = bootstrap_env != nullptr && *bootstrap_env != '\0';
  if (options.bootstrap.empty() && !env_bootstrap && config.bootstrap) options.bootstrap = *config.bootstrap;
  if (options.manifest_dirs.empty() && config.manifest_dirs) options.manifest_dirs = *config.manifest_dirs;
  if (options.bootstrap.empty()) {
    auto domain = options.domain == xpcd::launcher::Domain::system ? xpc::protocol::Domain::System
                                                                    : xpc::protocol::Domain::User;
    auto path = xpc::protocol::bootstrap_path(domain);
    if (!path) {
      fmt::print(stderr, "xpcd: no bootstrap path: set XDG_RUNTIME_DIR, XPCD_BOOTSTRAP or --bootstrap\n");
      return kExitUsage;
    }
    options.bootstrap = *path;
  }
  if (options.manifest_dirs.empty()) options.manifest_dirs = default_dirs(options.domain);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);

  sd_event* raw = nullptr;
  if (sd_event_new(&raw) < 0) return 1;
  xpcd::EventPtr loop(raw);
  sd_event_add_signal(loop.get(), nullptr, SIGTERM, on_stop_signal, nullptr);
  sd_event_add_signal(loop.get(), nullptr, SIGINT, on_stop_signal, nullptr);
  // WATCHDOG_USEC (and WATCHDOG_PID) from the manager: sd-event sends
  // WATCHDOG=1 between a half and three quarters of the period, from the
  // loop itself, so a stuck loop misses it.
  if (int r = sd_event_set_watchdog(loop.get(), 1); r < 0) {
    xpcd::log_line(xpcd::LogLevel::warning, fmt::format("cannot arm the watchdog: {}", std::strerror(-r)));
  }

  xpcd::SupervisorConfig supervisor_config{options.domain, {}, STDERR_FILENO, {}, config.limits};
  supervisor_config.job_nofile_soft = raise_nofile_limit();
  if (config.activation_timeout) supervisor_config.engine.activation_timeout = *config.activation_timeout;
  if (config.idle_timeout) supervisor_config.engine.idle_timeout = *config.idle_timeout;
  xpcd::Supervisor supervisor(loop.get(), std::move(supervisor_config));
  // The socket first: a passed one may be bound elsewhere than --bootstrap
  // says, and jobs started at load must be told where it is.
  xpcd::BootstrapServer bootstrap(loop.get(), supervisor);
  auto served = open_bootstrap(bootstrap, std::move(passed), options.bootstrap);
  if (!served) {
    fmt::print(stderr, "xpcd: {}\n", served.error());
    return 1;
  }
  // Jobs find this daemon through the same variable clients use.
  ::setenv(xpc::protocol::kBootstrapEnv, served->c_str(), 1);
  supervisor.open_notify_socket();
  if (config.pressure.memory) {
    supervisor.watch_memory_pressure("/proc/pressure/memory", {config.pressure.stall, config.pressure.window});
  }
  // Loads the manifests now and keeps them in step with the directories.
  xpcd::ManifestWatch manifests(loop.get(), supervisor, options.manifest_dirs);
  // The command core (xpcctl verbs) first: its overrides apply to every load.
  if (options.state_dir.empty()) options.state_dir = default_state_dir(options.domain);
  // Declared before the core, so destroyed after it: the core may still
  // hold a pending D-Bus reply (kickstart), which needs the connection.
  std::unique_ptr<xpcd::dbus::ManagerApi> dbus_api;
  xpcd::control::Control control(loop.get(), supervisor, manifests, options.state_dir);
  control.start();
  bootstrap.set_control(&control);
  manifests.start();
  // The D-Bus API (docs/dbus.md): on the domain's bus when there is one;
  // before READY, so the name is on the bus once xpcd says it serves.
  if (config.dbus) {
    dbus_api = xpcd::dbus::ManagerApi::start(loop.get(), control, supervisor);
  } else {
    xpcd::log_line(xpcd::LogLevel::info, "D-Bus: off (dbus = false in the config)");
  }
  xpcd::log_line(xpcd::LogLevel::info, fmt::format("serving {} jobs at {}", supervisor.job_count(), *served));
  announce_ready(bootstrap, supervisor.job_count(), *served, options.ready_fd);
  int r = sd_event_loop(loop.get());
  return r < 0 ? 1 : 0;
}
