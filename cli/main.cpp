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
};

void print_help(std::FILE* out) {
  fmt::print(out, "usage: xpcctl VERB [ARGS...]\n\nverbs:\n");
  for (const Verb& v : kVerbs) fmt::print(out, "  {:<32} {}\n", v.usage, v.summary);
  fmt::print(out,
             "\nexit codes: 0 ok, 1 failed (lint: some error), 2 usage, 3 daemon unreachable\n"
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
