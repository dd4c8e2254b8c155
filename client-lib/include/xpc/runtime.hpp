// The loop that runs every connection's handlers. By default libxpc starts
// its own loop thread on first use. An application with its own event loop
// can drive it instead: call use_external_loop() before anything else of
// libxpc, watch fd() for readability, and call dispatch() when it is
// readable (or use xpc/sd_event.hpp to attach to an sd-event loop).
// Handlers then run on the thread that calls dispatch().
#pragma once

#include <xpc/export.h>

namespace xpc::runtime {

// Must come before the loop starts (the first connection); false after.
XPC_EXPORT bool use_external_loop();

// An fd that becomes readable when dispatch() has work (an epoll fd).
XPC_EXPORT int fd();

// Runs whatever is ready: received messages, replies, posted work. Never
// blocks.
XPC_EXPORT void dispatch();

}  // namespace xpc::runtime
