// The D-Bus transport of the control plane (docs/dbus.md): the object
// /org/xpcd/Manager1 under the name org.xpcd.Manager1 on the system bus
// (xpcd --system) or the session bus (--user), its methods calling the
// command core (control/control.hpp) with the caller the bus names, a
// JobChanged signal and PropertiesChanged(Jobs) on every job state change.
// Not here: any rule (the command core decides), the bus's own policy.
// The adaptor is generated from org.xpcd.Manager1.xml at build time.
// Runs on the sd-event loop thread only (bus_event.hpp).
#pragma once

#include "control/control.hpp"
#include "supervisor/event_loop.hpp"
#include "supervisor/supervisor.hpp"

#include <memory>

namespace xpcd::dbus {

inline constexpr const char* kBusName = "org.xpcd.Manager1";
inline constexpr const char* kObjectPath = "/org/xpcd/Manager1";

class ManagerApi {
 public:
  // Connects to the domain's bus, exports the object, takes the name.
  // Null when there is no bus or the name is taken: logged as a warning,
  // xpcd runs on without the D-Bus API. `supervisor` must outlive the
  // result; `control` must outlive every loop iteration, and be destroyed
  // before the result (it may hold a pending reply, which needs the bus
  // connection: sdbus-c++ messages call through it when they are freed).
  static std::unique_ptr<ManagerApi> start(sd_event* loop, control::Control& control, Supervisor& supervisor);
  ~ManagerApi();
  ManagerApi(const ManagerApi&) = delete;
  ManagerApi& operator=(const ManagerApi&) = delete;

  struct Impl;

 private:
  explicit ManagerApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xpcd::dbus
