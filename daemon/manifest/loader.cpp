// Manifest loading: file reading with the size limit, bundle layout,
// directory expansion and duplicate service names across manifests.
#include "manifest/loader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "manifest/decoders.hpp"
#include "manifest/limits.hpp"
#include "manifest/validate.hpp"
#include "xpc/unique_fd.hpp"

namespace xpcd::manifest {
namespace {

namespace fs = std::filesystem;

Diagnostic file_error(const std::string& file, std::string msg) {
  return {Severity::error, file, {}, "", std::move(msg)};
}

// Reads at most limits::kMaxManifestBytes; larger files are an error without
// reading them (fstat first, then a bounded read in case the file grows).
xpc::Result<std::string, Diagnostic> read_bounded(const std::string& path) {
  auto fd = xpc::UniqueFd::adopt(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return xpc::fail(file_error(path, fmt::format("cannot open: {}", std::strerror(errno))));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return xpc::fail(file_error(path, fmt::format("cannot stat: {}", std::strerror(errno))));
  if (!S_ISREG(st.st_mode)) return xpc::fail(file_error(path, "not a regular file"));
  auto too_large = [&](uint64_t size) {
    return file_error(path, fmt::format("file too large (limit {} bytes, got {})", limits::kMaxManifestBytes, size));
  };
  if (static_cast<uint64_t>(st.st_size) > limits::kMaxManifestBytes) return xpc::fail(too_large(st.st_size));
  std::string bytes(limits::kMaxManifestBytes + 1, '\0');
  size_t have = 0;
  while (have < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + have, bytes.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return xpc::fail(file_error(path, fmt::format("cannot read: {}", std::strerror(errno))));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > limits::kMaxManifestBytes) return xpc::fail(too_large(have));
  bytes.resize(have);
  return bytes;
}

bool is_bundle_dir(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p.ends_with(".xpc");
}

// Info.plist of a bundle and whether it uses the Contents/ layout.
std::optional<std::pair<std::string, bool>> bundle_info_plist(const std::string& dir) {
  std::error_code ec;
  std::string contents = (fs::path(dir) / "Contents" / "Info.plist").string();
  if (fs::is_regular_file(contents, ec)) return std::pair{contents, true};
  std::string flat = (fs::path(dir) / "Info.plist").string();
  if (fs::is_regular_file(flat, ec)) return std::pair{flat, false};
  return std::nullopt;
}

LoadedManifest load_file(const std::string& shown, const SourceInfo& src, const Schemas& schemas) {
  auto bytes = read_bounded(src.file);
  if (!bytes) return LoadedManifest{shown, std::nullopt, {bytes.error()}};
  LoadedManifest m = load_manifest_bytes(bytes.value(), format_for(src.file), src, schemas);
  m.path = shown;
  return m;
}

}  // namespace

Format format_for(std::string_view file_name) {
  return file_name.ends_with(".toml") ? Format::toml : Format::plist;
}

LoadedManifest load_manifest_bytes(std::string_view bytes, Format format, const SourceInfo& src,
                                   const Schemas& schemas) {
  LoadedManifest m{src.file, std::nullopt, {}};
  Decoded d = format == Format::toml ? decode_toml(bytes, src.file) : decode_plist(bytes, src.file);
  m.diagnostics = std::move(d.diagnostics);
  if (!d.ok) return m;
  ManifestKind kind = d.root.kind == Kind::dict ? detect_kind(d.root) : ManifestKind::launchd_job;
  Diagnostics v = validate(d.root, schemas.of(kind), schemas, src.file);
  m.diagnostics.insert(m.diagnostics.end(), v.begin(), v.end());
  if (d.root.kind != Kind::dict) return m;
  Built b = build_job(d.root, kind, src);
  m.diagnostics.insert(m.diagnostics.end(), b.diagnostics.begin(), b.diagnostics.end());
  if (!has_errors(m.diagnostics)) m.job = std::move(b.job);
  return m;
}

LoadedManifest load_manifest(const std::string& path, const Schemas& schemas) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (!is_bundle_dir(path)) return {path, std::nullopt, {file_error(path, "a directory, not a manifest or .xpc bundle")}};
    auto info = bundle_info_plist(path);
    if (!info) {
      return {path, std::nullopt,
              {file_error(path, "XPC bundle without Info.plist (expected Contents/Info.plist or Info.plist)")}};
    }
    return load_file(path, SourceInfo{info->first, path, info->second}, schemas);
  }
  std::string dir = fs::path(path).parent_path().string();
  bool contents = fs::path(path).filename() == "Info.plist" && fs::path(dir).filename() == "Contents";
  std::string bundle = contents ? fs::path(dir).parent_path().string() : dir;
  return load_file(path, SourceInfo{path, bundle, contents}, schemas);
}

std::vector<std::string> expand_paths(std::span<const std::string> paths, Diagnostics& out) {
  std::vector<std::string> result;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec) || is_bundle_dir(p)) {
      result.push_back(p);
      continue;
    }
    std::vector<std::string> entries;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with(".")) continue;
      bool bundle = it->is_directory(ec) && name.ends_with(".xpc");
      if (bundle || it->is_regular_file(ec)) entries.push_back(it->path().string());
    }
    if (ec) out.push_back(file_error(p, fmt::format("cannot list directory: {}", ec.message())));
    std::sort(entries.begin(), entries.end());
    result.insert(result.end(), entries.begin(), entries.end());
  }
  return result;
}

std::vector<LoadedManifest> load_all(std::span<const std::string> paths, const Schemas& schemas,
                                     Diagnostics& path_errors) {
  std::vector<LoadedManifest> out;
  for (const std::string& p : expand_paths(paths, path_errors)) out.push_back(load_manifest(p, schemas));
  check_duplicate_names(out);
  return out;
}

void check_duplicate_names(std::vector<LoadedManifest>& manifests) {
  // Labels and service names are separate namespaces, as in launchd.
  std::map<std::string, std::string> labels, services;  // name -> manifest path
  for (LoadedManifest& m : manifests) {
    if (!m.job) continue;
    Diagnostics clashes;
    auto claim = [&](std::map<std::string, std::string>& owners, const std::string& key,
                     const std::string& name, std::string_view what) {
      auto it = owners.find(name);
      if (it == owners.end()) return;
      clashes.push_back({Severity::error, m.job->source, {}, key,
                         fmt::format("duplicate {} '{}' (already provided by {})", what, printable(name),
                                     it->second)});
    };
    claim(labels, "Label", m.job->label, "label");
    for (const MachService& s : m.job->mach_services) {
      std::string key = m.job->kind == ManifestKind::xpc_service ? "CFBundleIdentifier"
                                                                 : child_path("MachServices", s.name);
      claim(services, key, s.name, "service name");
    }
    if (!clashes.empty()) {
      m.diagnostics.insert(m.diagnostics.end(), clashes.begin(), clashes.end());
      m.job.reset();
      continue;
    }
    labels.emplace(m.job->label, m.path);
    for (const MachService& s : m.job->mach_services) services.emplace(s.name, m.path);
  }
}

Diagnostics check_system_ownership(const std::string& path) {
  Diagnostics out;
  std::string dir = std::filesystem::path(path).parent_path().string();
  for (const std::string& p : {path, dir.empty() ? std::string(".") : dir}) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      out.push_back({Severity::error, path, {}, "", fmt::format("cannot check who owns {}: {}", p, std::strerror(errno))});
      continue;
    }
    if (st.st_uid != 0) {
      out.push_back({Severity::error, path, {}, "",
                     fmt::format("refused: {} is owned by uid {}, not root (system-domain manifests and their "
                                 "directories must be root's)", p, st.st_uid)});
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      out.push_back({Severity::error, path, {}, "",
                     fmt::format("refused: {} is writable by {} (mode {:04o}); system-domain manifests and their "
                                 "directories must be writable by root only", p,
                                 (st.st_mode & S_IWOTH) != 0 ? "others" : "its group", st.st_mode & 07777)});
    }
  }
  return out;
}

}  // namespace xpcd::manifest
