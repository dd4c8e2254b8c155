// The daemon's per-uid limits on what a client can make xpcd hold (STYLE 12,
// DESIGN 4), with the reason for each number. xpcd.toml may set others
// ([limits], docs/config-and-limits.md) within the bounds below. Tests:
// tests/integration/daemon/limits_test.cpp (at N and N+1 with a real xpcd),
// tests/unit/config (the bounds).
#pragma once

#include <chrono>
#include <cstddef>

namespace xpcd::limits {

// Lookups of one uid waiting for an instance to take them (the service end
// of each socketpair stays in xpcd until a checked-in instance takes it).
// Past it a lookup is refused at once with `invalid`. 256: far more than
// one user's real clients ever wait for at once (they wait for a launch of
// a few milliseconds), few enough that one uid cannot exhaust xpcd's fds.
inline constexpr std::size_t kDefaultPendingLookupsPerUid = 256;

// File descriptors xpcd holds for one uid's connections not yet taken by a
// service: the service end of the socketpair and the client's pidfd, so two
// per lookup, whether it waits for a launch or was handed to an instance
// that has not acknowledged it yet. 512 = 2 x 256: a uid at its pending
// lookup limit is also at this one, so the default RLIMIT_NOFILE of 1024
// still leaves half of xpcd's fds to everyone else. A system domain serving
// many uids wants a higher RLIMIT_NOFILE (docs/config-and-limits.md).
inline constexpr std::size_t kDefaultHeldFdsPerUid = 512;

// A lookup costs at most this many held fds (service end + pidfd).
inline constexpr std::size_t kMaxFdsPerLookup = 2;

// Bounds for values set in xpcd.toml. Below the minimum no lookup could
// ever be held; above the maximum the limit is no limit: it is the kernel's
// default ceiling on one process's fds (fs.nr_open, 1048576).
inline constexpr std::size_t kMinPendingLookupsPerUid = 1;
inline constexpr std::size_t kMinHeldFdsPerUid = kMaxFdsPerLookup;
inline constexpr std::size_t kMaxConfigurableLimit = 1048576;

// The activation deadline set in xpcd.toml (activation_timeout, seconds):
// more than 0, at most an hour. A service that takes an hour to check in is
// broken, and its clients would hang that long (DESIGN 4: fast failure).
// The default is job::limits::kDefaultActivationTimeout.
inline constexpr double kMaxActivationTimeoutSeconds = 3600;

// The default idle timeout set in xpcd.toml (idle_timeout, seconds): more
// than 0, at most a day. Longer is "never": leave it unset.
inline constexpr double kMaxIdleTimeoutSeconds = 86400;

// How long an instance that closed its checkin channel but still runs keeps
// the connections handed to it and not yet acknowledged. Closing it
// normally means exiting, and the exit hands them to the next instance
// within microseconds; one that lives on has stopped taking connections,
// and its waiting clients get `invalid` saying so instead of waiting for
// ever. Two seconds covers a slow exit (atexit handlers, flushing logs).
inline constexpr std::chrono::milliseconds kCheckinClosedGrace{2000};

struct UidLimits {
  std::size_t pending_lookups = kDefaultPendingLookupsPerUid;
  std::size_t held_fds = kDefaultHeldFdsPerUid;
};

}  // namespace xpcd::limits
