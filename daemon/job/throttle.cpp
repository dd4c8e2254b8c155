// Throttle backoff arithmetic (throttle.hpp).
#include "job/throttle.hpp"

#include <algorithm>

#include "job/limits.hpp"

namespace xpcd::job {

Duration throttle_interval(std::int64_t seconds) {
  // Clamp before converting: a huge ThrottleInterval must not overflow nanoseconds.
  const std::int64_t clamped = std::clamp<std::int64_t>(seconds, limits::kMinThrottleInterval.count(), 1'000'000'000);
  return std::chrono::seconds{clamped};
}

Duration throttle_cap(Duration interval) {
  const Duration ratio_cap = interval * limits::kThrottleMaxMultiplier;
  return std::max<Duration>(interval, std::min<Duration>(ratio_cap, limits::kMaxThrottleDelay));
}

Duration throttle_delay(Duration interval, unsigned failures) {
  if (failures == 0) return Duration::zero();
  const Duration cap = throttle_cap(interval);
  Duration d = interval;
  for (unsigned i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

}  // namespace xpcd::job
