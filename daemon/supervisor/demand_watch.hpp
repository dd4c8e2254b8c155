// A job's demand sources outside the engine (docs/demand-sources.md):
// WatchPaths, QueueDirectories and KeepAlive.PathState through inotify, and
// the StartCalendarInterval wall-clock timer. Each turns what it sees into
// engine events through the Feed it is given; it decides nothing itself.
// Not here: KeepAlive.OtherJobEnabled (the supervisor knows the jobs),
// StartInterval and throttling (monotonic timers of the engine).
// Runs on the sd-event loop thread only.
#pragma once

#include "job/events.hpp"
#include "job/types.hpp"
#include "manifest/job_spec.hpp"
#include "supervisor/event_loop.hpp"

#include <sys/inotify.h>

#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xpcd {

// Local civil time now, at minute resolution.
job::CivilTime local_civil_now();

// The wall-clock second at which local civil time `at` begins. A time that
// exists twice (the hour repeated when DST ends) is the first of them; a
// time that does not exist (skipped when DST starts) is moved forward by
// the length of the gap, as mktime does (02:30 in a 02:00-03:00 gap is
// 03:30). nullopt when it cannot be represented.
std::optional<std::time_t> wall_time_of(const job::CivilTime& at);

// Watches one path for any change of it: created, removed, renamed, written,
// attributes changed, and, for a directory, its entries. The parent is
// watched for the name; the path itself while it exists; when the parent is
// missing too, the nearest existing ancestor until the next component
// appears. `on_change` runs once per loop iteration with changes, after the
// watches are brought in step; it may destroy this object.
class PathWatch {
 public:
  PathWatch(sd_event* loop, std::string path, std::function<void()> on_change);
  PathWatch(const PathWatch&) = delete;
  PathWatch& operator=(const PathWatch&) = delete;
  ~PathWatch();

  const std::string& path() const { return path_; }
  bool exists() const;  // stat(2) succeeds (a dangling symlink does not exist)

 private:
  void watch();
  void on_event(const inotify_event& event, bool self);
  static int on_parent(sd_event_source* s, const inotify_event* event, void* userdata);
  static int on_self(sd_event_source* s, const inotify_event* event, void* userdata);
  static int on_deferred(sd_event_source* s, void* userdata);

  sd_event* loop_;
  std::string path_;
  std::string name_;     // the component the parent (or ancestor) watch waits for
  std::function<void()> on_change_;
  SourcePtr parent_;     // inotify on the parent directory, or the nearest existing ancestor
  SourcePtr self_;       // inotify on the path itself, while it exists
  SourcePtr deferred_;   // defer: rewatch if needed, then report once
  bool rewatch_ = false;           // the watches must be made again (existence changed)
  bool report_ = false;            // a change of the path was seen
  bool parent_is_direct_ = false;  // parent_ is the path's own parent (not an ancestor)
};

// One job's sources. Created at load, destroyed with the job.
class JobDemand {
 public:
  using Feed = std::function<void(job::Event)>;

  // Watches what `spec` names and appends the initial values to `initial`
  // (PathStateChanged for every PathState path, QueueDirectoriesChanged),
  // which the caller feeds before Load (docs/job-engine.md). `feed` may
  // destroy this object.
  JobDemand(sd_event* loop, const manifest::JobSpec& spec, Feed feed, std::vector<job::Event>& initial);
  JobDemand(const JobDemand&) = delete;
  JobDemand& operator=(const JobDemand&) = delete;
  ~JobDemand();

  // ArmCalendar: a CLOCK_REALTIME timer at that local time, replacing any
  // armed one; it reports CalendarFired{local now}. Returns the wall time it
  // was armed for (for the log), nullopt when it could not be armed.
  std::optional<std::time_t> arm_calendar(const job::CivilTime& at);
  void cancel_calendar() { calendar_.reset(); }

 private:
  void path_state_changed(std::size_t index);
  void queue_changed();
  bool queues_nonempty() const;
  static int on_calendar(sd_event_source* s, uint64_t usec, void* userdata);

  sd_event* loop_;
  Feed feed_;
  std::vector<std::unique_ptr<PathWatch>> watch_paths_;
  std::vector<std::unique_ptr<PathWatch>> queues_;
  std::vector<std::unique_ptr<PathWatch>> path_states_;
  std::vector<std::string> path_state_names_;  // as the manifest spells them (the engine's keys)
  std::vector<bool> path_exists_;  // last reported, per path_states_
  bool queue_nonempty_ = false;    // last reported
  SourcePtr calendar_;
};

}  // namespace xpcd
