// An sdbus-c++ connection driven by xpcd's sd-event loop. sdbus-c++ 1.2
// (Debian 12) has no attachSdEventLoop, so this does what that does with
// the API 1.2 has: an io source on the bus fd with the events sd-bus wants,
// a timer at the deadline it wants, processPendingRequest() when either
// fires, and both re-read after every loop iteration that ran anything
// (what the supervisor did may have queued signals). No thread: every
// handler of the connection runs on the loop thread.
#pragma once

#include "supervisor/event_loop.hpp"

#include <sdbus-c++/IConnection.h>

#include <functional>
#include <string>

namespace xpcd::dbus {

class BusEvent {
 public:
  // `connection` must outlive this object. `on_lost` runs once, on the
  // loop, if the bus connection fails (the bus went away); the sources are
  // off by then and the caller may destroy this object and the connection.
  BusEvent(sd_event* loop, sdbus::IConnection& connection, std::function<void(std::string)> on_lost);
  ~BusEvent();
  BusEvent(const BusEvent&) = delete;
  BusEvent& operator=(const BusEvent&) = delete;

 private:
  void process() noexcept;
  void rearm() noexcept;
  void lost(std::string why) noexcept;
  static int on_io(sd_event_source* s, int fd, uint32_t revents, void* userdata) noexcept;
  static int on_time(sd_event_source* s, uint64_t usec, void* userdata) noexcept;
  static int on_post(sd_event_source* s, void* userdata) noexcept;

  sdbus::IConnection& connection_;
  std::function<void(std::string)> on_lost_;
  SourcePtr io_;
  SourcePtr timer_;
  SourcePtr post_;
};

}  // namespace xpcd::dbus
