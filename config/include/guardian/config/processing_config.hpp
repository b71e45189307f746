#pragma once
/// \file
/// Edge processing declared per point (the `processing` section, docs/configuration.md): what the
/// gateway does with a point's readings before they reach the queue. Adapter-independent: a rule
/// names a source and a point as they appear northbound.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace guardian::config {

/// Report-by-exception: a reading is sent only when it differs from the last one sent by more
/// than the deadband, when its quality changes, or when `heartbeat` has passed since the last one
/// sent (so that an unchanging value still reports).
struct Deadband {
  enum class Kind : std::uint8_t {
    absolute,  ///< |value − last sent| > amount, in the point's unit
    percent,   ///< |value − last sent| > amount % of |last sent|
  };
  Kind kind = Kind::absolute;
  double amount = 0.0;  ///< ≥ 0; 0 = send every change and nothing else
  std::chrono::milliseconds heartbeat{std::chrono::minutes{10}};
};

/// The statistics an aggregate can report for each window.
enum class AggregateFunction : std::uint8_t { min, max, mean, count, last };

/// Windowed aggregates: instead of every reading, one reading per function every `interval`,
/// named "<point>.<function>" (e.g. boiler_temp.mean), windows aligned on the UTC clock.
struct Aggregate {
  std::chrono::milliseconds interval{std::chrono::minutes{1}};
  std::vector<AggregateFunction> functions;  ///< in the order they are reported; never empty
};

/// Counters useful for predictive maintenance, derived from a point's readings, kept across
/// restarts and reported every `interval` as "<point>.<counter>".
enum class CounterKind : std::uint8_t {
  changes,    ///< how many times the value changed
  cycles,     ///< how many times the point switched on (off → on)
  run_hours,  ///< hours the point was on
};

struct Counters {
  std::vector<CounterKind> kinds;  ///< never empty
  std::chrono::milliseconds interval{std::chrono::minutes{1}};
  /// A numeric value is "on" above this (e.g. a motor current); a boolean is on when true.
  double on_above = 0.0;
};

/// How routine a point's readings are when the queue must drop (telemetry < records < alarms).
enum class PointPriority : std::uint8_t { routine, alarm };

/// The processing of one point of one source.
struct PointProcessing {
  std::string source;
  std::string point;
  std::optional<Deadband> deadband;
  std::optional<Aggregate> aggregate;  ///< exclusive with deadband
  std::optional<Counters> counters;
  PointPriority priority = PointPriority::routine;
};

}  // namespace guardian::config
