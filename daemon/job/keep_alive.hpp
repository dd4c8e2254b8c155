// KeepAlive judged: which of a job's KeepAlive conditions hold. Pure; the
// glue reports PathState and OtherJobEnabled changes as events, the engine
// keeps their current truth here and asks at every decision point.
//   always          -> keep alive
//   SuccessfulExit  -> judged on the last exit: true restarts after status 0,
//                      false after a non-zero status or a death by signal
//   Crashed         -> judged on the last exit: true restarts after a death by
//                      any signal (an OOM kill is SIGKILL and is a crash to a
//                      user), false after an exit with a status
//   PathState       -> path exists == wanted
//   OtherJobEnabled -> that job loaded and enabled == wanted
// Conditions are ORed, as in launchd. A spawn failure is judged as an
// unsuccessful exit that was not a crash (like a shell's status 127).
#pragma once

#include <map>
#include <string>

#include "job/types.hpp"
#include "manifest/job_spec.hpp"

namespace xpcd::job {

class KeepAliveState {
 public:
  void set_path(const std::string& path, bool exists) { paths_[path] = exists; }
  void set_job(const std::string& label, bool enabled) { jobs_[label] = enabled; }
  // Whether a condition that does not depend on an exit holds now
  // (always, PathState, OtherJobEnabled). Unreported paths and jobs count as
  // absent / not enabled.
  bool standing(const manifest::KeepAlive& k) const;

 private:
  std::map<std::string, bool> paths_;
  std::map<std::string, bool> jobs_;
};

// Whether the exit-based conditions (SuccessfulExit, Crashed) ask for a restart.
bool restart_after_exit(const manifest::KeepAlive& k, const ExitStatus& status);

}  // namespace xpcd::job
