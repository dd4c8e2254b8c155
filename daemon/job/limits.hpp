// Every limit of the job engine, with the reason for its value. Tests check
// each at N and N+1 (tests/unit/job/limits_test.cpp).
#pragma once

#include <chrono>
#include <cstddef>

namespace xpcd::job::limits {

using namespace std::chrono_literals;

// Lookups one job holds while no instance can take them. Each pins a held
// socketpair end in the daemon; past the limit a lookup fails at once
// ("too many lookups waiting") instead of growing the queue. The per-uid cap
// on pending activations (DESIGN 4) is enforced by the registry before the
// engine sees the lookup; this bound keeps one job's queue finite whatever
// the registry does. 1024 is far more than any burst of real clients
// waiting for one service, and the same order as the default RLIMIT_NOFILE.
inline constexpr std::size_t kMaxWaitingLookups = 1024;

// The smallest effective ThrottleInterval. ThrottleInterval=0 would let a
// KeepAlive job that fails at once respawn in a hot loop; one start per
// second per job is harmless.
inline constexpr std::chrono::seconds kMinThrottleInterval = 1s;

// The backoff doubles per consecutive failed instance up to this multiple of
// ThrottleInterval, and never beyond kMaxThrottleDelay, but never below the
// ThrottleInterval itself (the user asked for at least that). Why 16x and
// five minutes: with the default ThrottleInterval of 10 s the delays are
// 10, 20, 40, 80, 160, 160 s, so a service crash-looping because a disk
// or a peer is down costs a start every few minutes, while a fixed service
// is back within three minutes of the fix without anyone kickstarting it.
inline constexpr unsigned kThrottleMaxMultiplier = 16;
inline constexpr std::chrono::seconds kMaxThrottleDelay = 300s;

// Default activation deadline: how long a spawned instance of a job with
// MachServices may take to check in before it is stopped and its waiting
// lookups fail. The daemon's config may set another (Config). 30 s: longer
// than any sane service start, short enough that a client does not hang
// for minutes on a service that will never answer (DESIGN 4: fast failure).
inline constexpr std::chrono::seconds kDefaultActivationTimeout = 30s;

// Largest EXTEND_TIMEOUT_USEC honoured at once; a larger value is clamped.
// systemd semantics: the service must extend again before it runs out, so
// this is not a bound on how long a slow start may take, only on how far
// one datagram may push a deadline (and it keeps time arithmetic far from
// overflow whatever a service writes).
inline constexpr std::chrono::seconds kMaxTimeoutExtension = 3600s;

// STATUS= text kept per job, in bytes; longer text is cut at a UTF-8
// character boundary. It is shown by `xpcctl print`, one line.
inline constexpr std::size_t kMaxStatusText = 512;

// Longest watchdog period, for WatchdogSec (whose schema says the same,
// manifest::limits::kMaxWatchdogSec, checked in job_watchdog.cpp) and for a
// WATCHDOG_USEC= sent at run time, which is clamped to it: a liveness check
// a day apart watches nothing, and the bound keeps deadlines far from overflow.
inline constexpr std::chrono::hours kMaxWatchdogPeriod{24};

}  // namespace xpcd::job::limits
