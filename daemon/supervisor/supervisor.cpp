// The supervisor: events to the job engine, effects to the system.
#include "supervisor/supervisor.hpp"

#include "launcher/spawn.hpp"
#include "supervisor/demand_watch.hpp"
#include "supervisor/fd_store.hpp"
#include "supervisor/inetd.hpp"
#include "supervisor/log.hpp"
#include "supervisor/sockets.hpp"

#include <xpc/protocol.hpp>
#include <xpc/transport.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>  // job change observer
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>  // job change observer

namespace xpcd {

using xpc::Object;
using xpc::UniqueFd;

struct Supervisor::Held {
  Entry* entry;
  std::string service;
  UniqueFd service_end;
  PeerRecord peer;
  UidCharge charge;  // the client uid's share of the limits, given back when this goes
};

struct Supervisor::Instance {
  job::InstanceId id = 0;
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd checkin;  // the daemon's end of the checkin channel (non-blocking), if any
  SourcePtr pidfd_source;
  SourcePtr checkin_source;
  // Connections handed over but not yet acknowledged ("accepted"): if the
  // instance dies first, they go to the next instance instead of being
  // lost with it. Keyed by lookup id (the connection event's message id).
  std::map<job::LookupId, Held> unacked;
  // What is not sent yet, in order: connection events (by the lookup id of
  // their entry in `unacked`) and other messages (exit-if-idle, ...). The
  // channel was full (a service slow to read it must not block xpcd), so
  // they go when it is writable again.
  std::deque<std::variant<job::LookupId, Object>> unsent;
  bool exiting = false;  // it said "exiting": its connections are parked
  // The instance closed its end of the channel but lives on: it takes no
  // more connections. What it holds unacknowledged waits for its exit (to
  // go to the next instance) until this timer fails it (checkin_closed).
  SourcePtr closed_timer;
};

// A connection an instance handed back before its idle exit (DESIGN 6),
// watched until its client writes (relaunch) or closes it (dropped).
struct Supervisor::Parked {
  Entry* entry;
  std::string service;
  UniqueFd service_end;
  PeerRecord peer;
  SourcePtr watch;
};

struct Supervisor::Entry {
  struct TimerRef {
    Entry* entry;
    job::TimerKind kind;
  };

  Entry(Supervisor* s, manifest::JobSpec spec, job::Config config) : owner(s), job(std::move(spec), config) {
    for (std::size_t i = 0; i < job::kTimerKindCount; ++i) timer_refs[i] = {this, static_cast<job::TimerKind>(i)};
  }

  Supervisor* owner;
  job::Job job;
  std::optional<Instance> instance;
  std::array<SourcePtr, job::kTimerKindCount> timers;
  std::array<TimerRef, job::kTimerKindCount> timer_refs;
  bool removed = false;
  std::vector<std::function<void()>> on_removed;  // Supervisor::bootout's callers
  std::shared_ptr<void> alive = std::make_shared<int>();  // expires with the entry
  std::vector<job::LookupId> redeliver;  // handed to an instance that was already gone
  std::vector<std::unique_ptr<Parked>> parked;  // connections of its last idle exit
  std::unique_ptr<JobSockets> sockets;   // the Sockets listeners, for the job's whole life
  std::unique_ptr<FdStore> fdstore;      // FDSTORE=1 (FileDescriptorStoreMax > 0), for the job's whole life
  std::unique_ptr<JobDemand> demand;     // WatchPaths, QueueDirectories, PathState, calendar (demand_watch.hpp)
  std::unique_ptr<InetdChildren> inetd;  // inetd Wait=false only; declared last, destroyed first
};

namespace {

// How late sd-event may fire a timer to batch wake-ups. Its default (0
// asks for it) is 250 ms, which would make a TimeOut of 50 ms or 1 s
// meaningless; 1 ms keeps every job timer honest at no real cost.
constexpr std::uint64_t kTimerAccuracyUsec = 1000;

// The engine's texts name the job ("LABEL: not running"), since a client
// may read them; a log line names it already.
std::string_view unnamed(std::string_view text, std::string_view label) {
  if (text.starts_with(label) && text.substr(label.size()).starts_with(": ")) text.remove_prefix(label.size() + 2);
  return text;
}

std::uint64_t to_usec(job::TimePoint at) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

job::ExitStatus exit_status(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return job::ExitStatus::exited(info.si_status);
  return job::ExitStatus::killed(info.si_status);
}

Object peer_object(const PeerRecord& peer, const std::string& label) {
  Object record{{xpc::protocol::kPid, std::int64_t{peer.pid}},
                {xpc::protocol::kUid, std::uint64_t{peer.uid}},
                {xpc::protocol::kGid, std::uint64_t{peer.gid}},
                {xpc::protocol::kExe, peer.exe},
                {xpc::protocol::kLabel, label}};
  if (peer.pidfd) record[xpc::protocol::kPidfd] = Object::fd(peer.pidfd.dup());
  return record;
}

}  // namespace

Supervisor::Supervisor(sd_event* loop, SupervisorConfig config)
    : loop_(loop), config_(std::move(config)), ledger_(config_.uid_limits) {}

void Supervisor::watch_memory_pressure(const std::string& path, const PressureTrigger& trigger) {
  auto watch = PressureWatch::open(loop_, path, trigger, [this] {
    log_line(LogLevel::notice, "memory pressure: asking clean jobs with EnablePressuredExit to exit");
    std::vector<Entry*> all;
    for (auto& [label, entry] : jobs_) all.push_back(entry.get());
    if (all.empty()) return;
    for (std::size_t i = 0; i + 1 < all.size(); ++i) queue_.emplace_back(all[i], job::MemoryPressure{});
    feed(*all.back(), job::MemoryPressure{});
  });
  if (!watch) {
    log_line(LogLevel::warning, watch.error() + "; no pressured exits");
    return;
  }
  log_line(LogLevel::info, fmt::format("memory pressure trigger '{}' armed on {}", trigger_line(trigger), path));
  pressure_ = std::move(*watch);
}

void Supervisor::open_notify_socket() {
  std::string path = config_.notify_socket;
  if (const char* bootstrap = std::getenv(xpc::protocol::kBootstrapEnv); path.empty() && bootstrap != nullptr) {
    path = std::string(bootstrap) + ".notify";
  }
  if (path.empty()) return;
  auto notify = NotifySocket::open(loop_, path, [this](pid_t pid, const NotifyMessage& m, std::vector<UniqueFd>& fds) {
    notified(pid, m, fds);
  });
  if (!notify) {
    log_line(LogLevel::warning, notify.error() + "; jobs get no NOTIFY_SOCKET");
    return;
  }
  notify_ = std::move(*notify);
}
// Stopping xpcd stops its jobs: SIGTERM to every instance (the handshake
// of a graceful stop comes with idle exit).
Supervisor::~Supervisor() {
  for (auto& [label, entry] : jobs_) {
    if (entry->instance) ::syscall(SYS_pidfd_send_signal, entry->instance->pidfd.get(), SIGTERM, nullptr, 0);
  }
}

xpc::Result<xpc::Ok, std::string> Supervisor::load(manifest::JobSpec spec) {
  if (jobs_.contains(spec.label)) return xpc::fail(fmt::format("{}: a job with this label is loaded already", spec.label));
  for (const auto& service : spec.mach_services) {
    if (services_.contains(service.name)) {
      return xpc::fail(fmt::format("{}: service name {} is taken by {}", spec.label, service.name,
                                   services_[service.name]->job.label()));
    }
  }
  std::string label = spec.label;
  auto entry = std::make_unique<Entry>(this, std::move(spec), config_.engine);
  if (auto attached = attach_sockets(*entry); !attached) return xpc::fail(fmt::format("{}: {}", label, attached.error()));
  if (const auto max = entry->job.spec().file_descriptor_store_max; max > 0) {
    entry->fdstore = std::make_unique<FdStore>(loop_, label, static_cast<std::size_t>(max));
  }
  for (const auto& service : entry->job.spec().mach_services) services_[service.name] = entry.get();
  Entry& e = *entry;
  jobs_.emplace(label, std::move(entry));
  // Initial PathState, QueueDirectories and OtherJobEnabled values go in
  // before Load, so the decision at load sees them (job-engine.md).
  std::vector<job::Event> initial;
  e.demand = std::make_unique<JobDemand>(loop_, e.job.spec(), [this, &e](job::Event ev) { feed(e, std::move(ev)); },
                                         initial);
  for (const auto& [other, wanted] : e.job.spec().keep_alive.other_job_enabled) {
    auto it = jobs_.find(other);
    initial.emplace_back(job::OtherJobChanged{other, it != jobs_.end() && !it->second->job.disabled()});
  }
  for (auto& event : initial) queue_.emplace_back(&e, std::move(event));
  feed(e, job::Load{local_civil_now()});
  other_job_changed(label, !e.job.disabled());
  return xpc::Ok{};
}

bool Supervisor::bootout(const std::string& label, std::function<void()> on_removed) {
  auto it = jobs_.find(label);
  if (it == jobs_.end()) return false;
  if (on_removed) it->second->on_removed.push_back(std::move(on_removed));
  feed(*it->second, job::Bootout{});
  return true;
}

xpc::Result<UniqueFd, Object> Supervisor::lookup(const std::string& name, std::uint64_t flags, PeerRecord peer) {
  if ((flags & xpc::protocol::kLookupPrivileged) != 0 && config_.domain != launcher::Domain::system) {
    return xpc::fail(Object::error(xpc::protocol::kErrorNotFound,
                                   "privileged lookups are answered by the system domain only"));
  }
  auto it = services_.find(name);
  if (it == services_.end()) {
    std::string domain = config_.domain == launcher::Domain::system ? "system" : "user";
    return xpc::fail(Object::error(xpc::protocol::kErrorNotFound,
                                   fmt::format("no service named '{}' in the {} domain", name, domain)));
  }
  // Per-uid limits (supervisor/limits.hpp): refused at once, before any fd is made.
  auto charge = ledger_.admit(peer.uid, peer.pidfd ? limits::kMaxFdsPerLookup : limits::kMaxFdsPerLookup - 1);
  if (!charge) {
    log_line(LogLevel::notice, charge.error());
    return xpc::fail(Object::error(xpc::protocol::kErrorInvalid, charge.error()));
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return xpc::fail(Object::error(xpc::protocol::kErrorInvalid, fmt::format("socketpair: {}", std::strerror(errno))));
  }
  job::LookupId id = ++last_lookup_;
  held_.emplace(id, Held{it->second, name, UniqueFd::adopt(sv[1]), std::move(peer), std::move(*charge)});
  // An instance that has just died must not be handed this connection:
  // its exit may be waiting behind this request in the loop. Take it now.
  // That exit may finish a bootout and free the entry (whose removal then
  // fails this lookup), so the name is looked up again afterwards.
  Entry* entry = it->second;
  if (entry->instance && exited_already(*entry->instance)) {
    instance_exited(*entry);
    auto again = services_.find(name);
    if (again == services_.end() || again->second != entry || !held_.contains(id)) return UniqueFd::adopt(sv[0]);
  }
  if (entry->parked.empty()) {
    feed(*entry, job::Lookup{id});
  } else {  // the connections parked at its last idle exit go to the same instance
    queue_.emplace_back(entry, job::Lookup{id});
    unpark(*entry);
  }
  return UniqueFd::adopt(sv[0]);
}

// Events raised while effects are applied wait in the queue, so the engine
// is never re-entered and every event sees the state its predecessors left.
void Supervisor::feed(Entry& entry, job::Event event) {
  queue_.emplace_back(&entry, std::move(event));
  if (feeding_) return;
  feeding_ = true;
  // --- job change observer: each job fed, as it was before ---
  std::vector<std::tuple<Entry*, job::State, int>> before;
  // --- end job change observer ---
  while (!queue_.empty()) {
    auto [target, next] = std::move(queue_.front());
    queue_.pop_front();
    // --- job change observer ---
    if (job_changed_ && std::ranges::none_of(before, [&](const auto& b) { return std::get<0>(b) == target; })) {
      before.emplace_back(target, target->job.state(), target->job.status().pid);
    }
    // --- end job change observer ---
    for (const job::Effect& effect : target->job.handle(next, job::Clock::now())) apply(*target, effect);
  }
  feeding_ = false;
  // --- job change observer: read before the removed entries are freed ---
  std::vector<std::string> changed;
  for (const auto& [e, state, pid] : before) {
    if (e->removed || e->job.state() != state || e->job.status().pid != pid) changed.push_back(e->job.label());
  }
  // --- end job change observer ---
  std::vector<std::function<void()>> removed_callbacks;
  std::vector<std::string> removed_labels;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (!it->second->removed) {
      ++it;
      continue;
    }
    for (const auto& service : it->second->job.spec().mach_services) services_.erase(service.name);
    for (auto& callback : it->second->on_removed) removed_callbacks.push_back(std::move(callback));
    // Connections taken back from an instance that died during the
    // bootout: the engine never saw them again, so they are failed here.
    std::vector<job::LookupId> orphans;
    for (const auto& [lookup, held] : held_) {
      if (held.entry == it->second.get()) orphans.push_back(lookup);
    }
    fail(*it->second, orphans, it->first + ": job was removed");
    removed_labels.push_back(it->first);
    it = jobs_.erase(it);
  }
  for (const auto& label : removed_labels) other_job_changed(label, false);
  // After the loop: a callback may load a job under the same names.
  for (auto& callback : removed_callbacks) callback();
  // --- job change observer ---
  for (const auto& label : changed) job_changed_(label);
  // --- end job change observer ---
}

void Supervisor::apply(Entry& entry, const job::Effect& effect) {
  const std::string& label = entry.job.label();
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, job::Spawn>) {
          spawn(entry, e.instance);
        } else if constexpr (std::is_same_v<T, job::Kill>) {
          if (entry.instance && entry.instance->id == e.instance) {
            ::syscall(SYS_pidfd_send_signal, entry.instance->pidfd.get(), e.signal, nullptr, 0);
          }
        } else if constexpr (std::is_same_v<T, job::ArmTimer>) {
          arm(entry, e.kind, e.at);
        } else if constexpr (std::is_same_v<T, job::CancelTimer>) {
          entry.timers[static_cast<std::size_t>(e.kind)].reset();
          if (e.kind == job::TimerKind::calendar && entry.demand) entry.demand->cancel_calendar();
        } else if constexpr (std::is_same_v<T, job::DeliverLookups>) {
          deliver(entry, e.ids);
        } else if constexpr (std::is_same_v<T, job::FailLookups>) {
          fail(entry, e.ids, e.reason);
        } else if constexpr (std::is_same_v<T, job::Removed>) {
          entry.removed = true;
        } else if constexpr (std::is_same_v<T, job::Log>) {
          // A watchdog expiry is a failure of the job, as systemd logs it (at error).
          const LogLevel level = e.event == job::LogEvent::watchdog ? LogLevel::error : LogLevel::info;
          log_job(level, label, std::string(job::to_string(e.event)), unnamed(e.text, label));
        } else if constexpr (std::is_same_v<T, job::Refused>) {
          log_job(LogLevel::notice, label, "refused", unnamed(e.reason, label));
        } else if constexpr (std::is_same_v<T, job::WatchSockets>) {
          if (entry.sockets && !entry.inetd && !entry.sockets->watch(loop_, e.on)) {
            log_job(LogLevel::error, label, "sockets", "cannot watch the listeners");
          }
        } else if constexpr (std::is_same_v<T, job::ArmCalendar>) {
          arm_calendar(entry, e.at);
        } else if constexpr (std::is_same_v<T, job::AskExitIfIdle>) {
          if (entry.instance && entry.instance->id == e.instance) {
            tell(entry, Object{{xpc::protocol::kEvent, xpc::protocol::kExitIfIdle}, {xpc::protocol::kReason, e.reason}});
          }
        } else if constexpr (std::is_same_v<T, job::TerminationImminent>) {
          if (entry.instance && entry.instance->id == e.instance) {
            tell(entry, Object{{xpc::protocol::kEvent, xpc::protocol::kTerminationImminent}});
          }
        } else {
          static_assert(sizeof(T) == 0, "an effect the supervisor does not carry out");
        }
      },
      effect);
}

void Supervisor::spawn(Entry& entry, job::InstanceId id) {
  const manifest::JobSpec& spec = entry.job.spec();
  UniqueFd daemon_end, child_end;
  if (entry.job.uses_checkin()) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      queue_.emplace_back(&entry, job::SpawnFailed{id, "prepare", errno, fmt::format("socketpair: {}", std::strerror(errno))});
      return;
    }
    daemon_end = UniqueFd::adopt(sv[0]);
    child_end = UniqueFd::adopt(sv[1]);
    // xpcd never blocks on a service (flush_checkin); the service's end
    // stays as libxpc expects it.
    ::fcntl(daemon_end.get(), F_SETFL, ::fcntl(daemon_end.get(), F_GETFL) | O_NONBLOCK);
  }
  launcher::SpawnContext ctx = spawn_context(spec);
  ctx.checkin_fd = child_end.get();
  if (entry.sockets) ctx.socket_fds = entry.sockets->fds();
  if (entry.fdstore) ctx.stored_fds = entry.fdstore->fds();
  if (notify_) ctx.environment.emplace_back("NOTIFY_SOCKET", notify_->path());
  auto plan = launcher::make_spawn_plan(spec, ctx);
  if (!plan) {
    queue_.emplace_back(&entry, job::SpawnFailed{id, "plan", EINVAL, plan.error().message()});
    return;
  }
  // inetd Wait=true: the (first) listener is stdin and stdout too, as launchd gives it.
  if (spec.inetd_wait == true && !ctx.socket_fds.empty()) {
    plan->stdio[0] = launcher::DupFd{ctx.socket_fds[0]};
    plan->stdio[1] = launcher::DupFd{ctx.socket_fds[0]};
  }
  auto spawned = launcher::spawn(*plan);
  if (!spawned) {
    const auto& error = spawned.error();
    queue_.emplace_back(&entry, job::SpawnFailed{id, launcher::to_string(error.stage), error.error, error.message()});
    return;
  }
  Instance instance{id, spawned->pid, std::move(spawned->pidfd), std::move(daemon_end), {}, {}};
  sd_event_source* source = nullptr;
  sd_event_add_io(loop_, &source, instance.pidfd.get(), EPOLLIN, on_pidfd, &entry);
  instance.pidfd_source.reset(source);
  if (instance.checkin) {
    sd_event_add_io(loop_, &source, instance.checkin.get(), EPOLLIN, on_checkin, &entry);
    instance.checkin_source.reset(source);
  }
  log_job(LogLevel::info, spec.label, "spawned", fmt::format("pid {}", instance.pid));
  entry.instance = std::move(instance);
  unpark(entry);  // whatever started it, parked connections go to it (feed only queues here)
  predeliver(entry);
  queue_.emplace_back(&entry, job::SpawnSucceeded{id, entry.instance->pid});
}

launcher::SpawnContext Supervisor::spawn_context(const manifest::JobSpec& spec) {
  launcher::SpawnContext ctx;
  ctx.domain = config_.domain;
  ctx.self_uid = ::getuid();
  ctx.self_gid = ::getgid();
  ctx.resolver = &resolver_;
  ctx.default_output_fd = config_.default_output_fd;
  ctx.job_nofile_soft = config_.job_nofile_soft;
  ctx.environment.emplace_back("XPC_SERVICE_NAME", spec.label);
  if (const char* bootstrap = std::getenv(xpc::protocol::kBootstrapEnv)) {
    ctx.environment.emplace_back(xpc::protocol::kBootstrapEnv, bootstrap);
  }
  for (const char* name : {"HOME", "LANG", "XDG_RUNTIME_DIR"}) {
    if (const char* value = std::getenv(name); value != nullptr && config_.domain == launcher::Domain::user) {
      ctx.default_environment.emplace_back(name, value);
    }
  }
  return ctx;
}

// The connections waiting for this job go into the new instance's checkin
// channel at once, without waiting for its check-in: the kernel queues them
// and the service reads them right after it checks in, which saves the
// cold start a round trip. The engine still counts them as waiting (its
// DeliverLookups at check-in then finds nothing to do), and xpcd keeps its
// copy of each until the instance accepts it, so a failed start fails them
// (fail) or hands them to the next instance (instance_exited) as before.
void Supervisor::predeliver(Entry& entry) {
  if (!entry.instance || !entry.instance->checkin) return;
  std::vector<job::LookupId> ids;
  for (const auto& [id, held] : held_) {
    if (held.entry == &entry) ids.push_back(id);
  }
  deliver(entry, ids, /*ahead_of_checkin=*/true);
}

void Supervisor::deliver(Entry& entry, const std::vector<job::LookupId>& ids, bool ahead_of_checkin) {
  for (job::LookupId id : ids) {
    auto it = held_.find(id);
    if (it == held_.end()) continue;
    Held held = std::move(it->second);
    held_.erase(it);
    if (auto refusal = refuses_connections(entry)) {
      (void)xpc::wire::send(held.service_end.get(), {0, 0, false, Object::error(xpc::protocol::kErrorInvalid, *refusal)});
      continue;
    }
    // Still waiting for a launch until the instance checks in; its fds stay
    // held until the instance acknowledges it.
    if (!ahead_of_checkin) held.charge.set_pending(false);
    entry.instance->unacked.emplace(id, std::move(held));
    // A closed channel takes nothing: the connection waits in unacked for
    // the instance's exit or the closed_timer (checkin_closed).
    if (entry.instance->checkin_source) entry.instance->unsent.emplace_back(id);
  }
  flush_checkin(entry);
}

Object Supervisor::connection_event(const Held& held) const {
  std::string client_label;
  for (const auto& [label, other] : jobs_) {
    if (other->instance && other->instance->pid == held.peer.pid) client_label = label;
  }
  return Object{{xpc::protocol::kEvent, xpc::protocol::kConnection},
                {xpc::protocol::kFd, Object::fd(held.service_end.dup())},
                {xpc::protocol::kService, held.service},
                {xpc::protocol::kPeer, peer_object(held.peer, client_label)}};
}

// A message for the instance's checkin channel, after what waits already.
void Supervisor::tell(Entry& entry, Object message) {
  if (!entry.instance || !entry.instance->checkin_source) return;
  entry.instance->unsent.emplace_back(std::move(message));
  flush_checkin(entry);
}

// Why the job's instance cannot take a connection, if it cannot: there is
// none, it has no checkin channel, or it closed it and the grace is over.
std::optional<std::string> Supervisor::refuses_connections(const Entry& entry) {
  const std::string& label = entry.job.label();
  if (!entry.instance || !entry.instance->checkin) return label + ": no instance to take the connection";
  const Instance& instance = *entry.instance;
  if (!instance.checkin_source && !instance.closed_timer) {
    return fmt::format("{}: pid {} closed its checkin channel and takes no more connections", label, instance.pid);
  }
  return std::nullopt;
}

// Sends what the checkin channel can take now, in order, without blocking:
// on EAGAIN the rest waits for EPOLLOUT (on_checkin). A send that fails
// otherwise means the instance closed its end.
void Supervisor::flush_checkin(Entry& entry) {
  if (!entry.instance || !entry.instance->checkin_source) return;
  Instance& instance = *entry.instance;
  while (!instance.unsent.empty()) {
    xpc::wire::Message message;
    if (const auto* other = std::get_if<Object>(&instance.unsent.front())) {
      message = {0, 0, false, *other};
    } else {
      auto it = instance.unacked.find(std::get<job::LookupId>(instance.unsent.front()));
      if (it == instance.unacked.end()) {  // failed meanwhile
        instance.unsent.pop_front();
        continue;
      }
      message = {it->first, 0, false, connection_event(it->second)};
    }
    auto sent = xpc::wire::send(instance.checkin.get(), message);
    if (!sent && sent.error().sys_errno == EAGAIN) break;
    const int error = sent ? 0 : sent.error().sys_errno;
    if (error == EPIPE || error == ECONNRESET || error == ENOTCONN) {
      checkin_closed(entry);
      return;
    }
    if (!sent) {  // this message alone cannot go (no fd for the dup, ETOOMANYREFS, ...): the channel stays
      std::string reason = fmt::format("{}: cannot hand the connection to pid {}: {}", entry.job.label(), instance.pid,
                                       sent.error().message());
      log_job(LogLevel::warning, entry.job.label(), "checkin", reason);
      if (message.id != 0) fail(entry, {message.id}, reason);
    }
    instance.unsent.pop_front();
  }
  sd_event_source_set_io_events(instance.checkin_source.get(),
                                instance.unsent.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

// The instance closed its end of the checkin channel and takes no more
// connections. Usually it is exiting, and its exit hands what it held to
// the next instance (instance_exited); one that lives on past the grace
// fails them, so no client waits on it for ever.
void Supervisor::checkin_closed(Entry& entry) {
  Instance& instance = *entry.instance;
  instance.checkin_source.reset();
  instance.unsent.clear();
  sd_event_source* source = nullptr;
  std::uint64_t now = 0;
  sd_event_now(loop_, CLOCK_MONOTONIC, &now);
  auto grace = std::chrono::duration_cast<std::chrono::microseconds>(limits::kCheckinClosedGrace).count();
  if (sd_event_add_time(loop_, &source, CLOCK_MONOTONIC, now + static_cast<std::uint64_t>(grace), kTimerAccuracyUsec,
                        on_checkin_closed_timer, &entry) >= 0) {
    instance.closed_timer.reset(source);
  }
}

int Supervisor::on_checkin_closed_timer(sd_event_source*, uint64_t, void* userdata) {
  auto* entry = static_cast<Entry*>(userdata);
  Supervisor& self = *entry->owner;
  if (!entry->instance) return 0;
  Instance& instance = *entry->instance;
  instance.closed_timer.reset();
  std::vector<job::LookupId> stranded;
  for (const auto& [id, held] : instance.unacked) stranded.push_back(id);
  if (stranded.empty()) return 0;
  std::string reason = *self.refuses_connections(*entry);
  log_job(LogLevel::warning, entry->job.label(), "checkin", reason);
  self.fail(*entry, stranded, reason);
  return 0;
}

// The client already has its end: it learns why through the connection,
// from one message with id 0 and an error body, then EOF (DESIGN 5.2).
void Supervisor::fail(Entry& entry, const std::vector<job::LookupId>& ids, const std::string& reason) {
  Object error = Object::error(xpc::protocol::kErrorInvalid, reason);
  for (job::LookupId id : ids) {
    // Waiting here, or handed ahead to an instance that has not taken it.
    std::map<job::LookupId, Held>* where = &held_;
    auto it = held_.find(id);
    if (it == held_.end() && entry.instance) {
      where = &entry.instance->unacked;
      it = where->find(id);
    }
    if (it == where->end()) continue;
    (void)xpc::wire::send(it->second.service_end.get(), {0, 0, false, error});
    where->erase(it);
  }
}

void Supervisor::arm(Entry& entry, job::TimerKind kind, job::TimePoint at) {
  SourcePtr& timer = entry.timers[static_cast<std::size_t>(kind)];
  if (timer) {
    sd_event_source_set_time(timer.get(), to_usec(at));
    sd_event_source_set_enabled(timer.get(), SD_EVENT_ONESHOT);
    return;
  }
  sd_event_source* source = nullptr;
  if (sd_event_add_time(loop_, &source, CLOCK_MONOTONIC, to_usec(at), kTimerAccuracyUsec, on_timer,
                        &entry.timer_refs[static_cast<std::size_t>(kind)]) >= 0) {
    timer.reset(source);
  }
}

int Supervisor::on_timer(sd_event_source*, uint64_t, void* userdata) {
  auto* ref = static_cast<Entry::TimerRef*>(userdata);
  ref->entry->owner->feed(*ref->entry, job::TimerFired{ref->kind});
  return 0;
}

int Supervisor::on_pidfd(sd_event_source*, int, uint32_t, void* userdata) {
  auto* entry = static_cast<Entry*>(userdata);
  entry->owner->instance_exited(*entry);
  return 0;
}

void Supervisor::instance_exited(Entry& entry) {
  if (!entry.instance) return;
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(entry.instance->pidfd.get()), &info,
               WEXITED | WNOHANG) != 0 ||
      info.si_pid == 0) {
    return;
  }
  job::InstanceId id = entry.instance->id;
  job::ExitStatus status = exit_status(info);
  // What the instance said before it died still counts: a connection it
  // accepted is its own (its client gets EOF, then interrupted), not one to
  // hand to the next instance.
  // So is the rest of what it said: parked connections, and "exiting",
  // which makes this exit an idle one.
  std::weak_ptr<void> alive = entry.alive;
  if (entry.instance->checkin) {
    for (;;) {
      auto said = xpc::wire::receive(entry.instance->checkin.get(), MSG_DONTWAIT);
      if (!said && said.error().sys_errno == ECONNRESET) continue;  // reported once, ahead of the data (checkin_readable)
      if (!said && !closes_channel(said.error())) continue;        // a malformed message: the rest still counts
      if (!said) break;
      heard(entry, said->body);
      if (alive.expired() || !entry.instance) return;
    }
  }
  // DrainMessagesOnCrash: what a crashed instance was handed and had not
  // taken is dropped, its clients told, rather than crash the next one too.
  const bool crashed = info.si_code != CLD_EXITED && !entry.instance->exiting && entry.job.state() != job::State::stopping;
  if (crashed && drains_on_crash(entry.job.spec())) {
    std::vector<job::LookupId> dropped;
    for (const auto& [lookup, held] : entry.instance->unacked) dropped.push_back(lookup);
    fail(entry, dropped, fmt::format("{}: the service crashed ({}); its pending connections were dropped "
                                     "(DrainMessagesOnCrash)", entry.job.label(), job::describe(status)));
  }
  for (auto& [lookup, held] : entry.instance->unacked) {
    held.charge.set_pending(true);
    held_.emplace(lookup, std::move(held));
    entry.redeliver.push_back(lookup);
  }
  log_job(LogLevel::info, entry.job.label(), "exited", fmt::format("pid {} {}", entry.instance->pid, job::describe(status)));
  entry.instance.reset();
  // The exit may finish a bootout: then feed frees the entry.
  feed(entry, job::Exited{id, status});
  if (alive.expired()) return;
  // Only those still waiting: the exit may have failed some (an instance
  // that never checked in fails what was handed to it ahead of check-in).
  for (job::LookupId lookup : std::exchange(entry.redeliver, {})) {
    bool waiting = held_.contains(lookup) || (entry.instance && entry.instance->unacked.contains(lookup));
    if (waiting) feed(entry, job::Lookup{lookup});
  }
}

bool Supervisor::exited_already(const Instance& instance) {
  pollfd p{instance.pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

int Supervisor::on_checkin(sd_event_source*, int, uint32_t revents, void* userdata) {
  auto* entry = static_cast<Entry*>(userdata);
  if ((revents & EPOLLOUT) != 0) entry->owner->flush_checkin(*entry);
  if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) entry->owner->checkin_readable(*entry);
  return 0;
}

void Supervisor::checkin_readable(Entry& entry) {
  if (!entry.instance) return;
  auto received = xpc::wire::receive(entry.instance->checkin.get(), MSG_DONTWAIT);
  if (!received) {
    // ECONNRESET: the service closed its end with connection events unread;
    // the kernel says so before the messages it sent first ("ready",
    // "accepted"), which the next read still gets, then EOF.
    if (received.error().sys_errno == EAGAIN || received.error().sys_errno == ECONNRESET) return;
    // One malformed message is dropped (its fds closed by the decoder);
    // only EOF or a failing socket close the channel.
    if (!closes_channel(received.error())) {
      log_job(LogLevel::warning, entry.job.label(), "checkin",
              fmt::format("pid {}: bad message dropped: {}", entry.instance->pid, received.error().message()));
      return;
    }
    if (entry.instance->checkin_source) checkin_closed(entry);
    return;
  }
  heard(entry, received->body);
}

// One message from an instance on its checkin channel (DESIGN 5.3).
void Supervisor::heard(Entry& entry, const Object& body) {
  Instance& instance = *entry.instance;
  const job::InstanceId id = instance.id;
  auto event = body[xpc::protocol::kEvent].as_string();
  if (event == xpc::protocol::kReady) {
    for (auto& [lookup, held] : instance.unacked) held.charge.set_pending(false);
    feed(entry, job::CheckedIn{id});
  } else if (event == xpc::protocol::kAccepted) {
    instance.unacked.erase(body[xpc::protocol::kId].uint64_or(0));
  } else if (event == xpc::protocol::kClean || event == xpc::protocol::kDirty) {
    feed(entry, job::Transactions{id, event == xpc::protocol::kDirty});
  } else if (event == xpc::protocol::kBusy) {
    // It keeps its connections: what it parked before it failed to park
    // the rest (idle_exit.cpp) are copies of live sockets, not ours.
    entry.parked.clear();
    feed(entry, job::Busy{id});
  } else if (!asked_to_exit(entry)) {
    // park and exiting only answer exit-if-idle: anything else is ignored.
  } else if (event == xpc::protocol::kPark) {
    park(entry, body[xpc::protocol::kConnections]);
  } else if (event == xpc::protocol::kExiting) {
    instance.exiting = true;
    log_job(LogLevel::info, entry.job.label(), "parked",
            fmt::format("pid {} parked {} connections and exits", instance.pid, entry.parked.size()));
    feed(entry, job::ExitingIdle{id});
  }
}

// Connections handed back by an instance that exits idle: each watched, so
// the first one its client writes to relaunches the service.
void Supervisor::park(Entry& entry, const Object& connections) {
  const std::size_t count = connections.is(xpc::Type::Array) ? connections.size() : 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Object& one = connections[i];
    if (entry.parked.size() >= xpc::protocol::kMaxParkedConnections) {
      log_job(LogLevel::warning, entry.job.label(), "parked",
              fmt::format("more than {} connections parked; the rest are closed", xpc::protocol::kMaxParkedConnections));
      return;  // the message's fds close with it
    }
    UniqueFd fd = one[xpc::protocol::kFd].dup_fd();
    if (!fd) continue;
    const Object& record = one[xpc::protocol::kPeer];
    PeerRecord peer{static_cast<pid_t>(record[xpc::protocol::kPid].int64_or(0)),
                    static_cast<uid_t>(record[xpc::protocol::kUid].uint64_or(0)),
                    static_cast<gid_t>(record[xpc::protocol::kGid].uint64_or(0)),
                    std::string(record[xpc::protocol::kExe].string_or("")), record[xpc::protocol::kPidfd].dup_fd()};
    auto parked = std::make_unique<Parked>(
        Parked{&entry, std::string(one[xpc::protocol::kService].string_or("")), std::move(fd), std::move(peer), {}});
    sd_event_source* source = nullptr;
    if (sd_event_add_io(loop_, &source, parked->service_end.get(), EPOLLIN, on_parked, parked.get()) < 0) continue;
    parked->watch.reset(source);
    entry.parked.push_back(std::move(parked));
  }
}

int Supervisor::on_parked(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto* parked = static_cast<Parked*>(userdata);
  Entry& entry = *parked->entry;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // ECONNRESET comes once, ahead of what the client sent before it closed.
  if (n < 0 && errno == ECONNRESET) n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) return 0;
  if (n <= 0) {  // its client closed it: nobody to relaunch for
    std::erase_if(entry.parked, [parked](const auto& p) { return p.get() == parked; });
    return 0;
  }
  entry.owner->unpark(entry);
  return 0;
}

// Every parked connection goes back to the job as a lookup, with its peer
// record: the engine starts an instance (or hands them to the one being
// started) as for any lookup.
void Supervisor::unpark(Entry& entry) {
  if (entry.parked.empty()) return;
  std::vector<std::unique_ptr<Parked>> parked = std::exchange(entry.parked, {});
  std::vector<job::LookupId> ids;
  for (auto& p : parked) {
    p->watch.reset();
    job::LookupId id = ++last_lookup_;
    held_.emplace(id, Held{&entry, std::move(p->service), std::move(p->service_end), std::move(p->peer), UidCharge{}});
    ids.push_back(id);
  }
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) queue_.emplace_back(&entry, job::Lookup{ids[i], true});
  feed(entry, job::Lookup{ids.back(), true});
}

bool Supervisor::asked_to_exit(const Entry& entry) {
  return entry.job.state() == job::State::draining;
}

// Errors after which the checkin channel is gone: EOF and socket errors.
// A message that does not decode is one bad message, not a closed channel.
bool Supervisor::closes_channel(const xpc::wire::CodecError& error) {
  return error.code == xpc::wire::CodecErrc::Closed || error.code == xpc::wire::CodecErrc::System;
}

bool Supervisor::drains_on_crash(const manifest::JobSpec& spec) {
  if (spec.drain_messages_on_crash) return true;
  return std::any_of(spec.mach_services.begin(), spec.mach_services.end(),
                     [](const auto& service) { return service.drain_messages_on_crash; });
}

}  // namespace xpcd

namespace xpcd {

// Sockets (sockets.hpp) are made at load and kept for the job's life. An
// inetd Wait=false job's connections are accepted by the glue, one process
// each (inetd.hpp); every other job's listeners feed the engine.
xpc::Result<xpc::Ok, std::string> Supervisor::attach_sockets(Entry& entry) {
  const manifest::JobSpec& spec = entry.job.spec();
  if (spec.sockets.empty()) return xpc::Ok{};
  bool accept_here = spec.inetd_wait == false;
  for (const auto& socket : spec.sockets) {
    if (accept_here && socket.type == manifest::SockType::dgram) {
      return xpc::fail(fmt::format("inetdCompatibility with Wait=false needs stream or seqpacket sockets; "
                                   "Sockets '{}' is dgram", socket.group));
    }
  }
  auto sockets = JobSockets::open(spec.sockets, accept_here);
  if (!sockets) return xpc::fail(sockets.error());
  entry.sockets = std::move(*sockets);
  if (!accept_here) {
    entry.sockets->set_on_readable([this, &entry](int) { feed(entry, job::SocketReadable{}); });
    return xpc::Ok{};
  }
  auto start = [this, &entry](int connection) -> xpc::Result<launcher::Spawned, std::string> {
    manifest::JobSpec one = entry.job.spec();
    one.sockets.clear();  // the connection is its stdin/stdout, not a LISTEN_FDS fd
    one.watchdog_sec = 0;  // nothing watches it: it is not the job's instance
    auto plan = launcher::make_spawn_plan(one, spawn_context(one));
    if (!plan) return xpc::fail(plan.error().message());
    plan->stdio[0] = launcher::DupFd{connection};
    plan->stdio[1] = launcher::DupFd{connection};
    auto spawned = launcher::spawn(*plan);
    if (!spawned) return xpc::fail(spawned.error().message());
    return std::move(*spawned);
  };
  entry.inetd = std::make_unique<InetdChildren>(loop_, spec.label, *entry.sockets, std::move(start));
  return xpc::Ok{};
}

namespace {

// STATUS= goes to the log as one line of printable text.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 512));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

// A datagram belongs to the instance whose pid the kernel stamped on it;
// one from anyone else (an inetd child, a stranger, an instance already
// reaped) is ignored, and its fds closed. All its assignments are fed in
// one go.
void Supervisor::notified(pid_t sender, const NotifyMessage& message, std::vector<UniqueFd>& fds) {
  Entry* entry = nullptr;
  for (auto& [label, candidate] : jobs_) {
    if (candidate->instance && candidate->instance->pid == sender) entry = candidate.get();
  }
  if (entry == nullptr) return;
  job::InstanceId id = entry->instance->id;
  const std::string& label = entry->job.label();
  std::vector<job::Event> events;
  if (message.status) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} STATUS={}", sender, printable(*message.status)));
    events.emplace_back(job::NotifyStatus{id, *message.status});
  }
  if (message.extend_timeout) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} EXTEND_TIMEOUT_USEC={}", sender, message.extend_timeout->count()));
    events.emplace_back(job::NotifyExtendTimeout{id, *message.extend_timeout});
  }
  if (message.ready) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} READY=1", sender));
    events.emplace_back(job::NotifyReady{id});
  }
  if (message.watchdog_usec) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} WATCHDOG_USEC={}", sender, message.watchdog_usec->count()));
    events.emplace_back(job::NotifyWatchdogPeriod{id, *message.watchdog_usec});
  }
  if (message.watchdog) events.emplace_back(job::NotifyWatchdog{id});  // frequent: not logged
  if (message.watchdog_trigger) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} WATCHDOG=trigger", sender));
    events.emplace_back(job::NotifyWatchdogTrigger{id});
  }
  if (message.fdstore || message.fdstore_remove) store_fds(*entry, message, fds);
  if (message.stopping) {
    log_job(LogLevel::info, label, "notify", fmt::format("pid {} STOPPING=1", sender));
    events.emplace_back(job::NotifyStopping{id});
  }
  if (events.empty()) return;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) queue_.emplace_back(entry, std::move(events[i]));
  feed(*entry, std::move(events.back()));
}

// FDSTORE=1 and FDSTOREREMOVE=1 (fd_store.hpp), as systemd reads them:
// the removal first, then the fds sent along go to the store under FDNAME
// (default "stored"). A bad FDNAME is ignored: FDSTORE falls back to the
// default name, FDSTOREREMOVE does nothing.
void Supervisor::store_fds(Entry& entry, const NotifyMessage& message, std::vector<UniqueFd>& fds) {
  const std::string& label = entry.job.label();
  if (message.bad_fdname) {
    log_job(LogLevel::warning, label, "notify",
            "FDNAME= is not a valid name (1 to 255 printable ASCII characters, no ':'), ignored");
  }
  if (message.fdstore_remove && !message.fdname) {
    log_job(LogLevel::warning, label, "notify", "FDSTOREREMOVE=1 without a valid FDNAME=, ignored");
  } else if (message.fdstore_remove && entry.fdstore) {
    entry.fdstore->remove(*message.fdname);
  }
  if (!message.fdstore || fds.empty()) return;
  if (!entry.fdstore) {
    log_job(LogLevel::notice, label, "notify",
            fmt::format("FDSTORE=1 but FileDescriptorStoreMax is 0 (the store is off); {} fds closed", fds.size()));
    return;
  }
  entry.fdstore->add(fds, message.fdname.value_or(std::string(kDefaultFdName)), message.fdpoll);
}

}  // namespace xpcd

namespace xpcd {

// KeepAlive.OtherJobEnabled: every job whose KeepAlive names `label` hears
// that it is now loaded and enabled, or not.
void Supervisor::other_job_changed(const std::string& label, bool enabled) {
  std::vector<Entry*> dependents;
  for (auto& [name, entry] : jobs_) {
    for (const auto& [other, wanted] : entry->job.spec().keep_alive.other_job_enabled) {
      if (other == label && name != label) dependents.push_back(entry.get());
    }
  }
  if (dependents.empty()) return;
  for (std::size_t i = 0; i + 1 < dependents.size(); ++i) {
    queue_.emplace_back(dependents[i], job::OtherJobChanged{label, enabled});
  }
  feed(*dependents.back(), job::OtherJobChanged{label, enabled});
}

// StartCalendarInterval: a CLOCK_REALTIME timer at that local time
// (docs/demand-sources.md); its fire feeds CalendarFired.
void Supervisor::arm_calendar(Entry& entry, const job::CivilTime& at) {
  const std::string& label = entry.job.label();
  auto when = entry.demand ? entry.demand->arm_calendar(at) : std::nullopt;
  if (!when) {
    log_job(LogLevel::error, label, "calendar", fmt::format("cannot arm the timer for {}", job::to_string(at)));
    return;
  }
  log_job(LogLevel::info, label, "calendar",
          fmt::format("next run at {} local time, in {} s", job::to_string(at), *when - std::time(nullptr)));
}

}  // namespace xpcd

namespace xpcd {

// --- control plane (daemon/control): the rest is in supervisor_control.cpp ---
std::optional<Supervisor::JobView> Supervisor::job_view(const std::string& label) const {
  auto it = jobs_.find(label);
  if (it == jobs_.end()) return std::nullopt;
  const Entry& entry = *it->second;
  return JobView{&entry.job, entry.parked.size(), entry.fdstore ? entry.fdstore->size() : 0};
}

}  // namespace xpcd
