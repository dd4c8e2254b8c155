// Runs the real xpcctl binary (optionally as `nobody` through setpriv) and
// collects its exit code, stdout and stderr, with a bounded wait.
#pragma once

#include <run_process.hpp>

#include <string>
#include <vector>

namespace xpc::test {

inline std::string xpcctl_binary() { return std::string(XPCD_BUILD_DIR) + "/cli/xpcctl"; }

// xpcctl ARGS..., as root (the test) or as nobody:nogroup with no groups.
inline Run xpcctl(std::vector<std::string> args, bool as_nobody = false) {
  std::vector<std::string> argv;
  if (as_nobody) argv = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
  argv.push_back(xpcctl_binary());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(std::move(argv), std::chrono::seconds(60));
}

}  // namespace xpc::test
