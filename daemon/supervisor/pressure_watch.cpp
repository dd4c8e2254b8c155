// The PSI trigger (pressure_watch.hpp).
#include "supervisor/pressure_watch.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xpcd {

std::string trigger_line(const PressureTrigger& trigger) {
  using std::chrono::microseconds;
  return fmt::format("some {} {}", std::chrono::duration_cast<microseconds>(trigger.stall).count(),
                     std::chrono::duration_cast<microseconds>(trigger.window).count());
}

xpc::Result<std::unique_ptr<PressureWatch>, std::string> PressureWatch::open(sd_event* loop, const std::string& path,
                                                                             const PressureTrigger& trigger,
                                                                             std::function<void()> on_pressure) {
  xpc::UniqueFd fd = xpc::UniqueFd::adopt(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return xpc::fail(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  // The trigger string is written with its terminating NUL, as the kernel
  // documentation's example does.
  std::string line = trigger_line(trigger);
  if (::write(fd.get(), line.c_str(), line.size() + 1) < 0) {
    return xpc::fail(fmt::format("cannot arm the trigger '{}' on {}: {}", line, path, std::strerror(errno)));
  }
  std::unique_ptr<PressureWatch> watch(new PressureWatch(std::move(fd), std::move(on_pressure)));
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(loop, &source, watch->fd_.get(), EPOLLPRI, on_event, watch.get()); r < 0) {
    return xpc::fail(fmt::format("cannot watch {}: {}", path, std::strerror(-r)));
  }
  watch->source_.reset(source);
  return watch;
}

int PressureWatch::on_event(sd_event_source* source, int, uint32_t revents, void* userdata) {
  auto* watch = static_cast<PressureWatch*>(userdata);
  // EPOLLERR: the file is gone (a cgroup removed); stop watching.
  if ((revents & EPOLLERR) != 0) {
    sd_event_source_set_enabled(source, SD_EVENT_OFF);
    return 0;
  }
  if ((revents & EPOLLPRI) != 0) watch->on_pressure_();
  return 0;
}

}  // namespace xpcd
