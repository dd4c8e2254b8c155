// xpcctl explain KEY: prints the schema entry of a manifest key (type,
// default, allowed values, meaning, Linux support). KEY is a path as in
// diagnostics: "KeepAlive.SuccessfulExit", "XPCService.ServiceType",
// "Sockets.*.SockType" or with a concrete name, "Sockets.Listeners.SockType".
// launchd keys are searched first, then XPC service keys.
#include <fmt/format.h>

#include <cstdio>

#include "manifest/schema.hpp"
#include "manifest/validate.hpp"
#include "verbs.hpp"

namespace xpcctl {
namespace {

namespace m = xpcd::manifest;

constexpr std::string_view kExplainHelp =
    "usage: xpcctl explain KEY      describe one key, e.g. KeepAlive.SuccessfulExit,\n"
    "                               Sockets.*.SockType, XPCService.ServiceType\n"
    "       xpcctl explain --all    list every key of every schema\n"
    "Exit: 0 found, 1 unknown key, 2 usage.\n";

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void print_entry(const m::Schema& s, const m::SchemaKey& k) {
  fmt::print("{}  ({})\n", k.path, s.title);
  fmt::print("  type:     {} ({})\n", k.type_text, m::describe(k.type));
  if (k.required) fmt::print("  required: yes\n");
  fmt::print("  default:  {}\n", k.default_text.empty() ? "none" : k.default_text);
  if (!k.allowed.empty()) {
    fmt::print("  allowed:  {}{}\n", join(k.allowed), k.case_insensitive ? " (any case)" : "");
  }
  if (k.min || k.max) {
    fmt::print("  range:    {} to {}\n", k.min ? fmt::format("{}", *k.min) : "-inf",
               k.max ? fmt::format("{}", *k.max) : "+inf");
  }
  if (!k.nested_schema.empty()) fmt::print("  contains: {} keys\n", k.nested_schema);
  fmt::print("  linux:    {}{}\n", m::to_string(k.support), k.note.empty() ? "" : " - " + k.note);
  fmt::print("  meaning:  {}\n", k.doc);
}

void print_all(const m::Schemas& schemas) {
  for (const m::Schema* s : {&schemas.launchd, &schemas.xpcservice}) {
    fmt::print("{}:\n", s->title);
    for (const m::SchemaKey& k : s->keys) {
      fmt::print("  {:<40} {:<24} {}\n", k.path, k.type_text,
                 k.support == m::Support::no ? "(not on Linux)" : "");
    }
  }
}

}  // namespace

int verb_explain(Args args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    fmt::print("{}", kExplainHelp);
    return kExitOk;
  }
  if (args.size() != 1 || args[0].empty() || (args[0].starts_with("-") && args[0] != "--all")) {
    fmt::print(stderr, "{}", kExplainHelp);
    return kExitUsage;
  }
  auto schemas = m::load_builtin_schemas();
  if (!schemas) {
    fmt::print(stderr, "xpcctl explain: built-in schema is broken: {}\n", schemas.error());
    return kExitFailed;
  }
  if (args[0] == "--all") {
    print_all(schemas.value());
    return kExitOk;
  }
  for (const m::Schema* s : {&schemas->launchd, &schemas->xpcservice}) {
    if (const m::SchemaKey* k = m::lookup_for_explain(*s, args[0])) {
      print_entry(*s, *k);
      return kExitOk;
    }
  }
  fmt::print(stderr, "xpcctl explain: unknown key '{}' (xpcctl explain --all lists the keys)\n", args[0]);
  return kExitFailed;
}

}  // namespace xpcctl
