// Memory pressure (DESIGN 6): a PSI trigger on /proc/pressure/memory. The
// kernel wakes the poller (EPOLLPRI) when tasks stalled on memory for at
// least `stall` within a `window`, at most once per window; the supervisor
// then feeds every job MemoryPressure, and the engine asks the clean
// EnablePressuredExit ones to exit (job_idle.cpp).
// Not here: which jobs go (the engine), the thresholds' defaults and
// bounds (config).
#pragma once

#include "supervisor/event_loop.hpp"

#include <xpc/result.hpp>
#include <xpc/unique_fd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace xpcd {

struct PressureTrigger {
  std::chrono::milliseconds stall{150};
  std::chrono::milliseconds window{2000};
};

// The line written to the PSI file: "some STALL_US WINDOW_US".
std::string trigger_line(const PressureTrigger& trigger);

class PressureWatch {
 public:
  // Arms the trigger on `path` (normally /proc/pressure/memory). Fails,
  // with why, when the kernel has no PSI or refuses the trigger.
  static xpc::Result<std::unique_ptr<PressureWatch>, std::string> open(sd_event* loop, const std::string& path,
                                                                       const PressureTrigger& trigger,
                                                                       std::function<void()> on_pressure);

 private:
  PressureWatch(xpc::UniqueFd fd, std::function<void()> on_pressure)
      : fd_(std::move(fd)), on_pressure_(std::move(on_pressure)) {}
  static int on_event(sd_event_source* s, int fd, uint32_t revents, void* userdata);

  xpc::UniqueFd fd_;
  SourcePtr source_;
  std::function<void()> on_pressure_;
};

}  // namespace xpcd
