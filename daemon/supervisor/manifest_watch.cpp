// The manifest directories: loaded at start, then kept in step with the
// files through inotify. Every change comes down to reconcile(path): make
// the loaded job of that path match what the file now says.
#include "supervisor/manifest_watch.hpp"

#include "manifest/loader.hpp"
#include "supervisor/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace xpcd {

namespace fs = std::filesystem;

namespace {

// Not IN_MODIFY: editors write in steps (truncate + write, or a temp file
// renamed over the old one); a file is read once it is closed or renamed in.
// IN_CREATE only matters for what is never written: symlinks and bundles.
constexpr std::uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// A missing directory: its nearest existing ancestor, for the next component.
constexpr std::uint32_t kAncestorMask = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;

// The loader's rule (manifest::expand_paths): non-hidden regular files and
// *.xpc bundle directories, symlinks followed.
bool is_candidate(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  if (name.empty() || name.starts_with(".")) return false;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec) return false;
  return fs::is_regular_file(status) || (fs::is_directory(status) && name.ends_with(".xpc"));
}

std::string prefix_of(const std::string& dir) { return (fs::path(dir) / "").string(); }

void log_diagnostics(const manifest::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics) log_line(LogLevel::warning, manifest::format(d));
}

}  // namespace

struct ManifestWatch::Dir {
  ManifestWatch* owner = nullptr;
  std::string path;     // as configured
  std::string waiting;  // when missing: the next component to appear in the watched ancestor
  bool present = false;
  SourcePtr source;     // inotify on the directory, or on its nearest ancestor
  SourcePtr rewatch;    // defer source: watch() again, outside the inotify dispatch
};

ManifestWatch::ManifestWatch(sd_event* loop, Supervisor& supervisor, std::vector<std::string> dirs)
    : loop_(loop), supervisor_(supervisor) {
  auto schemas = manifest::load_builtin_schemas();
  if (schemas) {
    schemas_ = std::move(*schemas);
  } else {
    log_line(LogLevel::error, "cannot load the manifest schemas, no manifest is loaded: " + schemas.error());
  }
  for (auto& path : dirs) {
    auto dir = std::make_unique<Dir>();
    dir->owner = this;
    dir->path = std::move(path);
    sd_event_source* source = nullptr;
    if (sd_event_add_defer(loop_, &source, on_rewatch, dir.get()) >= 0) {
      dir->rewatch.reset(source);
      sd_event_source_set_enabled(source, SD_EVENT_OFF);
    }
    dirs_.push_back(std::move(dir));
  }
}

ManifestWatch::~ManifestWatch() = default;

// A manifest as the domain accepts it: in the system domain one that
// someone other than root could have written is refused (DESIGN 3).
manifest::LoadedManifest ManifestWatch::read_manifest(const std::string& path) const {
  manifest::LoadedManifest m = manifest::load_manifest(path, *schemas_);
  if (!supervisor_.serves_system()) return m;
  manifest::Diagnostics unsafe = manifest::check_system_ownership(path);
  if (unsafe.empty()) return m;
  m.job.reset();
  m.diagnostics.insert(m.diagnostics.end(), unsafe.begin(), unsafe.end());
  return m;
}

void ManifestWatch::start() {
  if (!schemas_) return;
  // Watch first, then read: a file written in between is seen twice
  // (loaded, then "unchanged"), never missed.
  for (auto& dir : dirs_) watch(*dir);
  std::vector<std::string> existing;
  for (const auto& dir : dirs_) {
    if (dir->present) existing.push_back(dir->path);
  }
  manifest::Diagnostics path_errors;
  auto paths = manifest::expand_paths(existing, path_errors);
  log_diagnostics(path_errors);
  std::vector<manifest::LoadedManifest> all;
  for (const auto& path : paths) all.push_back(read_manifest(path));
  std::vector<bool> valid;
  for (const auto& m : all) valid.push_back(m.job.has_value());
  manifest::check_duplicate_names(all);
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto& m = all[i];
    log_diagnostics(m.diagnostics);
    if (m.job) {
      load(m.path, std::move(*m.job));
      continue;
    }
    log_line(LogLevel::warning, fmt::format("{}: not loaded", m.path));
    if (valid[i]) blocked_.insert(m.path);  // lost a name: retried when a job goes
  }
}

// Watches the directory itself, or, while it does not exist, its nearest
// existing ancestor until the next component of the path appears there.
void ManifestWatch::watch(Dir& dir) {
  dir.source.reset();
  dir.present = false;
  dir.waiting.clear();
  std::error_code ec;
  sd_event_source* source = nullptr;
  if (fs::is_directory(dir.path, ec)) {
    int r = sd_event_add_inotify(loop_, &source, dir.path.c_str(), kDirMask, on_inotify, &dir);
    if (r < 0) {
      log_line(LogLevel::warning, fmt::format("{}: cannot watch: {}; changes are seen after a restart", dir.path,
                                              std::strerror(-r)));
    }
    dir.source.reset(source);
    dir.present = true;
    return;
  }
  for (;;) {
    fs::path missing = fs::absolute(dir.path, ec);
    fs::path ancestor = missing.parent_path();
    while (ancestor != missing && !fs::is_directory(ancestor, ec)) {
      missing = ancestor;
      ancestor = missing.parent_path();
    }
    if (ancestor == missing) return;  // nothing exists to watch
    dir.source.reset();
    if (sd_event_add_inotify(loop_, &source, ancestor.c_str(), kAncestorMask, on_inotify, &dir) < 0) return;
    dir.source.reset(source);
    dir.waiting = missing.filename().string();
    // It may have appeared before the watch was in place: look again. A
    // non-directory in the way is waited out (it must be replaced).
    if (!fs::is_directory(missing, ec)) break;
    if (fs::is_directory(dir.path, ec)) return watch(dir);
  }
  log_line(LogLevel::info, fmt::format("{}: does not exist; loaded when it is created", dir.path));
}

// After a directory appeared, disappeared or lost events: every manifest in
// it now, and every job that came from it, is brought in step.
void ManifestWatch::rescan(Dir& dir) {
  std::set<std::string> paths;
  if (dir.present) {
    manifest::Diagnostics errors;
    std::vector<std::string> one{dir.path};
    for (auto& path : manifest::expand_paths(one, errors)) paths.insert(std::move(path));
    log_diagnostics(errors);
  }
  std::string prefix = prefix_of(dir.path);
  for (const auto& [path, loaded] : loaded_) {
    if (path.starts_with(prefix)) paths.insert(path);
  }
  for (const auto& path : blocked_) {
    if (path.starts_with(prefix)) paths.insert(path);
  }
  for (const auto& path : paths) reconcile(path);
}

void ManifestWatch::reconcile(const std::string& path) {
  if (!schemas_ || booting_out_.contains(path)) return;  // the bootout's end reconciles again
  if (held_out_.contains(path)) return;                  // xpcctl bootout: until the file changes
  auto known = loaded_.find(path);
  if (!is_candidate(path)) {
    blocked_.erase(path);
    if (known != loaded_.end()) bootout(path);
    return;
  }
  auto m = read_manifest(path);
  log_diagnostics(m.diagnostics);
  if (!m.job) {
    blocked_.erase(path);
    // A broken edit does not take a working job away; fixing the file does
    // the reload, removing it the bootout.
    if (known != loaded_.end()) {
      log_line(LogLevel::warning, fmt::format("{}: not reloaded; '{}' keeps its loaded definition", path,
                                              known->second.label));
    } else {
      log_line(LogLevel::warning, fmt::format("{}: not loaded", path));
    }
    return;
  }
  if (known == loaded_.end()) return load(path, std::move(*m.job));
  if (known->second.spec == *m.job) {
    log_line(LogLevel::info, fmt::format("{}: unchanged", path));
    return;
  }
  log_line(LogLevel::info,
           fmt::format("{}: changed; booting out '{}' to load the new definition", path, known->second.label));
  bootout(path);
}

void ManifestWatch::load(const std::string& path, manifest::JobSpec spec) {
  Loaded loaded{spec.label, spec};
  if (filter_) filter_(spec);
  if (auto r = supervisor_.load(std::move(spec)); !r) {
    log_line(LogLevel::warning, fmt::format("{}: not loaded: {}", path, r.error()));
    blocked_.insert(path);
    return;
  }
  blocked_.erase(path);
  log_line(LogLevel::info, fmt::format("{}: loaded '{}'", path, loaded.label));
  loaded_.insert_or_assign(path, std::move(loaded));
}

void ManifestWatch::bootout(const std::string& path) {
  std::string label = loaded_.at(path).label;
  booting_out_.insert(path);
  // The job may be removed at once (no instance): then removed() runs
  // inside this call.
  if (!supervisor_.bootout(label, [this, path, label] { removed(path, label); })) removed(path, label);
}

// The job is gone and its names are free: load what the file says now
// (a changed file), and retry manifests that were refused for a name.
void ManifestWatch::removed(const std::string& path, const std::string& label) {
  booting_out_.erase(path);
  loaded_.erase(path);
  log_line(LogLevel::info, fmt::format("{}: booted out '{}'", path, label));
  reconcile(path);
  for (const auto& other : std::set<std::string>(blocked_)) {
    if (other != path) reconcile(other);
  }
}

void ManifestWatch::on_event(Dir& dir, const inotify_event& event) {
  auto again = [&] { sd_event_source_set_enabled(dir.rewatch.get(), SD_EVENT_ONESHOT); };
  if ((event.mask & IN_Q_OVERFLOW) != 0) {
    log_line(LogLevel::warning, fmt::format("{}: inotify queue overflow; rescanning", dir.path));
    return again();
  }
  if ((event.mask & kGone) != 0) return again();
  if (event.len == 0) return;
  std::string name = event.name;
  if (!dir.present) {
    if (name == dir.waiting) again();
    return;
  }
  std::string path = prefix_of(dir.path) + name;
  held_out_.erase(path);  // a changed file is a new definition: a bootout holds no longer
  if ((event.mask & IN_CREATE) != 0 && (event.mask & IN_ISDIR) == 0) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(path, ec))) return;  // its IN_CLOSE_WRITE follows
  }
  reconcile(path);
}

int ManifestWatch::on_inotify(sd_event_source*, const inotify_event* event, void* userdata) {
  auto* dir = static_cast<Dir*>(userdata);
  dir->owner->on_event(*dir, *event);
  return 0;
}

int ManifestWatch::on_rewatch(sd_event_source*, void* userdata) {
  auto* dir = static_cast<Dir*>(userdata);
  dir->owner->watch(*dir);
  dir->owner->rescan(*dir);
  return 0;
}

// --- control plane (daemon/control) ---

xpc::Result<std::string, std::string> ManifestWatch::bootstrap(const std::string& path) {
  if (!schemas_) return xpc::fail(std::string("the manifest schemas are not loaded"));
  if (auto known = loaded_.find(path); known != loaded_.end()) {
    return xpc::fail(fmt::format("{}: already loaded as '{}'", path, known->second.label));
  }
  if (booting_out_.contains(path)) return xpc::fail(fmt::format("{}: its job is being booted out", path));
  auto m = read_manifest(path);
  if (!m.job) {
    std::string errors;
    for (const auto& d : m.diagnostics) {
      if (d.severity == manifest::Severity::error) errors += (errors.empty() ? "" : "; ") + manifest::format(d);
    }
    return xpc::fail(errors.empty() ? fmt::format("{}: not a manifest", path) : errors);
  }
  log_diagnostics(m.diagnostics);
  Loaded loaded{m.job->label, *m.job};
  if (filter_) filter_(*m.job);
  if (auto r = supervisor_.load(std::move(*m.job)); !r) return xpc::fail(fmt::format("{}: {}", path, r.error()));
  held_out_.erase(path);
  blocked_.erase(path);
  log_line(LogLevel::info, fmt::format("{}: loaded '{}' (xpcctl bootstrap)", path, loaded.label));
  std::string label = loaded.label;
  loaded_.insert_or_assign(path, std::move(loaded));
  return label;
}

std::optional<std::string> ManifestWatch::path_of(const std::string& label) const {
  for (const auto& [path, loaded] : loaded_) {
    if (loaded.label == label) return path;
  }
  return std::nullopt;
}

std::optional<std::string> ManifestWatch::label_of(const std::string& path) const {
  auto it = loaded_.find(path);
  if (it == loaded_.end()) return std::nullopt;
  return it->second.label;
}

bool ManifestWatch::bootout_label(const std::string& label, std::function<void()> done) {
  auto path = path_of(label);
  if (!path) return supervisor_.bootout(label, std::move(done));
  held_out_.insert(*path);
  log_line(LogLevel::info, fmt::format("{}: booting out '{}' (xpcctl bootout); held out until the file changes",
                                       *path, label));
  if (booting_out_.contains(*path)) return supervisor_.bootout(label, std::move(done));  // already going
  booting_out_.insert(*path);
  // Removed at once when it has no instance: then both run inside this call.
  auto finish = [this, path = *path, label, done = std::move(done)] {
    removed(path, label);
    if (done) done();
  };
  if (!supervisor_.bootout(label, finish)) finish();
  return true;
}

void ManifestWatch::reload() {
  held_out_.clear();
  // Manifests loaded by xpcctl bootstrap from outside the directories.
  std::vector<std::string> outside;
  for (const auto& [path, loaded] : loaded_) {
    bool inside = std::any_of(dirs_.begin(), dirs_.end(),
                              [&path](const auto& dir) { return path.starts_with(prefix_of(dir->path)); });
    if (!inside) outside.push_back(path);
  }
  for (auto& dir : dirs_) {
    watch(*dir);
    rescan(*dir);
  }
  for (const auto& path : outside) reconcile(path);
}

}  // namespace xpcd
