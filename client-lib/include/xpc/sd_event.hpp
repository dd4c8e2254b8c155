// Drives libxpc from an sd-event loop. Header-only, so libxpc itself does
// not link libsystemd (DESIGN 11): the application, which links it already,
// compiles this.
//   xpc::runtime::use_external_loop();
//   xpc::attach_sd_event(event);
#pragma once

#include <xpc/runtime.hpp>

#include <systemd/sd-event.h>

namespace xpc {

// Adds an io source for libxpc's loop to `event`. Returns sd-event's result.
inline int attach_sd_event(sd_event* event, sd_event_source** source = nullptr) {
  auto on_ready = [](sd_event_source*, int, uint32_t, void*) -> int {
    runtime::dispatch();
    return 0;
  };
  return sd_event_add_io(event, source, runtime::fd(), EPOLLIN, on_ready, nullptr);
}

}  // namespace xpc
