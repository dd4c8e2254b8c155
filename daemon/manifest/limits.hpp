// Limits on what a manifest may make the decoders allocate, each with the
// number and the reason. A manifest past a limit is refused with an error
// naming the limit; tests check every limit at N and N+1.
// Not configuration: these are fixed so that lint and the daemon agree.
#pragma once

#include <cstddef>

namespace xpcd::manifest::limits {

// Largest manifest file accepted, in bytes. Real launchd plists are a few KiB
// (the largest in the corpus is 16 KiB); 1 MiB leaves room for generated ones
// while bounding what a bad file costs. Checked before reading the file.
inline constexpr size_t kMaxManifestBytes = 1024 * 1024;

// Deepest nesting of arrays and dictionaries. The deepest real manifest in
// the corpus nests 6 levels (LaunchEvents matching dictionaries). libplist
// 2.2 parses binary plists recursively and overflows the stack on deep input,
// so this is checked before libplist sees the data.
inline constexpr size_t kMaxDepth = 32;

// Most values (scalars and containers, counted once per occurrence after
// binary-plist object sharing is expanded) in one manifest. Bounds the
// expansion of a binary plist whose objects refer to each other many times.
inline constexpr size_t kMaxValues = 65536;

// Largest FileDescriptorStoreMax (systemd's key: fds a job may hand xpcd
// with FDSTORE=1 to get back at its next start). The stored fds are passed
// to the job after its Sockets fds and before its checkin channel, and the
// launcher passes at most launcher::limits::kMaxPassedFds (256) in all; 128
// leaves the other half for Sockets and the checkin channel (the launcher
// checks the total again). It also bounds what one job makes xpcd hold.
inline constexpr size_t kMaxFileDescriptorStore = 128;

// Largest WatchdogSec, in seconds: 24 hours. A watchdog is a liveness check
// of a running daemon; a process that may go a day without showing it is
// alive is not watched in any useful sense. The bound also keeps the period
// in microseconds (WATCHDOG_USEC) and the engine's deadlines far from any
// overflow. A WATCHDOG_USEC= sent at run time is clamped to the same bound.
inline constexpr double kMaxWatchdogSec = 86400;

}  // namespace xpcd::manifest::limits
