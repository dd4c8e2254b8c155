// ThrottleInterval as capped exponential backoff. Pure arithmetic; the
// engine (job.cpp) decides which instance counts as failed.
//   delay(n) = ThrottleInterval * 2^(n-1), n = consecutive failed instances,
//   capped at max(ThrottleInterval, min(16 x ThrottleInterval, 5 min)).
// See limits.hpp for why those numbers.
#pragma once

#include "job/types.hpp"

namespace xpcd::job {

// ThrottleInterval (seconds from the JobSpec) as used: at least kMinThrottleInterval.
Duration throttle_interval(std::int64_t seconds);
// The largest delay for this interval.
Duration throttle_cap(Duration interval);
// The wait before the next start after `failures` consecutive failed
// instances (failures >= 1; 0 gives zero).
Duration throttle_delay(Duration interval, unsigned failures);

}  // namespace xpcd::job
