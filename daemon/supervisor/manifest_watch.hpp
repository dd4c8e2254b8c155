// The manifest directories, loaded at start and then watched (inotify
// through sd-event): a new manifest is loaded, a changed one is booted out
// and loaded again, a removed one is booted out. Decisions and their
// reasons: docs/manifest-watch.md.
// Not here: parsing (manifest/loader.hpp), supervision (supervisor.hpp).
// Runs on the sd-event loop thread only.
#pragma once

#include "manifest/job_spec.hpp"
#include "manifest/loader.hpp"
#include "manifest/schema.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/supervisor.hpp"

#include <sys/inotify.h>

#include <xpc/result.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xpcd {

class ManifestWatch {
 public:
  // `loop` and `supervisor` must outlive this object.
  ManifestWatch(sd_event* loop, Supervisor& supervisor, std::vector<std::string> dirs);
  ManifestWatch(const ManifestWatch&) = delete;
  ManifestWatch& operator=(const ManifestWatch&) = delete;
  ~ManifestWatch();

  // Loads every manifest found now (bad ones are logged and skipped, a
  // duplicate label or service name goes to the first in load order), then
  // starts watching. A directory that does not exist yet is waited for: its
  // nearest existing ancestor is watched until it appears.
  void start();

  // --- control plane (daemon/control) ---
  // Applied to each JobSpec just before it is loaded (never to the copy
  // kept to compare with the file): the overrides of xpcctl enable/disable.
  void set_load_filter(std::function<void(manifest::JobSpec&)> filter) { filter_ = std::move(filter); }
  // xpcctl bootstrap: loads the manifest at the absolute `path` (a file or
  // an .xpc bundle) and tracks it as one found in a directory. Returns the
  // job's label, or why not (every error diagnostic, a taken label or name,
  // already loaded).
  xpc::Result<std::string, std::string> bootstrap(const std::string& path);
  // The manifest path tracked for a loaded job, if any.
  std::optional<std::string> path_of(const std::string& label) const;
  std::optional<std::string> label_of(const std::string& path) const;
  // xpcctl bootout: unloads the job. Its manifest is held out: not loaded
  // again until its file changes, `bootstrap` names it or `reload` runs.
  // `done` runs once the job is gone (maybe before this returns). False,
  // and no call, when no such job is loaded.
  bool bootout_label(const std::string& label, std::function<void()> done);
  // xpcctl reload: forgets what was held out and reconciles every watched
  // directory and every tracked manifest with the files.
  void reload();
  // --- end control plane ---

 private:
  manifest::LoadedManifest read_manifest(const std::string& path) const;
  struct Dir;
  struct Loaded {
    std::string label;
    manifest::JobSpec spec;
  };

  void watch(Dir& dir);
  void rescan(Dir& dir);
  void reconcile(const std::string& path);
  void load(const std::string& path, manifest::JobSpec spec);
  void bootout(const std::string& path);
  void removed(const std::string& path, const std::string& label);
  void on_event(Dir& dir, const inotify_event& event);
  static int on_inotify(sd_event_source* s, const inotify_event* event, void* userdata);
  static int on_rewatch(sd_event_source* s, void* userdata);

  sd_event* loop_;
  Supervisor& supervisor_;
  std::optional<manifest::Schemas> schemas_;
  std::vector<std::unique_ptr<Dir>> dirs_;
  std::map<std::string, Loaded> loaded_;  // manifest path (file or bundle) -> its job
  std::set<std::string> booting_out_;     // paths whose job is going; its removal reconciles again
  std::set<std::string> blocked_;         // valid manifests refused for a taken label or name
  std::set<std::string> held_out_;        // booted out by xpcctl: not reloaded until the file changes
  std::function<void(manifest::JobSpec&)> filter_;
};

}  // namespace xpcd
