#pragma once
/// \file
/// Trace captures (config::TraceConfig, docs/configuration.md "traces"): named points of one
/// source sampled on a regular grid between a start and an end condition — an espresso shot's
/// pressure, flow and temperature — each capture published as one `traces` record
/// (docs/telemetry.md), in chunks below the message bound.
///
///   readings of a batch ─▶ conditions first ─▶ start? open a capture at the reading's time
///                              │                end? / condition point not good? close it
///                              └▶ sampled points ─▶ slot on the grid (nearest sample wins)
///                                 summary points ─▶ last reading kept
///   record of `summary_record` ─▶ the open (or just closed) capture's summary
///   tick(now) ─▶ max_duration passed? close · summary_wait passed? hand over without the record
///   closed capture ─▶ encode_trace ─▶ chunks ─▶ Outbox (like a record: durable once committed)
///
/// Sampling: sample k of a capture stands for start + k × sample_interval. A reading lands in the
/// slot after the last one filled when it is within ¾ of an interval of it — so arrival jitter of
/// a device pushing at the sample rate does not shift samples — and in the slot nearest its time
/// otherwise (a gap leaves null samples); several readings for one slot keep the one nearest the
/// slot's time. Readings that are not good, or not numbers, leave their slot null.
///
/// Pure and synchronous: time comes only from the readings' source timestamps and from the `now`
/// given to tick(). Not thread-safe; the Pipeline uses it on the io_context thread. A capture in
/// progress lives in memory (bounded by config: points × max_duration / sample_interval doubles);
/// a gateway killed during a shot loses that shot's trace, not what was committed before.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/config/trace_config.hpp"
#include "guardian/gateway/outbox_message.hpp"

namespace guardian::gateway {

/// Why a capture ended.
enum class TraceEnd : std::uint8_t {
  condition,     ///< its end condition held (or its start condition stopped holding)
  max_duration,  ///< it reached max_duration
  source_lost,   ///< a condition point's reading was not good (device not answering, bad data)
  stopped,       ///< the gateway stopped during it
};

/// Wire name of a TraceEnd ("condition", "max_duration", "source_lost", "stopped").
[[nodiscard]] const char* to_string(TraceEnd end) noexcept;

/// One finished capture.
struct CapturedTrace {
  struct Series {
    std::string point;
    std::string unit;
    std::vector<double> values;  ///< one per sample; NaN = no good sample (null on the wire)
  };
  std::string source;
  std::string type;  ///< the capture's name
  Timestamp start{};
  Timestamp end{};
  std::chrono::milliseconds interval{};
  TraceEnd end_reason = TraceEnd::condition;
  std::vector<Series> series;   ///< in config order, all of the same length
  std::vector<Reading> summary;  ///< summary points, then the summary record's fields

  /// Samples per point.
  [[nodiscard]] std::size_t samples() const noexcept {
    return series.empty() ? 0 : series.front().values.size();
  }
};

/// What the captures did, for health.
struct TraceCounters {
  std::uint64_t captured = 0;     ///< captures finished and handed over
  std::uint64_t samples = 0;      ///< readings placed in a slot
  std::uint64_t replaced = 0;     ///< readings that replaced (or lost to) a nearer one in their slot
  std::uint64_t missing = 0;      ///< null samples in finished captures
  std::uint64_t late = 0;         ///< readings older than their capture's start, not placed
  std::uint64_t unsummarised = 0; ///< captures handed over without their summary record
};

class TraceCapture {
 public:
  /// `traces`: the site's captures; copied.
  explicit TraceCapture(std::span<const config::TraceConfig> traces);

  /// True when no capture is declared (the Pipeline then skips this stage).
  [[nodiscard]] bool empty() const noexcept { return traces_.empty(); }

  /// Feeds the readings of one batch of `source`: conditions first, then samples and summary
  /// points. Removes from `readings` those that go to traces only (`telemetry: none`, or
  /// `outside` while a capture is open). Appends finished captures to `done`.
  void on_batch(const std::string& source, std::vector<Reading>& readings,
                std::vector<CapturedTrace>& done);

  /// A record of a source: the summary of its open or just-closed capture, if it is the
  /// declared `summary_record` (the record is still sent on `records` as well).
  void on_record(const Record& record, std::vector<CapturedTrace>& done);

  /// Closes captures that reached max_duration and hands over those whose summary_wait ended.
  void tick(Timestamp now, std::vector<CapturedTrace>& done);

  /// Closes every capture in progress (end reason `stopped`) and hands over those waiting for a
  /// summary record.
  void stop(Timestamp now, std::vector<CapturedTrace>& done);

  /// Captures open now.
  [[nodiscard]] std::size_t open() const noexcept;
  [[nodiscard]] const TraceCounters& counters() const noexcept { return counters_; }

 private:
  enum class Phase : std::uint8_t { idle, capturing, awaiting_summary };
  struct State {
    config::TraceConfig config;
    Phase phase = Phase::idle;
    bool start_held = false;  // the start condition held at its last reading (edge trigger)
    CapturedTrace trace;
    std::vector<std::int64_t> last_slot;  // per series; −1 before the first sample
    std::vector<double> last_distance;    // per series: |time − slot time| of the last slot's sample
    std::vector<std::optional<Reading>> summary_points;
    std::optional<Record> record;
    Timestamp summary_deadline{};
  };

  void evaluate_conditions(State& s, const Reading& r, std::vector<CapturedTrace>& done);
  void place(State& s, std::size_t series, const Reading& r, std::vector<CapturedTrace>& done);
  void open(State& s, Timestamp at);
  void close(State& s, TraceEnd why, Timestamp at, std::vector<CapturedTrace>& done);
  void hand_over(State& s, std::vector<CapturedTrace>& done);

  std::vector<State> traces_;
  TraceCounters counters_;
};

/// The `traces` messages of `trace`: chunks of consecutive samples, each body at most
/// `max_body_bytes` (a chunk holds at least one sample), priority `record`. Body:
/// "source","type","start","end","interval_ms","samples","end_reason","chunk","chunks","first",
/// "summary" (first chunk only), "points":[{"name","unit"?,"values":[…]},…]} — docs/telemetry.md.
[[nodiscard]] std::vector<PendingMessage> encode_trace(const CapturedTrace& trace,
                                                       std::size_t max_body_bytes);

}  // namespace guardian::gateway
