#pragma once
/// \file
/// Exponential back-off with full jitter, shared by every reconnecting component (uplink, Modbus
/// buses, TCP transports) so the policy lives in one place.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace guardian {

/// Delay sequence min, 2·min, 4·min … capped at max, each randomised to [d/2, d] ("equal
/// jitter") so a fleet that lost its broker at once does not reconnect in lockstep.
/// Not thread-safe; one instance per reconnecting object.
class Backoff {
 public:
  using duration = std::chrono::milliseconds;

  Backoff(duration min, duration max, std::uint64_t seed = std::random_device{}())
      : min_(std::max(min, duration{1})), max_(std::max(max, min_)), rng_(seed) {}

  /// The next delay to wait before retrying; grows until reset().
  [[nodiscard]] duration next() {
    const auto base = current();
    if (attempt_ < 62) ++attempt_;
    std::uniform_int_distribution<std::int64_t> dist(base.count() / 2, base.count());
    return duration{dist(rng_)};
  }

  /// The un-jittered delay the next call to next() is based on.
  [[nodiscard]] duration current() const {
    auto d = min_;
    for (unsigned i = 0; i < attempt_ && d < max_; ++i) d *= 2;
    return std::min(d, max_);
  }

  /// Call after a success: the next failure starts again from min.
  void reset() noexcept { attempt_ = 0; }

  [[nodiscard]] unsigned attempts() const noexcept { return attempt_; }

 private:
  duration min_;
  duration max_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace guardian
