// The supervisor's part of the control plane (supervisor.hpp, "control
// plane" block): what the command core (daemon/control) reads and steers.
// Entry is defined in supervisor.cpp; here it is only passed by reference.
#include "supervisor/supervisor.hpp"

#include <fmt/format.h>

namespace xpcd {

std::vector<std::string> Supervisor::labels() const {
  std::vector<std::string> out;
  out.reserve(jobs_.size());
  for (const auto& [label, entry] : jobs_) out.push_back(label);
  return out;  // std::map: sorted
}

xpc::Result<xpc::Ok, std::string> Supervisor::control(const std::string& label, job::Event event) {
  auto it = jobs_.find(label);
  if (it == jobs_.end()) return xpc::fail(fmt::format("no job '{}' is loaded", label));
  const bool toggles = std::holds_alternative<job::Enable>(event) || std::holds_alternative<job::Disable>(event);
  const std::size_t refused_before = job_view(label)->job->refusals();
  // The engine answers synchronously: feed runs every event it queues,
  // including those raised by the effects (a spawn), before it returns.
  feed(*it->second, std::move(event));
  auto view = job_view(label);
  if (!view) return xpc::Ok{};  // removed by what it started (a failed spawn cannot do that; defensive)
  if (view->job->refusals() != refused_before) return xpc::fail(view->job->last_refusal());
  if (toggles) other_job_changed(label, !view->job->disabled());
  return xpc::Ok{};
}

}  // namespace xpcd
