// The manifest loader: reads a manifest file or XPC bundle (the only I/O in
// xpcd_manifest: open, fstat and read of the path it is given, and listing a
// directory it is given), decodes, validates and builds its JobSpec. One bad
// manifest yields diagnostics and no JobSpec; it never stops the others.
// Not the daemon's directory watcher: no inotify, no ownership policy.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/diagnostic.hpp"
#include "manifest/job_builder.hpp"
#include "manifest/job_spec.hpp"
#include "manifest/schema.hpp"

namespace xpcd::manifest {

struct LoadedManifest {
  std::string path;            // as given (file or bundle directory)
  std::optional<JobSpec> job;  // set when there is no error
  Diagnostics diagnostics;     // errors and warnings, in the order found
};

enum class Format { plist, toml };

// Format by name: ".toml" is TOML, anything else a property list (XML or
// binary, told apart by the bplist magic).
Format format_for(std::string_view file_name);

// Decodes, validates and builds one manifest held in memory.
LoadedManifest load_manifest_bytes(std::string_view bytes, Format format, const SourceInfo& src,
                                   const Schemas& schemas);

// Loads a manifest file, or an XPC service bundle directory (Name.xpc with
// Contents/Info.plist or Info.plist). Files over limits::kMaxManifestBytes
// are refused before they are read.
LoadedManifest load_manifest(const std::string& path, const Schemas& schemas);

// The system domain's rule (DESIGN 3, 7): a manifest (file or bundle) and
// the directory holding it must be owned by root and not writable by group
// or others, or anyone who can write them chooses what root runs. One
// error per offending path; none when it is safe.
Diagnostics check_system_ownership(const std::string& path);

// The manifests a lint or the daemon should load for the given paths: a file
// is itself; a directory ending in ".xpc" is a bundle; any other directory
// contributes its non-hidden regular files and *.xpc bundles, sorted by name
// (not recursive). Unreadable directories give a diagnostic.
std::vector<std::string> expand_paths(std::span<const std::string> paths, Diagnostics& out);

// Loads every manifest of expand_paths(paths), then reports service names
// (labels and MachServices names) that more than one manifest provides: the
// first one in load order keeps the name, later ones get an error and lose
// their JobSpec.
std::vector<LoadedManifest> load_all(std::span<const std::string> paths, const Schemas& schemas,
                                     Diagnostics& path_errors);
void check_duplicate_names(std::vector<LoadedManifest>& manifests);

}  // namespace xpcd::manifest
