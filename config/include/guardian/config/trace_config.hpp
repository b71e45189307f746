#pragma once
/// \file
/// Trace captures declared in config (the `traces` section, docs/configuration.md): named points
/// of one source sampled between a start and an end condition — an espresso shot's pressure, flow
/// and temperature at up to 100 Hz — and published as one `traces` record per capture.
/// Adapter-independent: a capture names a source and points as they appear northbound.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace guardian::config {

/// A test on the value of one point of the capture's source.
struct TraceCondition {
  enum class Test : std::uint8_t {
    equals,      ///< the value (a label, a number or true/false) is `operand`
    not_equals,  ///< the value is not `operand`
    above,       ///< a numeric value (true = 1) greater than `number`
    below,       ///< a numeric value (true = 1) less than `number`
  };
  std::string point;
  Test test = Test::equals;
  std::string operand;  ///< equals / not_equals, as written (a number matches numerically)
  double number = 0;    ///< above / below
};

/// What the capture's sampled points still send as telemetry.
enum class TraceTelemetry : std::uint8_t {
  all,      ///< every reading, as if no capture existed
  outside,  ///< only while no capture is open (during one, the trace has them)
  none,     ///< never: the traces are their only destination
};

/// One declared capture.
struct TraceConfig {
  std::string name;    ///< the trace type ("shot"), `type` in the record
  std::string source;  ///< a Modbus device or a stream source
  std::vector<std::string> points;  ///< sampled, numeric (true = 1); at least one
  TraceCondition start;
  /// Ends the capture when it holds; nullopt: when `start` stops holding.
  std::optional<TraceCondition> end;
  std::chrono::milliseconds sample_interval{100};    ///< the arrays' step, 10 ms–60 s
  std::chrono::milliseconds max_duration{std::chrono::minutes{5}};  ///< a capture ends after this
  /// Points whose last readings at the end go into the record's `summary`.
  std::vector<std::string> summary;
  /// A record of this type from the source, arriving during the capture or within
  /// `summary_wait` after its end, is added to the summary (its fields).
  std::string summary_record;
  std::chrono::milliseconds summary_wait{std::chrono::seconds{5}};
  TraceTelemetry telemetry = TraceTelemetry::all;

  /// Samples per point a capture can hold (max_duration / sample_interval + 1).
  [[nodiscard]] std::size_t max_samples() const noexcept {
    return static_cast<std::size_t>(max_duration / sample_interval) + 1;
  }
};

}  // namespace guardian::config
