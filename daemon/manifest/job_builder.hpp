// The JobSpec builder: turns a validated Value tree into a JobSpec, and makes
// the checks that span keys (missing or relative program, KeepAlive with
// EnablePressuredExit, Umask strings). Key dispatch is by tables, one per
// dictionary level; known_key_paths() lists them, and a test checks it
// against the schema both ways.
// Not the validator: values of the wrong type were reported there and are
// skipped here.
#pragma once

#include <string>
#include <vector>

#include "manifest/diagnostic.hpp"
#include "manifest/job_spec.hpp"
#include "manifest/value.hpp"

namespace xpcd::manifest {

// Where a manifest came from; for an XPC service, where its bundle is.
struct SourceInfo {
  std::string file;         // the manifest file (Info.plist for bundles)
  std::string bundle_path;  // XPC service: the .xpc directory or the Info.plist's directory
  bool contents_layout = false;  // Info.plist was in Contents/: executable in Contents/MacOS/
};

struct Built {
  JobSpec job;
  Diagnostics diagnostics;
};

// An Info.plist with an XPCService dictionary is an XPC service, anything
// else a launchd job.
ManifestKind detect_kind(const Value& root);

Built build_job(const Value& root, ManifestKind kind, const SourceInfo& src);

// Every key path the builder recognises (those it reads and those it knows
// and deliberately ignores on Linux), in schema path syntax.
std::vector<std::string> known_key_paths(ManifestKind kind);

}  // namespace xpcd::manifest
