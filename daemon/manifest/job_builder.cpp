// JobSpec builder: dispatch tables per dictionary level, one small reader
// per key. Readers skip values of the wrong type (the validator has reported
// them) so a partly bad tree never crashes the builder.
#include "manifest/job_builder.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <span>

#include "manifest/validate.hpp"

namespace xpcd::manifest {
namespace {

struct Ctx {
  const std::string& file;
  Diagnostics& out;
  void report(Severity s, Position pos, std::string path, std::string msg) {
    out.push_back({s, file, pos, std::move(path), std::move(msg)});
  }
};

template <typename T>
struct Field {
  std::string_view key;
  // nullptr: a key known to launchd that xpcd deliberately ignores on Linux.
  void (*apply)(const Value& v, T& target, Ctx& ctx, const std::string& path);
};

template <typename T>
void dispatch(const Value& dict, std::span<const Field<T>> table, T& target, Ctx& ctx,
              const std::string& path) {
  if (dict.kind != Kind::dict) return;
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    for (const Field<T>& f : table) {
      if (f.key == dict.keys[i] && f.apply) f.apply(dict.items[i], target, ctx, child_path(path, f.key));
    }
  }
}

// The class a member pointer belongs to, so table entries need only name
// the member: put_string<&JobSpec::label>.
template <auto M>
struct owner;
template <typename C, typename F, F C::*M>
struct owner<M> {
  using type = C;
};
template <auto M>
using owner_t = typename owner<M>::type;

template <auto M>
void put_string(const Value& v, owner_t<M>& t, Ctx&, const std::string&) {
  if (v.kind == Kind::string) t.*M = v.text;
}
template <auto M>
void put_bool(const Value& v, owner_t<M>& t, Ctx&, const std::string&) {
  if (v.kind == Kind::boolean) t.*M = v.boolean;
}
template <auto M>
void put_int(const Value& v, owner_t<M>& t, Ctx&, const std::string&) {
  // The schema bounds every integer key, so the narrowing casts keep the value.
  using Target = std::remove_cvref_t<decltype(t.*M)>;
  if constexpr (std::is_same_v<Target, std::optional<int>>) {
    if (v.kind == Kind::integer) t.*M = static_cast<int>(v.integer);
  } else if constexpr (std::is_same_v<Target, std::optional<uint32_t>>) {
    if (v.kind == Kind::integer) t.*M = static_cast<uint32_t>(v.integer);
  } else {
    if (v.kind == Kind::integer) t.*M = v.integer;
  }
}
std::vector<std::string> strings_of(const Value& v) {
  std::vector<std::string> out;
  if (v.kind == Kind::string) out.push_back(v.text);
  for (const Value& e : v.items) {
    if (v.kind == Kind::array && e.kind == Kind::string) out.push_back(e.text);
  }
  return out;
}
template <auto M>
void put_strings(const Value& v, owner_t<M>& t, Ctx&, const std::string&) {
  if (v.kind == Kind::array || v.kind == Kind::string) t.*M = strings_of(v);
}
std::vector<std::pair<std::string, bool>> bool_map(const Value& v) {
  std::vector<std::pair<std::string, bool>> out;
  for (size_t i = 0; v.kind == Kind::dict && i < v.keys.size(); ++i) {
    if (v.items[i].kind == Kind::boolean) out.emplace_back(v.keys[i], v.items[i].boolean);
  }
  return out;
}
template <auto M>
void put_bool_map(const Value& v, owner_t<M>& t, Ctx&, const std::string&) {
  t.*M = bool_map(v);
}

// --- KeepAlive, OnDemand -----------------------------------------------------

constexpr Field<KeepAlive> kKeepAliveFields[] = {
    {"SuccessfulExit", put_bool<&KeepAlive::successful_exit>},
    {"Crashed", put_bool<&KeepAlive::crashed>},
    {"PathState", put_bool_map<&KeepAlive::path_state>},
    {"OtherJobEnabled", put_bool_map<&KeepAlive::other_job_enabled>},
    {"NetworkState", nullptr},
    {"AfterInitialDemand", nullptr},
};

void read_keep_alive(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  j.keep_alive = KeepAlive{};
  if (v.kind == Kind::boolean) j.keep_alive.always = v.boolean;
  dispatch<KeepAlive>(v, kKeepAliveFields, j.keep_alive, ctx, path);
}

void read_on_demand(const Value&, JobSpec&, Ctx&, const std::string&) {
  // Applied after all keys (see apply_on_demand) so that KeepAlive wins
  // whatever the key order.
}

// --- MachServices --------------------------------------------------------------

constexpr Field<MachService> kMachServiceFields[] = {
    {"ResetAtClose", put_bool<&MachService::reset_at_close>},
    {"HideUntilCheckIn", put_bool<&MachService::hide_until_check_in>},
    {"DrainMessagesOnCrash", put_bool<&MachService::drain_messages_on_crash>},
    {"HostSpecialPort", nullptr},
    {"TaskSpecialPort", nullptr},
};

void read_mach_services(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  for (size_t i = 0; v.kind == Kind::dict && i < v.keys.size(); ++i) {
    const Value& entry = v.items[i];
    if (entry.kind == Kind::boolean && !entry.boolean) continue;  // false: not provided
    MachService s;
    s.name = v.keys[i];
    dispatch<MachService>(entry, kMachServiceFields, s, ctx, child_path(path, v.keys[i]));
    j.mach_services.push_back(std::move(s));
  }
}

// --- Sockets ---------------------------------------------------------------------

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

void read_sock_type(const Value& v, SocketSpec& s, Ctx&, const std::string&) {
  if (iequal(v.text, "dgram")) s.type = SockType::dgram;
  if (iequal(v.text, "seqpacket")) s.type = SockType::seqpacket;
}
void read_sock_family(const Value& v, SocketSpec& s, Ctx&, const std::string&) {
  if (iequal(v.text, "IPv4")) s.family = SockFamily::ipv4;
  if (iequal(v.text, "IPv6")) s.family = SockFamily::ipv6;
  if (iequal(v.text, "Unix")) s.family = SockFamily::unix_local;
}
void read_sock_protocol(const Value& v, SocketSpec& s, Ctx&, const std::string&) {
  if (iequal(v.text, "TCP")) s.protocol = SockProtocol::tcp;
  if (iequal(v.text, "UDP")) s.protocol = SockProtocol::udp;
}
void read_sock_service(const Value& v, SocketSpec& s, Ctx&, const std::string&) {
  if (v.kind == Kind::string) s.service_name = v.text;
  if (v.kind == Kind::integer) s.service_name = fmt::format("{}", v.integer);
}

constexpr Field<SocketSpec> kSocketFields[] = {
    {"SockType", read_sock_type},
    {"SockPassive", put_bool<&SocketSpec::passive>},
    {"SockNodeName", put_string<&SocketSpec::node_name>},
    {"SockServiceName", read_sock_service},
    {"SockFamily", read_sock_family},
    {"SockProtocol", read_sock_protocol},
    {"SockPathName", put_string<&SocketSpec::path_name>},
    {"SockPathOwner", put_int<&SocketSpec::path_owner>},
    {"SockPathGroup", put_int<&SocketSpec::path_group>},
    {"SockPathMode", put_int<&SocketSpec::path_mode>},
    {"MulticastGroup", put_string<&SocketSpec::multicast_group>},
    {"SecureSocketWithKey", put_string<&SocketSpec::secure_socket_key>},
    {"Bonjour", nullptr},
    {"ReceivePacketInfo", nullptr},
};

void read_socket(const Value& v, const std::string& group, JobSpec& j, Ctx& ctx, const std::string& path) {
  if (v.kind != Kind::dict) return;
  SocketSpec s;
  s.group = group;
  dispatch<SocketSpec>(v, kSocketFields, s, ctx, path);
  bool secure = !s.secure_socket_key.empty();
  if (s.family == SockFamily::unix_local && s.path_name.empty() && !secure) {
    ctx.report(Severity::error, v.pos, path, "SockFamily Unix without SockPathName (expected a socket path)");
  }
  if (s.path_mode) s.path_mode = *s.path_mode & 07777;  // chmod(2) ignores the S_IFSOCK bits
  if (s.path_name.empty() && s.service_name.empty() && !secure && s.family != SockFamily::unix_local) {
    ctx.report(Severity::error, v.pos, path,
               "socket without an address (expected SockPathName, SockServiceName or SecureSocketWithKey)");
  }
  j.sockets.push_back(std::move(s));
}

void read_sockets(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  for (size_t i = 0; v.kind == Kind::dict && i < v.keys.size(); ++i) {
    const Value& entry = v.items[i];
    std::string entry_path = child_path(path, v.keys[i]);
    if (entry.kind == Kind::dict) read_socket(entry, v.keys[i], j, ctx, entry_path);
    for (size_t k = 0; entry.kind == Kind::array && k < entry.items.size(); ++k) {
      read_socket(entry.items[k], v.keys[i], j, ctx, index_path(entry_path, k));
    }
  }
}

// --- inetdCompatibility, calendar, limits -------------------------------------------

struct InetdTarget {
  bool wait = false;
};
constexpr Field<InetdTarget> kInetdFields[] = {{"Wait", put_bool<&InetdTarget::wait>}};

void read_inetd(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  InetdTarget t;
  dispatch<InetdTarget>(v, kInetdFields, t, ctx, path);
  if (v.kind == Kind::dict) j.inetd_wait = t.wait;
}

constexpr Field<CalendarInterval> kCalendarFields[] = {
    {"Minute", put_int<&CalendarInterval::minute>},   {"Hour", put_int<&CalendarInterval::hour>},
    {"Day", put_int<&CalendarInterval::day>},         {"Weekday", put_int<&CalendarInterval::weekday>},
    {"Month", put_int<&CalendarInterval::month>},
};

void read_calendar(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  auto one = [&](const Value& d, const std::string& p) {
    if (d.kind != Kind::dict) return;
    CalendarInterval c;
    dispatch<CalendarInterval>(d, kCalendarFields, c, ctx, p);
    j.calendar.push_back(c);
  };
  one(v, path);
  for (size_t i = 0; v.kind == Kind::array && i < v.items.size(); ++i) one(v.items[i], index_path(path, i));
}

constexpr Field<ResourceLimits> kLimitFields[] = {
    {"Core", put_int<&ResourceLimits::core>},
    {"CPU", put_int<&ResourceLimits::cpu>},
    {"Data", put_int<&ResourceLimits::data>},
    {"FileSize", put_int<&ResourceLimits::file_size>},
    {"MemoryLock", put_int<&ResourceLimits::memory_lock>},
    {"NumberOfFiles", put_int<&ResourceLimits::number_of_files>},
    {"NumberOfProcesses", put_int<&ResourceLimits::number_of_processes>},
    {"ResidentSetSize", put_int<&ResourceLimits::resident_set_size>},
    {"Stack", put_int<&ResourceLimits::stack>},
};

void read_soft_limits(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  dispatch<ResourceLimits>(v, kLimitFields, j.soft_limits, ctx, path);
}
void read_hard_limits(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  dispatch<ResourceLimits>(v, kLimitFields, j.hard_limits, ctx, path);
}

// --- scalars with their own rules ------------------------------------------------------

void read_umask(const Value& v, JobSpec& j, Ctx& ctx, const std::string& path) {
  if (v.kind == Kind::integer) j.umask = static_cast<uint32_t>(v.integer);
  if (v.kind != Kind::string) return;
  errno = 0;
  char* end = nullptr;
  unsigned long m = std::strtoul(v.text.c_str(), &end, 0);
  bool digits = !v.text.empty() && std::isdigit(static_cast<unsigned char>(v.text[0]));
  if (!digits || errno != 0 || *end != '\0' || m > 0777) {
    return ctx.report(Severity::error, v.pos, path,
                      fmt::format("invalid umask (expected 0 to 0777, e.g. \"022\", got '{}')", printable(v.text)));
  }
  j.umask = static_cast<uint32_t>(m);
}

void read_nice(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  if (v.kind == Kind::integer) j.nice = static_cast<int>(v.integer);
}

void read_timeout(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  if (v.is_number()) j.idle_timeout = v.as_double();
}

void read_watchdog(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  if (v.is_number()) j.watchdog_sec = v.as_double();
}

void read_process_type(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  if (v.text == "Background") j.process_type = ProcessType::background;
  if (v.text == "Adaptive") j.process_type = ProcessType::adaptive;
  if (v.text == "Interactive") j.process_type = ProcessType::interactive;
}

void read_environment(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  for (size_t i = 0; v.kind == Kind::dict && i < v.keys.size(); ++i) {
    if (v.items[i].kind == Kind::string) j.environment[v.keys[i]] = v.items[i].text;
  }
}

void read_allowed_lookups(const Value& v, JobSpec& j, Ctx&, const std::string&) {
  if (v.kind == Kind::array) j.allowed_lookups = strings_of(v);
}

constexpr Field<JobSpec> kJobFields[] = {
    {"Label", put_string<&JobSpec::label>},
    {"Disabled", put_bool<&JobSpec::disabled>},
    {"UserName", put_string<&JobSpec::user_name>},
    {"GroupName", put_string<&JobSpec::group_name>},
    {"InitGroups", put_bool<&JobSpec::init_groups>},
    {"inetdCompatibility", read_inetd},
    {"LimitLoadToSessionType", put_strings<&JobSpec::session_types>},
    {"Program", put_string<&JobSpec::program>},
    {"ProgramArguments", put_strings<&JobSpec::arguments>},
    {"EnableTransactions", put_bool<&JobSpec::enable_transactions>},
    {"EnablePressuredExit", put_bool<&JobSpec::enable_pressured_exit>},
    {"OnDemand", read_on_demand},
    {"KeepAlive", read_keep_alive},
    {"RunAtLoad", put_bool<&JobSpec::run_at_load>},
    {"RootDirectory", put_string<&JobSpec::root_directory>},
    {"WorkingDirectory", put_string<&JobSpec::working_directory>},
    {"EnvironmentVariables", read_environment},
    {"Umask", read_umask},
    {"TimeOut", read_timeout},
    {"ExitTimeOut", put_int<&JobSpec::exit_timeout>},
    {"ThrottleInterval", put_int<&JobSpec::throttle_interval>},
    {"WatchPaths", put_strings<&JobSpec::watch_paths>},
    {"QueueDirectories", put_strings<&JobSpec::queue_directories>},
    {"StartInterval", put_int<&JobSpec::start_interval>},
    {"StartCalendarInterval", read_calendar},
    {"StandardInPath", put_string<&JobSpec::stdin_path>},
    {"StandardOutPath", put_string<&JobSpec::stdout_path>},
    {"StandardErrorPath", put_string<&JobSpec::stderr_path>},
    {"SoftResourceLimits", read_soft_limits},
    {"HardResourceLimits", read_hard_limits},
    {"Nice", read_nice},
    {"ProcessType", read_process_type},
    {"AbandonProcessGroup", put_bool<&JobSpec::abandon_process_group>},
    {"LaunchOnlyOnce", put_bool<&JobSpec::launch_only_once>},
    {"MachServices", read_mach_services},
    {"Sockets", read_sockets},
    {"_PeerRequirement", put_string<&JobSpec::peer_requirement>},
    {"_AllowedLookups", read_allowed_lookups},
    {"DrainMessagesOnCrash", put_bool<&JobSpec::drain_messages_on_crash>},
    {"FileDescriptorStoreMax", put_int<&JobSpec::file_descriptor_store_max>},
    {"WatchdogSec", read_watchdog},
    // Known to launchd, meaningless on Linux: the validator warns, we skip.
    {"LimitLoadToHosts", nullptr},
    {"LimitLoadFromHosts", nullptr},
    {"LimitLoadToHardware", nullptr},
    {"LimitLoadFromHardware", nullptr},
    {"EnableGlobbing", nullptr},
    {"StartOnMount", nullptr},
    {"Debug", nullptr},
    {"WaitForDebugger", nullptr},
    {"LowPriorityIO", nullptr},
    {"LowPriorityBackgroundIO", nullptr},
    {"HopefullyExitsFirst", nullptr},
    {"HopefullyExitsLast", nullptr},
    {"LaunchEvents", nullptr},
    {"ServiceIPC", nullptr},
    {"SessionCreate", nullptr},
    {"LegacyTimers", nullptr},
    {"MaterializeDatalessFiles", nullptr},
    {"BundleProgram", nullptr},
    {"AssociatedBundleIdentifiers", nullptr},
    {"POSIXSpawnType", nullptr},
    {"JetsamProperties", nullptr},
};

// --- checks across keys -----------------------------------------------------------------

void apply_on_demand(const Value& root, JobSpec& j, Ctx& ctx) {
  const Value* od = root.find("OnDemand");
  if (!od || od->kind != Kind::boolean) return;
  if (root.find("KeepAlive")) {
    return ctx.report(Severity::warning, od->pos, "OnDemand",
                      "legacy OnDemand is ignored because KeepAlive is set (KeepAlive wins)");
  }
  j.keep_alive.always = !od->boolean;
}

void check_program(const Value& root, JobSpec& j, Ctx& ctx) {
  const Value* prog = root.find("Program");
  const Value* args = root.find("ProgramArguments");
  if (!j.program.empty()) {
    if (j.program.front() != '/') {
      ctx.report(Severity::error, prog->pos, "Program",
                 fmt::format("relative program path (expected an absolute path, got '{}')", printable(j.program)));
    }
    if (j.arguments.empty()) j.arguments.push_back(j.program);
    return;
  }
  if (j.arguments.empty() || j.arguments.front().empty()) {
    std::string hint = root.find("BundleProgram") ? "; BundleProgram is macOS-only (SMAppService)" : "";
    Position pos = args ? args->pos : root.pos;
    ctx.report(Severity::error, pos, args ? "ProgramArguments" : "Program",
               fmt::format("no program to run (expected Program or a non-empty ProgramArguments){}", hint));
    return;
  }
  j.program = j.arguments.front();
  if (j.program.front() == '/') return;
  // ProgramArguments may be a (wrongly typed) string here; point at it then.
  Position pos = args->kind == Kind::array && !args->items.empty() ? args->items[0].pos : args->pos;
  if (j.program.find('/') != std::string::npos) {
    ctx.report(Severity::error, pos, "ProgramArguments[0]",
               fmt::format("relative program path (expected an absolute path or a bare command name, got '{}')",
                           printable(j.program)));
  } else {
    ctx.report(Severity::warning, pos, "ProgramArguments[0]",
               fmt::format("program '{}' is not an absolute path; it is looked up in PATH when the job starts",
                           printable(j.program)));
  }
}

void check_combinations(const Value& root, const JobSpec& j, Ctx& ctx) {
  if (j.keep_alive.always && j.enable_pressured_exit) {
    const Value* v = root.find("EnablePressuredExit");
    ctx.report(Severity::warning, v ? v->pos : root.pos, "EnablePressuredExit",
               "ignored because KeepAlive is true (launchd ignores it too: a kept-alive job would be restarted at once)");
  }
  if (j.keep_alive.always && j.idle_timeout) {
    const Value* v = root.find("TimeOut");
    ctx.report(Severity::warning, v ? v->pos : root.pos, "TimeOut",
               "idle timeout ignored because KeepAlive is true");
  }
}

}  // namespace

namespace detail {
void build_launchd_keys(const Value& root, JobSpec& j, Diagnostics& out, const std::string& file,
                        const std::string& path) {
  Ctx ctx{file, out};
  dispatch<JobSpec>(root, kJobFields, j, ctx, path);
}
void check_launchd_job(const Value& root, JobSpec& j, Diagnostics& out, const std::string& file) {
  Ctx ctx{file, out};
  apply_on_demand(root, j, ctx);
  check_program(root, j, ctx);
  check_combinations(root, j, ctx);
}

template <typename T>
void append_paths(std::vector<std::string>& out, std::string_view prefix, std::span<const Field<T>> t) {
  for (const Field<T>& f : t) out.push_back(fmt::format("{}{}", prefix, f.key));
}

std::vector<std::string> launchd_key_paths() {
  std::vector<std::string> out;
  append_paths<JobSpec>(out, "", kJobFields);
  append_paths<KeepAlive>(out, "KeepAlive.", kKeepAliveFields);
  append_paths<MachService>(out, "MachServices.*.", kMachServiceFields);
  append_paths<SocketSpec>(out, "Sockets.*.", kSocketFields);
  append_paths<InetdTarget>(out, "inetdCompatibility.", kInetdFields);
  append_paths<CalendarInterval>(out, "StartCalendarInterval.", kCalendarFields);
  append_paths<ResourceLimits>(out, "SoftResourceLimits.", kLimitFields);
  append_paths<ResourceLimits>(out, "HardResourceLimits.", kLimitFields);
  return out;
}
}  // namespace detail

}  // namespace xpcd::manifest
