// Limits of the launcher, each with the number and the reason. A plan past a
// limit is refused with a PlanError naming it; tests check every limit at N
// and N+1. Not configuration: fixed so that every domain behaves the same.
#pragma once

#include <cstddef>

namespace xpcd::launcher::limits {

// Most file descriptors passed to one job besides stdio: its Sockets fds,
// the fds of its store (FDSTORE=1, at most
// manifest::limits::kMaxFileDescriptorStore) and the checkin channel. They land at 3..3+N-1 in the child. The child
// first duplicates every passed fd above the highest target before moving
// it into place (so that swaps are safe), so it needs about twice this many
// fd numbers under its inherited soft RLIMIT_NOFILE, which is 1024 for a
// daemon started by systemd with defaults. The largest real manifest in the
// corpus has four sockets; 256 leaves room for generated ones.
inline constexpr size_t kMaxPassedFds = 256;

// Most supplementary groups a job may get: the kernel's NGROUPS_MAX, past
// which setgroups(2) fails with EINVAL. Refused when the plan is made, so
// the failure names the user instead of showing up as a spawn error.
inline constexpr size_t kMaxSupplementaryGroups = 65536;

// Longest socket name in LISTEN_FDNAMES, as systemd's fdname_is_valid()
// requires (sd_listen_fds_with_names users may rely on it).
inline constexpr size_t kMaxSocketNameLength = 255;

}  // namespace xpcd::launcher::limits
