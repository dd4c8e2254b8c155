// JobSpec builder for XPC service bundles (Info.plist with an XPCService
// dictionary), and the entry points that pick the builder by manifest kind.
#include <fmt/format.h>

#include <span>

#include "manifest/job_builder.hpp"

namespace xpcd::manifest {

namespace detail {
void build_launchd_keys(const Value& root, JobSpec& j, Diagnostics& out, const std::string& file,
                        const std::string& path);
void check_launchd_job(const Value& root, JobSpec& j, Diagnostics& out, const std::string& file);
std::vector<std::string> launchd_key_paths();
}  // namespace detail

namespace {

struct XpcCtx {
  JobSpec& job;
  Diagnostics& out;
  const std::string& file;
};

using XpcApply = void (*)(const Value& v, XpcCtx& ctx, const std::string& path);
struct XpcField {
  std::string_view key;
  XpcApply apply;  // nullptr: known, ignored on Linux
};

void service_type(const Value& v, XpcCtx& c, const std::string&) {
  if (v.text == "User") c.job.xpc_service->service_type = ServiceType::user;
  if (v.text == "System") c.job.xpc_service->service_type = ServiceType::system;
}
void environment(const Value& v, XpcCtx& c, const std::string&) {
  for (size_t i = 0; v.kind == Kind::dict && i < v.keys.size(); ++i) {
    if (v.items[i].kind == Kind::string) c.job.environment[v.keys[i]] = v.items[i].text;
  }
}
void run_loop(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind == Kind::string) c.job.xpc_service->run_loop_type = v.text;
}
void multiple(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind == Kind::boolean) c.job.xpc_service->multiple_instances = v.boolean;
}
void pressured(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind == Kind::boolean) c.job.enable_pressured_exit = v.boolean;
}
void peer_requirement(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind == Kind::string) c.job.peer_requirement = v.text;
}
void allowed_lookups(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind != Kind::array) return;
  c.job.allowed_lookups.emplace();
  for (const Value& e : v.items) {
    if (e.kind == Kind::string) c.job.allowed_lookups->push_back(e.text);
  }
}
void drain(const Value& v, XpcCtx& c, const std::string&) {
  if (v.kind == Kind::boolean) c.job.drain_messages_on_crash = v.boolean;
}

// Keys that would change what the service is; the bundle decides those.
constexpr std::string_view kBundleOwnedKeys[] = {"Label", "Program", "ProgramArguments", "MachServices"};

void additional(const Value& v, XpcCtx& c, const std::string& path) {
  if (v.kind != Kind::dict) return;
  for (size_t i = 0; i < v.keys.size(); ++i) {
    for (std::string_view owned : kBundleOwnedKeys) {
      if (v.keys[i] == owned) {
        c.out.push_back({Severity::error, c.file, v.items[i].pos, child_path(path, owned),
                         "cannot be set for an XPC service (expected it from the bundle: "
                         "CFBundleIdentifier, CFBundleExecutable)"});
      }
    }
  }
  JobSpec extra = c.job;
  detail::build_launchd_keys(v, extra, c.out, c.file, path);
  extra.label = c.job.label;
  extra.program = c.job.program;
  extra.arguments = c.job.arguments;
  extra.mach_services = c.job.mach_services;
  c.job = std::move(extra);
}

constexpr XpcField kXpcServiceFields[] = {
    {"ServiceType", service_type},
    {"EnvironmentVariables", environment},
    {"JoinExistingSession", nullptr},
    {"RunLoopType", run_loop},
    {"_MultipleInstances", multiple},
    {"_AdditionalProperties", additional},
    {"_AllowedClients", nullptr},
    {"_SandboxProfile", nullptr},
    {"_RoleAccount", nullptr},
    {"_ProcessType", nullptr},
    {"_HighBitsASLR", nullptr},
    {"_AbandonCoalition", nullptr},
    {"EnablePressuredExit", pressured},
    {"_PeerRequirement", peer_requirement},
    {"_AllowedLookups", allowed_lookups},
    {"DrainMessagesOnCrash", drain},
};

constexpr std::string_view kXpcTopLevelKeys[] = {"CFBundleIdentifier", "CFBundleExecutable", "XPCService"};

std::string text_at(const Value& root, std::string_view key) {
  const Value* v = root.find(key);
  return v && v->kind == Kind::string ? v->text : std::string();
}

void resolve_program(const Value& root, const SourceInfo& src, XpcCtx& c) {
  std::string exe = text_at(root, "CFBundleExecutable");
  if (exe.empty()) return;  // the validator reported it missing
  if (exe.find('/') != std::string::npos) {
    const Value* v = root.find("CFBundleExecutable");
    c.out.push_back({Severity::error, c.file, v->pos, "CFBundleExecutable",
                     fmt::format("not a file name (expected the executable's name in the bundle, got '{}')",
                                 printable(exe))});
  }
  std::string dir = src.bundle_path.empty() ? "." : src.bundle_path;
  c.job.program = src.contents_layout ? fmt::format("{}/Contents/MacOS/{}", dir, exe) : fmt::format("{}/{}", dir, exe);
  c.job.arguments = {c.job.program};
}

Built build_xpc_service(const Value& root, const SourceInfo& src) {
  Built b;
  JobSpec& j = b.job;
  j.kind = ManifestKind::xpc_service;
  j.source = src.file;
  j.xpc_service.emplace();
  j.xpc_service->bundle_path = src.bundle_path;
  j.label = text_at(root, "CFBundleIdentifier");
  if (!j.label.empty()) j.mach_services.emplace_back().name = j.label;
  XpcCtx c{j, b.diagnostics, src.file};
  resolve_program(root, src, c);
  const Value* svc = root.find("XPCService");
  for (size_t i = 0; svc && svc->kind == Kind::dict && i < svc->keys.size(); ++i) {
    for (const XpcField& f : kXpcServiceFields) {
      if (f.key == svc->keys[i] && f.apply) f.apply(svc->items[i], c, child_path("XPCService", f.key));
    }
  }
  return b;
}

}  // namespace

ManifestKind detect_kind(const Value& root) {
  return root.find("XPCService") ? ManifestKind::xpc_service : ManifestKind::launchd_job;
}

Built build_job(const Value& root, ManifestKind kind, const SourceInfo& src) {
  if (kind == ManifestKind::xpc_service) return build_xpc_service(root, src);
  Built b;
  b.job.source = src.file;
  detail::build_launchd_keys(root, b.job, b.diagnostics, src.file, "");
  detail::check_launchd_job(root, b.job, b.diagnostics, src.file);
  return b;
}

std::vector<std::string> known_key_paths(ManifestKind kind) {
  if (kind == ManifestKind::launchd_job) return detail::launchd_key_paths();
  std::vector<std::string> out(std::begin(kXpcTopLevelKeys), std::end(kXpcTopLevelKeys));
  for (const XpcField& f : kXpcServiceFields) out.push_back(fmt::format("XPCService.{}", f.key));
  return out;
}

}  // namespace xpcd::manifest
