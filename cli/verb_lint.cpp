// xpcctl lint FILE|DIR... [--json]: loads manifests as the daemon would and
// prints every diagnostic. Exit 0 when there is no error (warnings are
// fine), 1 when any manifest has an error, 2 on usage errors.
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "manifest/loader.hpp"
#include "verbs.hpp"

namespace xpcctl {
namespace {

namespace m = xpcd::manifest;

constexpr std::string_view kLintHelp =
    "usage: xpcctl lint [--json] FILE|DIR...\n"
    "Checks launchd plists, XPC service bundles (Name.xpc) and TOML manifests.\n"
    "A directory stands for its non-hidden files and *.xpc bundles (not recursive).\n"
    "Diagnostics: FILE[:LINE:COL]: error|warning: KeyPath: what is wrong (expected X, got Y)\n"
    "--json prints one JSON document instead.\n"
    "Exit: 0 no errors (warnings allowed), 1 some error, 2 usage.\n";

struct Totals {
  size_t errors = 0, warnings = 0;
  void add(const m::Diagnostics& ds) {
    errors += m::count(ds, m::Severity::error);
    warnings += m::count(ds, m::Severity::warning);
  }
};

void print_text(const std::vector<m::LoadedManifest>& loaded, const m::Diagnostics& path_errors,
                const Totals& t) {
  for (const m::Diagnostic& d : path_errors) fmt::print("{}\n", m::format(d));
  for (const m::LoadedManifest& lm : loaded) {
    for (const m::Diagnostic& d : lm.diagnostics) fmt::print("{}\n", m::format(d));
  }
  size_t ok = 0;
  for (const m::LoadedManifest& lm : loaded) ok += lm.job.has_value();
  fmt::print("{} manifest(s): {} loadable, {} error(s), {} warning(s)\n", loaded.size(), ok, t.errors,
             t.warnings);
}

void print_json(const std::vector<m::LoadedManifest>& loaded, const m::Diagnostics& path_errors,
                const Totals& t) {
  std::string out = "{\"manifests\":[";
  for (size_t i = 0; i < loaded.size(); ++i) {
    const m::LoadedManifest& lm = loaded[i];
    out += fmt::format("{}{{\"path\":{},\"loadable\":{},\"label\":{},\"diagnostics\":[", i ? "," : "",
                       m::json_quote(lm.path), lm.job ? "true" : "false",
                       lm.job ? m::json_quote(lm.job->label) : "null");
    for (size_t k = 0; k < lm.diagnostics.size(); ++k) out += (k ? "," : "") + m::to_json(lm.diagnostics[k]);
    out += "]}";
  }
  out += "],\"path_errors\":[";
  for (size_t k = 0; k < path_errors.size(); ++k) out += (k ? "," : "") + m::to_json(path_errors[k]);
  out += fmt::format("],\"errors\":{},\"warnings\":{}}}", t.errors, t.warnings);
  fmt::print("{}\n", out);
}

}  // namespace

int verb_lint(Args args) {
  bool json = false;
  std::vector<std::string> paths;
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") {
      fmt::print("{}", kLintHelp);
      return kExitOk;
    }
    if (a == "--json") {
      json = true;
    } else if (a.starts_with("-") && a != "-") {
      fmt::print(stderr, "xpcctl lint: unknown option '{}'\n{}", a, kLintHelp);
      return kExitUsage;
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty()) {
    fmt::print(stderr, "xpcctl lint: no FILE or DIR given\n{}", kLintHelp);
    return kExitUsage;
  }
  auto schemas = m::load_builtin_schemas();
  if (!schemas) {
    fmt::print(stderr, "xpcctl lint: built-in schema is broken: {}\n", schemas.error());
    return kExitFailed;
  }
  m::Diagnostics path_errors;
  std::vector<m::LoadedManifest> loaded = m::load_all(paths, schemas.value(), path_errors);
  Totals t;
  t.add(path_errors);
  for (const m::LoadedManifest& lm : loaded) t.add(lm.diagnostics);
  json ? print_json(loaded, path_errors, t) : print_text(loaded, path_errors, t);
  return t.errors == 0 ? kExitOk : kExitFailed;
}

}  // namespace xpcctl
