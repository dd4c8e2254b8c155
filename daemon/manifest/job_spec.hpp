// JobSpec: one job as the daemon will run it, whatever manifest it came from
// (a launchd.plist, an XPC service bundle's Info.plist, or TOML with the same
// keys). A plain value: no syscalls, no fds, no validation logic; the
// builder (job_builder.hpp) fills it from a validated Value tree, so every
// field here already holds a value the schema allows.
// Not a spawn plan: paths are not resolved, users not looked up, nothing is
// checked against the running system. Keys xpcd does not support on Linux
// (Bonjour, LaunchEvents, ...) are not represented; lint warns about them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "manifest/limits.hpp"

namespace xpcd::manifest {

// MachServices entry: a service name the job provides. launchd's value is
// `true` or a dictionary of the flags below.
struct MachService {
  std::string name;
  bool reset_at_close = false;        // ResetAtClose: drop queued lookups when the job dies
  bool hide_until_check_in = false;   // HideUntilCheckIn: lookups fail until the job checks in
  bool drain_messages_on_crash = false;  // DrainMessagesOnCrash (per service)
  friend bool operator==(const MachService&, const MachService&) = default;
};

enum class SockType { stream, dgram, seqpacket };
enum class SockFamily { any, ipv4, ipv6, unix_local };  // any: from the address
enum class SockProtocol { any, tcp, udp };

// One socket of a Sockets entry. A Sockets entry (named `group`) holds one
// dictionary or an array of them; each becomes one SocketSpec, in manifest
// order, and `group` is the name passed in LISTEN_FDNAMES.
struct SocketSpec {
  std::string group;
  SockType type = SockType::stream;           // SockType
  bool passive = true;                        // SockPassive: listen() vs connect()
  std::string node_name;                      // SockNodeName
  std::string service_name;                   // SockServiceName (port number or service)
  SockFamily family = SockFamily::any;        // SockFamily
  SockProtocol protocol = SockProtocol::any;  // SockProtocol
  std::string path_name;                      // SockPathName (AF_UNIX)
  std::optional<uint32_t> path_owner;         // SockPathOwner (uid)
  std::optional<uint32_t> path_group;         // SockPathGroup (gid)
  std::optional<uint32_t> path_mode;          // SockPathMode
  std::string multicast_group;                // MulticastGroup
  std::string secure_socket_key;              // SecureSocketWithKey: env var to export a private path in
  friend bool operator==(const SocketSpec&, const SocketSpec&) = default;
};

// KeepAlive: `always` is the bool form; the dictionary form sets conditions.
// launchd keeps the job alive while any condition holds.
struct KeepAlive {
  bool always = false;
  std::optional<bool> successful_exit;  // SuccessfulExit: restart iff exit status ==/!= 0
  std::optional<bool> crashed;          // Crashed: restart iff killed by a signal
  std::vector<std::pair<std::string, bool>> path_state;         // PathState: path -> must exist
  std::vector<std::pair<std::string, bool>> other_job_enabled;  // OtherJobEnabled: label -> loaded
  bool conditional() const {
    return successful_exit || crashed || !path_state.empty() || !other_job_enabled.empty();
  }
  friend bool operator==(const KeepAlive&, const KeepAlive&) = default;
};

// StartCalendarInterval entry; an unset field is a wildcard, as in cron.
struct CalendarInterval {
  std::optional<int> minute;   // 0-59
  std::optional<int> hour;     // 0-23
  std::optional<int> day;      // 1-31
  std::optional<int> weekday;  // 0-7, 0 and 7 are Sunday
  std::optional<int> month;    // 1-12
  friend bool operator==(const CalendarInterval&, const CalendarInterval&) = default;
};

// SoftResourceLimits / HardResourceLimits, in setrlimit units.
struct ResourceLimits {
  std::optional<int64_t> core, cpu, data, file_size, memory_lock, number_of_files,
      number_of_processes, resident_set_size, stack;
  friend bool operator==(const ResourceLimits&, const ResourceLimits&) = default;
};

enum class ProcessType { standard, background, adaptive, interactive };

enum class ManifestKind { launchd_job, xpc_service };
enum class ServiceType { application, user, system };

// The XPC-service part of a job that came from a bundle's Info.plist.
struct XpcServiceSpec {
  std::string bundle_path;        // the Name.xpc directory, or the Info.plist's dir
  ServiceType service_type = ServiceType::application;
  std::string run_loop_type;      // RunLoopType, kept for information only
  bool join_existing_session = false;
  bool multiple_instances = false;  // _MultipleInstances: one instance per client
  friend bool operator==(const XpcServiceSpec&, const XpcServiceSpec&) = default;
};

struct JobSpec {
  ManifestKind kind = ManifestKind::launchd_job;
  std::string source;  // the manifest file it came from

  std::string label;                        // Label, or CFBundleIdentifier
  std::string program;                      // Program (absolute), or argv[0]
  std::vector<std::string> arguments;       // ProgramArguments; empty: {program}
  bool disabled = false;                    // Disabled
  std::vector<MachService> mach_services;   // MachServices, manifest order
  std::vector<SocketSpec> sockets;          // Sockets, flattened in order
  std::optional<bool> inetd_wait;           // inetdCompatibility (set: inetd mode) .Wait

  KeepAlive keep_alive;                     // KeepAlive (OnDemand=false maps to always)
  bool run_at_load = false;                 // RunAtLoad
  bool launch_only_once = false;            // LaunchOnlyOnce
  std::optional<int64_t> start_interval;    // StartInterval, seconds
  std::vector<CalendarInterval> calendar;   // StartCalendarInterval, dict or array
  std::vector<std::string> watch_paths;     // WatchPaths
  std::vector<std::string> queue_directories;  // QueueDirectories

  std::map<std::string, std::string> environment;  // EnvironmentVariables
  std::string user_name, group_name;        // UserName, GroupName
  bool init_groups = true;                  // InitGroups (launchd default: true when UserName is set)
  std::string working_directory;            // WorkingDirectory
  std::string root_directory;               // RootDirectory
  std::optional<uint32_t> umask;            // Umask, number or string (strtoul base 0)
  std::optional<int> nice;                  // Nice, -20..19
  ResourceLimits soft_limits, hard_limits;  // SoftResourceLimits, HardResourceLimits
  std::string stdin_path, stdout_path, stderr_path;  // Standard{In,Out,Error}Path
  ProcessType process_type = ProcessType::standard;  // ProcessType
  std::vector<std::string> session_types;   // LimitLoadToSessionType (string or array)
  bool abandon_process_group = false;       // AbandonProcessGroup

  int64_t throttle_interval = 10;           // ThrottleInterval, seconds
  int64_t exit_timeout = 20;                // ExitTimeOut, seconds (SIGTERM to SIGKILL)
  std::optional<double> idle_timeout;       // TimeOut, seconds, fractional allowed
  std::optional<bool> enable_transactions;  // EnableTransactions (unset: default by kind)
  bool enable_pressured_exit = false;       // EnablePressuredExit

  // xpcd's own keys.
  std::string peer_requirement;             // _PeerRequirement (expression text, see DESIGN 7)
  std::optional<std::vector<std::string>> allowed_lookups;  // _AllowedLookups; unset: no restriction
  bool drain_messages_on_crash = false;     // DrainMessagesOnCrash
  int64_t file_descriptor_store_max = 0;    // FileDescriptorStoreMax (systemd's): 0 = no FDSTORE
  double watchdog_sec = 0;                  // WatchdogSec (systemd's), seconds, fractional: 0 = no watchdog

  std::optional<XpcServiceSpec> xpc_service;  // set for kind == xpc_service

  // Field by field: the manifest watcher reloads a job only when its
  // definition changed, not when only comments or key order did.
  friend bool operator==(const JobSpec&, const JobSpec&) = default;
};

// WatchdogSec as WATCHDOG_USEC carries it, the one conversion the engine
// (its deadline) and the launcher (the variable) share: microseconds,
// rounded, at least 1 when the key is on (a tiny positive value must not
// turn it off), 0 when off. The schema bounds the value; the clamp guards a
// JobSpec built by hand.
inline std::chrono::microseconds watchdog_usec(const JobSpec& spec) {
  if (!(spec.watchdog_sec > 0)) return std::chrono::microseconds::zero();
  const double usec = std::min(spec.watchdog_sec, limits::kMaxWatchdogSec) * 1e6;
  return std::chrono::microseconds(std::max<std::int64_t>(1, std::llround(usec)));
}

}  // namespace xpcd::manifest
