#pragma once
/// \file
/// The crash harness: the real gateway under load (a pymodbus unit polled every 10 ms, 40 points),
/// publishing to a real mosquitto, killed with SIGKILL at random moments and restarted, again and
/// again. After every kill it reads the queue file as the gateway left it: the last seq accepted
/// and the seqs not yet acknowledged. At the end production stops, the gateway drains, and a
/// subscriber that saw everything checks:
///   - zero loss: every seq up to the last one accepted arrived;
///   - duplicates only of unacknowledged messages: a seq that arrived twice was still in the queue
///     (not acknowledged) at one of the kills, and both copies are identical;
///   - no kill corrupted the queue (no quarantine).
///
/// A short run is part of the test suite (crash_harness_test.cpp); the long one runs by hand:
///   build/tests/bin/guardian-crash-harness --kills 100 [--seed N] [--min-ms 50] [--max-ms 2000]

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace guardian::testing {

struct CrashOptions {
  int kills = 10;
  std::uint64_t seed = 0;  ///< 0: random
  int min_uptime_ms = 50;  ///< a kill comes uniformly between these after the start
  int max_uptime_ms = 1500;
  std::function<void(const std::string&)> progress;  ///< one line per kill, if set
};

struct CrashReport {
  int kills = 0;
  std::uint64_t seed = 0;
  std::uint64_t last_seq = 0;                 ///< highest seq accepted over the whole run
  std::uint64_t delivered = 0;                ///< distinct seqs received
  std::vector<std::uint64_t> missing;         ///< accepted, never received (must be empty)
  std::uint64_t duplicated = 0;               ///< seqs received more than once
  std::vector<std::uint64_t> bad_duplicates;  ///< received twice although acknowledged before
  std::uint64_t mismatched = 0;               ///< duplicates whose payload differed
  int quarantines = 0;                        ///< restarts that found a corrupt queue
  int kills_with_unacked = 0;                 ///< kills that left messages unacknowledged
  double seconds = 0;
  std::string failure;  ///< a harness-level failure (a step timed out)

  [[nodiscard]] bool passed() const {
    return failure.empty() && missing.empty() && bad_duplicates.empty() && mismatched == 0 &&
           quarantines == 0;
  }
  [[nodiscard]] std::string summary() const;
};

/// Runs the harness (several minutes for 100 kills). Never throws for a failed check: the report
/// says what failed.
[[nodiscard]] CrashReport run_crash_harness(const CrashOptions& options);

}  // namespace guardian::testing
