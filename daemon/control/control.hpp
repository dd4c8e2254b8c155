// The command core of the control plane (DESIGN 8, docs/control-plane.md):
// one function per verb, requests and answers as xpc::Object dictionaries,
// no transport. The bootstrap socket (bootstrap/bootstrap_server.cpp) is one
// caller; a D-Bus API is to be another. It resolves targets, applies the
// permission rules (policy.hpp), keeps the enable/disable overrides in the
// state directory, and steers jobs through the Supervisor and ManifestWatch.
// Runs on the sd-event loop thread only.
#pragma once

#include "control/overrides.hpp"
#include "control/policy.hpp"
#include "control/target.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/manifest_watch.hpp"
#include "supervisor/supervisor.hpp"

#include <xpc/object.hpp>

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <list>
#include <string>

namespace xpcd::control {

// Who asks, as the transport's kernel says (SO_PEERCRED), never as the
// request claims.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// Receives the answer: {ok, exit, output, result, error, rule}
// (protocol.hpp). Called exactly once, on the loop thread, possibly before
// run() returns; not called if the Control is destroyed first.
using Answer = std::function<void(xpc::Object)>;

// How long a verb that waits (kickstart -k -p) waits for the new instance.
inline constexpr std::chrono::seconds kMaxWait{120};

class Control {
 public:
  // `state_dir` holds the overrides file; created when first written.
  // All references must outlive this object.
  Control(sd_event* loop, Supervisor& supervisor, ManifestWatch& manifests, std::string state_dir);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Reads STATE_DIR/overrides (warnings logged) and makes every later load
  // apply them. Call before the manifests are loaded.
  void start();

  Domain served() const { return served_; }

  // One request {verb: S, ...}; the answer goes to `answer`.
  void run(const Caller& caller, const xpc::Object& request, Answer answer);

  // The verbs. Requests and answers as in protocol.hpp.
  xpc::Object list(const Caller& caller, const xpc::Object& request);
  xpc::Object print(const Caller& caller, const xpc::Object& request);
  xpc::Object blame(const Caller& caller, const xpc::Object& request);
  xpc::Object kill(const Caller& caller, const xpc::Object& request);
  xpc::Object enable(const Caller& caller, const xpc::Object& request, bool enabled);
  xpc::Object bootstrap(const Caller& caller, const xpc::Object& request);
  xpc::Object reload(const Caller& caller, const xpc::Object& request);
  void kickstart(const Caller& caller, const xpc::Object& request, Answer answer);
  void bootout(const Caller& caller, const xpc::Object& request, Answer answer);

 private:
  struct Wait;
  struct Resolved {
    Domain domain;
    std::string label;  // empty: the domain itself
  };

  // The target (or domain) of a request, resolved for the caller and
  // checked against the domain served here and the permission rules; an
  // error answer otherwise.
  xpc::Result<Resolved, xpc::Object> resolve(std::string_view verb, const Caller& caller, const xpc::Object& request,
                                             const char* key, Access access, bool label_required);
  xpc::Object job_result(const std::string& label) const;
  xpc::Result<xpc::Ok, std::string> save_override(const std::string& label, bool disabled);
  void wait_for_instance(const std::string& label, std::uint64_t after, Answer answer);
  void check_waits();
  static int on_post(sd_event_source* s, void* userdata);
  static int on_wait_timer(sd_event_source* s, uint64_t usec, void* userdata);

  sd_event* loop_;
  Supervisor& supervisor_;
  ManifestWatch& manifests_;
  std::string state_dir_;
  Domain served_;
  Overrides overrides_;
  std::list<Wait> waits_;
  SourcePtr post_;  // on while waits_ is not empty: checks them after each event
};

// Answer builders, for the verbs and the transports.
xpc::Object answer_ok(xpc::Object result, std::string output);
xpc::Object answer_error(std::string error, int exit = 1, std::string rule = {});

// The text `xpcctl print` shows for a job's result (job_result), and the
// table `xpcctl list` shows: pure, for the tests.
std::string render_job(const xpc::Object& job);
std::string render_list(const xpc::Object& list);

}  // namespace xpcd::control
