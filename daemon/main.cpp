// xpcd: the supervisor daemon of one domain. Parses its options, loads the
// manifests, listens on the bootstrap socket and runs the sd-event loop
// until SIGTERM or SIGINT.
#include "bootstrap/bootstrap_server.hpp"
#include "config/config.hpp"
#include "supervisor/log.hpp"
#include "supervisor/manifest_watch.hpp"
#include "supervisor/supervisor.hpp"

#include <xpc/protocol.hpp>

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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
             "  --ready-fd N        write a newline to fd N once serving, then close it\n");
}

std::vector<std::string> default_dirs(xpcd::launcher::Domain domain) {
  if (domain == xpcd::launcher::Domain::system) return {"/etc/xpcd/daemons", "/usr/lib/xpcd/daemons"};
  std::vector<std::string> dirs;
  if (const char* home = std::getenv("HOME")) dirs.push_back(std::string(home) + "/.config/xpcd/agents");
  dirs.insert(dirs.end(), {"/etc/xpcd/agents", "/usr/lib/xpcd/agents"});
  return dirs;
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--user") {
      options.domain = xpcd::launcher::Domain::user;
    } else if (arg == "--system") {
      options.domain = xpcd::launcher::Domain::system;
    } else if (arg == "--bootstrap" || arg == "--manifest-dir" || arg == "--ready-fd" || arg == "--config") {
      const char* v = value();
      if (v == nullptr) {
        fmt::print(stderr, "xpcd: {} needs a value\n", arg);
        return false;
      }
      if (arg == "--bootstrap") options.bootstrap = v;
      if (arg == "--config") options.config = v;
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

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    usage(stderr);
    return kExitUsage;
  }
  xpcd::log_init(std::getenv("JOURNAL_STREAM") != nullptr && ::access("/run/systemd/journal/socket", F_OK) == 0);
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
  // Jobs find this daemon through the same variable clients use.
  ::setenv(xpc::protocol::kBootstrapEnv, options.bootstrap.c_str(), 1);
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
  sd_event_add_signal(loop.get(), nullptr, SIGTERM, nullptr, nullptr);  // default: exit the loop
  sd_event_add_signal(loop.get(), nullptr, SIGINT, nullptr, nullptr);

  xpcd::SupervisorConfig supervisor_config{options.domain, {}, STDERR_FILENO, {}, config.limits};
  if (config.activation_timeout) supervisor_config.engine.activation_timeout = *config.activation_timeout;
  xpcd::Supervisor supervisor(loop.get(), std::move(supervisor_config));
  // Loads the manifests now and keeps them in step with the directories.
  xpcd::ManifestWatch manifests(loop.get(), supervisor, options.manifest_dirs);
  manifests.start();
  xpcd::BootstrapServer bootstrap(loop.get(), supervisor);
  if (auto listening = bootstrap.listen(options.bootstrap); !listening) {
    fmt::print(stderr, "xpcd: {}\n", listening.error());
    return 1;
  }
  xpcd::log_line(xpcd::LogLevel::info, fmt::format("serving {} jobs at {}", supervisor.job_count(), options.bootstrap));
  if (options.ready_fd >= 0) {
    (void)::write(options.ready_fd, "\n", 1);
    ::close(options.ready_fd);
  }
  int r = sd_event_loop(loop.get());
  return r < 0 ? 1 : 0;
}
