// The service's side of the exit-if-idle handshake (DESIGN 6) and of
// termination-imminent: which connections the process has, whether any has
// work, and handing them all back to xpcd. Internal.
#pragma once

#include <memory>

namespace xpc::detail {

class ConnectionImpl;

// Every named and peer connection is tracked (weakly) from its creation.
void track(const std::shared_ptr<ConnectionImpl>& connection);

// exit-if-idle arrived on the checkin channel: answers busy when the
// process has a transaction, a queued message, a reply it waits for or
// unread data on any connection; otherwise parks every peer connection
// with xpcd, says exiting and exits 0 (never returns then).
void answer_exit_if_idle(int checkin_fd);

// termination-imminent arrived: every peer connection's handler hears it.
void announce_termination();

}  // namespace xpc::detail
