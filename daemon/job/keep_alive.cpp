// KeepAlive conditions (keep_alive.hpp).
#include "job/keep_alive.hpp"

#include <algorithm>

namespace xpcd::job {
namespace {

bool holds(const std::map<std::string, bool>& known, const std::pair<std::string, bool>& want) {
  const auto it = known.find(want.first);
  const bool now = it != known.end() && it->second;
  return now == want.second;
}

}  // namespace

bool KeepAliveState::standing(const manifest::KeepAlive& k) const {
  if (k.always) return true;
  const auto path = [&](const auto& w) { return holds(paths_, w); };
  const auto job = [&](const auto& w) { return holds(jobs_, w); };
  return std::any_of(k.path_state.begin(), k.path_state.end(), path) ||
         std::any_of(k.other_job_enabled.begin(), k.other_job_enabled.end(), job);
}

bool restart_after_exit(const manifest::KeepAlive& k, const ExitStatus& status) {
  if (k.always) return true;
  if (k.successful_exit && status.success() == *k.successful_exit) return true;
  return k.crashed && status.signaled == *k.crashed;
}

}  // namespace xpcd::job
