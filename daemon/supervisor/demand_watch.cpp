// Demand sources: inotify watches and the calendar timer (demand_watch.hpp).
#include "supervisor/demand_watch.hpp"

#include "supervisor/log.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <utility>

namespace xpcd {

namespace fs = std::filesystem;

namespace {

// The parent: our name coming, going or renamed; the parent itself going.
constexpr std::uint32_t kParentMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// The path itself: written, attributes, its entries when a directory, gone.
constexpr std::uint32_t kSelfMask = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                    IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
// A missing parent: its nearest existing ancestor, for the next component.
constexpr std::uint32_t kAncestorMask = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT;

bool same_minute(const std::tm& tm, const job::CivilTime& at) {
  return tm.tm_year + 1900 == at.year && tm.tm_mon + 1 == at.month && tm.tm_mday == at.day && tm.tm_hour == at.hour &&
         tm.tm_min == at.minute;
}

}  // namespace

job::CivilTime local_civil_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min};
}

std::optional<std::time_t> wall_time_of(const job::CivilTime& at) {
  std::tm fields{};
  fields.tm_year = at.year - 1900;
  fields.tm_mon = at.month - 1;
  fields.tm_mday = at.day;
  fields.tm_hour = at.hour;
  fields.tm_min = at.minute;
  // Both readings of the offset: a repeated time has two that round-trip,
  // and we take the earlier; a normal time has one.
  std::optional<std::time_t> best;
  for (int isdst : {0, 1}) {
    std::tm tm = fields;
    tm.tm_isdst = isdst;
    std::time_t t = std::mktime(&tm);
    std::tm back{};
    if (t == static_cast<std::time_t>(-1) || ::localtime_r(&t, &back) == nullptr || !same_minute(back, at)) continue;
    if (!best || t < *best) best = t;
  }
  if (best) return best;
  // None round-trips: the time falls in a gap (DST starts). mktime moves it
  // forward by the gap's length.
  std::tm tm = fields;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return t;
}

// --- PathWatch ---

PathWatch::PathWatch(sd_event* loop, std::string path, std::function<void()> on_change)
    : loop_(loop), path_(fs::absolute(path).lexically_normal().string()), on_change_(std::move(on_change)) {
  sd_event_source* source = nullptr;
  if (sd_event_add_defer(loop_, &source, on_deferred, this) >= 0) {
    deferred_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_OFF);
  }
  watch();
}

PathWatch::~PathWatch() = default;

bool PathWatch::exists() const {
  struct stat st{};
  return ::stat(path_.c_str(), &st) == 0;
}

void PathWatch::watch() {
  parent_.reset();
  self_.reset();
  rewatch_ = false;
  std::error_code ec;
  fs::path missing(path_);
  fs::path ancestor = missing.parent_path();
  std::uint32_t mask = kParentMask;
  // Up to the nearest existing directory; the path's own parent when it is there.
  while (ancestor != missing && !fs::is_directory(ancestor, ec)) {
    missing = ancestor;
    ancestor = missing.parent_path();
    mask = kAncestorMask;
  }
  sd_event_source* source = nullptr;
  if (ancestor != missing) {
    int r = sd_event_add_inotify(loop_, &source, ancestor.c_str(), mask, on_parent, this);
    if (r < 0) {
      log_line(LogLevel::warning, fmt::format("{}: cannot watch {}: {}", path_, ancestor.string(), std::strerror(-r)));
    } else {
      parent_.reset(source);
    }
    name_ = missing.filename().string();
  }
  // Checked after the parent watch is in place: a path created in between
  // is seen here or reported by the watch, never missed.
  parent_is_direct_ = parent_ && mask == kParentMask;
  if (mask == kAncestorMask) {
    if (fs::is_directory(missing, ec)) {
      rewatch_ = true;
      sd_event_source_set_enabled(deferred_.get(), SD_EVENT_ONESHOT);
    }
    return;
  }
  if (exists() && sd_event_add_inotify(loop_, &source, path_.c_str(), kSelfMask, on_self, this) >= 0) {
    self_.reset(source);
  }
}

void PathWatch::on_event(const inotify_event& event, bool self) {
  bool changed = false;
  if ((event.mask & IN_Q_OVERFLOW) != 0 || (event.mask & kGone) != 0) {
    rewatch_ = true;
    changed = true;  // cannot tell: assume it changed
  } else if (self) {
    changed = true;
  } else if (event.len > 0 && name_ == event.name) {
    rewatch_ = true;
    changed = true;
  }
  if (!changed) return;
  report_ = report_ || self || parent_is_direct_;
  sd_event_source_set_enabled(deferred_.get(), SD_EVENT_ONESHOT);
}

int PathWatch::on_parent(sd_event_source*, const inotify_event* event, void* userdata) {
  static_cast<PathWatch*>(userdata)->on_event(*event, false);
  return 0;
}

int PathWatch::on_self(sd_event_source*, const inotify_event* event, void* userdata) {
  static_cast<PathWatch*>(userdata)->on_event(*event, true);
  return 0;
}

// Coalesces the events of one loop iteration (a touch is IN_CREATE,
// IN_ATTRIB and IN_CLOSE_WRITE) into one report.
int PathWatch::on_deferred(sd_event_source*, void* userdata) {
  auto* self = static_cast<PathWatch*>(userdata);
  bool report = std::exchange(self->report_, false);
  if (self->rewatch_) {
    bool was_direct = self->parent_is_direct_;
    self->watch();
    // A missing parent appeared and with it, perhaps, the path.
    if (!was_direct && self->parent_is_direct_ && self->exists()) report = true;
  }
  if (report) self->on_change_();  // may destroy *self: last
  return 0;
}

// --- JobDemand ---

JobDemand::JobDemand(sd_event* loop, const manifest::JobSpec& spec, Feed feed, std::vector<job::Event>& initial)
    : loop_(loop), feed_(std::move(feed)) {
  for (const auto& path : spec.watch_paths) {
    watch_paths_.push_back(std::make_unique<PathWatch>(loop_, path, [this] { feed_(job::WatchPathChanged{}); }));
  }
  for (const auto& dir : spec.queue_directories) {
    queues_.push_back(std::make_unique<PathWatch>(loop_, dir, [this] { queue_changed(); }));
  }
  if (!queues_.empty()) {
    queue_nonempty_ = queues_nonempty();
    initial.emplace_back(job::QueueDirectoriesChanged{queue_nonempty_});
  }
  for (const auto& [path, wanted] : spec.keep_alive.path_state) {
    std::size_t index = path_states_.size();
    path_states_.push_back(std::make_unique<PathWatch>(loop_, path, [this, index] { path_state_changed(index); }));
    path_exists_.push_back(path_states_.back()->exists());
    path_state_names_.push_back(path);  // the engine knows the path by the manifest's spelling
    initial.emplace_back(job::PathStateChanged{path, path_exists_.back()});
  }
}

JobDemand::~JobDemand() = default;

void JobDemand::path_state_changed(std::size_t index) {
  bool exists = path_states_[index]->exists();
  if (exists == path_exists_[index]) return;
  path_exists_[index] = exists;
  feed_(job::PathStateChanged{path_state_names_[index], exists});
}

bool JobDemand::queues_nonempty() const {
  for (const auto& queue : queues_) {
    std::error_code ec;
    fs::directory_iterator it(queue->path(), ec);
    if (!ec && it != fs::directory_iterator()) return true;
  }
  return false;
}

void JobDemand::queue_changed() {
  bool nonempty = queues_nonempty();
  if (nonempty == queue_nonempty_) return;
  queue_nonempty_ = nonempty;
  feed_(job::QueueDirectoriesChanged{nonempty});
}

std::optional<std::time_t> JobDemand::arm_calendar(const job::CivilTime& at) {
  std::optional<std::time_t> when = wall_time_of(at);
  if (!when || *when < 0) return std::nullopt;
  std::uint64_t usec = static_cast<std::uint64_t>(*when) * 1'000'000;
  if (calendar_) {
    sd_event_source_set_time(calendar_.get(), usec);
    sd_event_source_set_enabled(calendar_.get(), SD_EVENT_ONESHOT);
    return when;
  }
  sd_event_source* source = nullptr;
  // Accuracy 0: sd-event's default slack (250 ms), never before the minute.
  if (sd_event_add_time(loop_, &source, CLOCK_REALTIME, usec, 0, on_calendar, this) < 0) return std::nullopt;
  calendar_.reset(source);
  return when;
}

int JobDemand::on_calendar(sd_event_source*, uint64_t, void* userdata) {
  auto* self = static_cast<JobDemand*>(userdata);
  self->feed_(job::CalendarFired{local_civil_now()});  // may destroy *self
  return 0;
}

}  // namespace xpcd
