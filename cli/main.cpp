// xpcctl entry point: dispatches the first argument to a verb from a table.
// Add a verb by writing verb_NAME.cpp, declaring it in verbs.hpp and adding
// a row to kVerbs.
#include <fmt/format.h>

#include <cstdio>
#include <string_view>
#include <vector>

#include "verbs.hpp"

namespace xpcctl {
namespace {

struct Verb {
  std::string_view name;
  int (*run)(Args args);
  std::string_view usage;
  std::string_view summary;
};

constexpr Verb kVerbs[] = {
    {"lint", verb_lint, "lint [--json] FILE|DIR...", "check manifests and print every problem"},
    {"explain", verb_explain, "explain [--all] KEY", "describe a manifest key from the schemas"},
    {"call", verb_call, "call [--privileged] NAME [JSON] [OPTIONS]",
     "send a message to a service, print the replies as JSON"},
    {"bootstrap", [](Args a) { return verb_control("bootstrap", a); }, "bootstrap DOMAIN PATH...",
     "load manifests into a domain"},
    {"bootout", [](Args a) { return verb_control("bootout", a); }, "bootout TARGET|DOMAIN PATH...",
     "unload a job, or the jobs of manifests, once stopped"},
    {"enable", [](Args a) { return verb_control("enable", a); }, "enable TARGET", "allow a job to run (persisted)"},
    {"disable", [](Args a) { return verb_control("disable", a); }, "disable TARGET",
     "forbid a job to start (persisted; a running instance is left alone)"},
    {"kickstart", [](Args a) { return verb_control("kickstart", a); }, "kickstart [-k] [-p] TARGET",
     "start a job now; -k kills a running instance first, -p prints the pid"},
    {"kill", [](Args a) { return verb_control("kill", a); }, "kill SIGNAL TARGET",
     "send a signal (TERM, SIGTERM or 15) to a running job"},
    {"list", [](Args a) { return verb_control("list", a); }, "list [--json] [DOMAIN]",
     "the jobs of a domain: pid, last exit, state"},
    {"print", [](Args a) { return verb_control("print", a); }, "print [--json] TARGET|DOMAIN",
     "everything xpcd knows of a job or a domain"},
    {"blame", [](Args a) { return verb_control("blame", a); }, "blame [--json] TARGET", "why a job runs now"},
    {"reload", [](Args a) { return verb_control("reload", a); }, "reload [DOMAIN]", "read the manifests again"},
};

void print_help(std::FILE* out) {
  fmt::print(out, "usage: xpcctl VERB [ARGS...]\n\nverbs:\n");
  for (const Verb& v : kVerbs) fmt::print(out, "  {:<42} {}\n", v.usage, v.summary);
  fmt::print(out,
             "\nTARGET: system/LABEL, user/UID/LABEL or LABEL (the caller's domain); DOMAIN: system, user/UID\n"
             "exit codes: 0 ok, 1 failed (lint: some error; a refused verb: the rule on stderr), 2 usage,\n"
             "3 daemon unreachable\n"
             "xpcctl VERB --help shows a verb's own help.\n");
}

}  // namespace
}  // namespace xpcctl

int main(int argc, char** argv) {
  using namespace xpcctl;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_help(stderr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(stdout);
    return kExitOk;
  }
  for (const Verb& v : kVerbs) {
    if (v.name == args[0]) return v.run(Args(args).subspan(1));
  }
  fmt::print(stderr, "xpcctl: unknown verb '{}'\n\n", args[0]);
  print_help(stderr);
  return kExitUsage;
}
