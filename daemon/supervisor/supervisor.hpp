// The supervisor: the daemon's glue between the pure job engine
// (daemon/job), the launcher (daemon/launcher) and the event loop. It owns
// the jobs and the service-name registry, feeds events to each Job and
// carries out the effects it returns: spawns, signals, timers, and the
// connections it holds for lookups until an instance checks in.
// Not here: the bootstrap socket's framing (bootstrap/), manifest parsing.
// Runs on the sd-event loop thread only.
#pragma once

#include "job/job.hpp"
#include "launcher/credential_resolver.hpp"
#include "launcher/plan_builder.hpp"
#include "manifest/job_spec.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/notify_socket.hpp"
#include "supervisor/pressure_watch.hpp"
#include "supervisor/uid_ledger.hpp"

#include <xpc/codec.hpp>
#include <xpc/object.hpp>
#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xpcd {

// Who asked, as the kernel says (SO_PEERCRED, SO_PEERPIDFD), never as the
// client claims.
struct PeerRecord {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string exe;
  xpc::UniqueFd pidfd;
};

struct SupervisorConfig {
  launcher::Domain domain = launcher::Domain::user;
  job::Config engine;
  int default_output_fd = 2;  // the daemon's log for jobs without Standard*Path
  std::string notify_socket;  // NOTIFY_SOCKET path; "": $XPCD_BOOTSTRAP + ".notify" (sockets-and-notify.md)
  limits::UidLimits uid_limits;  // per client uid (supervisor/limits.hpp, config-and-limits.md)
  std::optional<rlim_t> job_nofile_soft;  // launcher::SpawnContext::job_nofile_soft
};

class Supervisor {
 public:
  Supervisor(sd_event* loop, SupervisorConfig config);
  ~Supervisor();

  // Binds the NOTIFY_SOCKET jobs get (config, else $XPCD_BOOTSTRAP.notify):
  // once the bootstrap socket's path is known, before any job is loaded.
  void open_notify_socket();

  // Watches memory pressure (PSI, pressure_watch.hpp): on each trigger every
  // job hears MemoryPressure. A kernel without PSI is logged, not fatal.
  void watch_memory_pressure(const std::string& path, const PressureTrigger& trigger);

  // Bootstraps a job. Fails when its label or a service name is taken.
  xpc::Result<xpc::Ok, std::string> load(manifest::JobSpec spec);

  // A lookup: the client's end of a fresh socketpair at once, or an error
  // object (XPCErrorCode not-found / invalid) saying why not. The service
  // end waits here until an instance has checked in.
  xpc::Result<xpc::UniqueFd, xpc::Object> lookup(const std::string& name, std::uint64_t flags, PeerRecord peer);

  std::size_t job_count() const { return jobs_.size(); }

  // Unloads a job (the engine's Bootout: waiting lookups fail, a live
  // instance gets SIGTERM, ExitTimeOut, SIGKILL). `on_removed` runs once the
  // job is gone and its label and service names are free again, possibly
  // before this returns. False, and no call, when no such job is loaded.
  bool bootout(const std::string& label, std::function<void()> on_removed = {});

  // --- control plane (daemon/control) ---
  // What the command core reads and steers (supervisor_control.cpp). Loop
  // thread only; a JobView borrows the job until the loop runs again.
  struct JobView {
    const job::Job* job = nullptr;
    std::size_t parked = 0;  // connections parked with xpcd since its last idle exit
    std::size_t stored_fds = 0;  // its file descriptor store (FDSTORE=1)
  };
  bool serves_system() const { return config_.domain == launcher::Domain::system; }
  std::vector<std::string> labels() const;  // every loaded job, sorted
  std::optional<JobView> job_view(const std::string& label) const;  // in supervisor.cpp, beside Entry
  // Feeds a control event (Kickstart, Stop, Signal, Enable, Disable) to a
  // loaded job and carries out what the engine decides. Fails with the
  // engine's reason when it refused ("com.example.x: not running"), or
  // "no job ..." when none is loaded under `label`. Enable and Disable also
  // tell the jobs whose KeepAlive.OtherJobEnabled names it.
  xpc::Result<xpc::Ok, std::string> control(const std::string& label, job::Event event);
  // --- end control plane ---

  // --- job change observer (daemon/dbus: the JobChanged signal) ---
  // `observer` hears the label of every job whose state or pid changed
  // while feed() ran, and of every job removed, once per feed(), after the
  // events are processed and removed jobs are gone (job_view tells what is
  // now). Loop thread; one observer; it reads, it must not steer.
  void on_job_changed(std::function<void(const std::string& label)> observer) { job_changed_ = std::move(observer); }
  // --- end job change observer ---

 private:
  struct Instance;
  struct Entry;
  struct Held;
  struct Parked;

  void feed(Entry& entry, job::Event event);
  void apply(Entry& entry, const job::Effect& effect);
  void spawn(Entry& entry, job::InstanceId id);
  launcher::SpawnContext spawn_context(const manifest::JobSpec& spec);
  xpc::Result<xpc::Ok, std::string> attach_sockets(Entry& entry);  // Sockets, inetd: sockets-and-notify.md
  void notified(pid_t sender, const NotifyMessage& message, std::vector<xpc::UniqueFd>& fds);
  void store_fds(Entry& entry, const NotifyMessage& message, std::vector<xpc::UniqueFd>& fds);  // FDSTORE: fd_store.hpp
  void other_job_changed(const std::string& label, bool enabled);  // KeepAlive.OtherJobEnabled
  void arm_calendar(Entry& entry, const job::CivilTime& at);
  void deliver(Entry& entry, const std::vector<job::LookupId>& ids, bool ahead_of_checkin = false);
  void fail(Entry& entry, const std::vector<job::LookupId>& ids, const std::string& reason);
  void predeliver(Entry& entry);
  void flush_checkin(Entry& entry);
  void checkin_closed(Entry& entry);
  xpc::Object connection_event(const Held& held) const;
  void tell(Entry& entry, xpc::Object message);
  void heard(Entry& entry, const xpc::Object& body);
  void park(Entry& entry, const xpc::Object& connections);
  void unpark(Entry& entry);
  static bool drains_on_crash(const manifest::JobSpec& spec);
  static bool asked_to_exit(const Entry& entry);
  static bool closes_channel(const xpc::wire::CodecError& error);
  static int on_parked(sd_event_source* s, int fd, uint32_t revents, void* userdata);
  static std::optional<std::string> refuses_connections(const Entry& entry);
  static int on_checkin_closed_timer(sd_event_source* s, uint64_t usec, void* userdata);
  void arm(Entry& entry, job::TimerKind kind, job::TimePoint at);
  void instance_exited(Entry& entry);
  static bool exited_already(const Instance& instance);
  void checkin_readable(Entry& entry);
  static int on_timer(sd_event_source* s, uint64_t usec, void* userdata);
  static int on_pidfd(sd_event_source* s, int fd, uint32_t revents, void* userdata);
  static int on_checkin(sd_event_source* s, int fd, uint32_t revents, void* userdata);

  sd_event* loop_;
  SupervisorConfig config_;
  launcher::SystemResolver resolver_;
  std::map<std::string, std::unique_ptr<Entry>> jobs_;  // by label
  std::map<std::string, Entry*> services_;              // MachServices name -> job
  std::map<job::LookupId, Held> held_;                  // lookups waiting for an instance
  job::LookupId last_lookup_ = 0;
  std::deque<std::pair<Entry*, job::Event>> queue_;     // events raised while applying effects
  bool feeding_ = false;
  std::unique_ptr<NotifySocket> notify_;  // null when it could not be bound (logged)
  std::unique_ptr<PressureWatch> pressure_;  // null without PSI (logged)
  UidLedger ledger_;  // what each client uid makes this daemon hold (uid_ledger.hpp)
  std::function<void(const std::string&)> job_changed_;  // on_job_changed
};

}  // namespace xpcd
