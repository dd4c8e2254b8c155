// xpcctl's verbs and exit codes. Each verb is one function in its own file
// (verb_NAME.cpp), taking the arguments after the verb name and returning
// an exit code. Not the dispatcher (main.cpp) and not the client library.
#pragma once

#include <span>
#include <string_view>

namespace xpcctl {

// Exit codes of every verb (documented in xpcctl --help).
inline constexpr int kExitOk = 0;           // success (lint: no errors; warnings allowed)
inline constexpr int kExitFailed = 1;       // the verb ran and failed (lint: some error)
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 3;  // the daemon did not answer (verbs that talk to xpcd)

using Args = std::span<const std::string_view>;

int verb_lint(Args args);
int verb_explain(Args args);
int verb_call(Args args);
// The control verbs (verb_control.cpp): bootstrap, bootout, enable,
// disable, kickstart, kill, list, print, blame, reload.
int verb_control(std::string_view verb, Args args);

}  // namespace xpcctl
