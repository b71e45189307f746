#pragma once
/// \file
/// The per-point pipeline between adapters and the queue: keeps the last value of every point
/// (for `guardian status`), applies edge processing (EdgeProcessor: deadband, aggregates,
/// counters), splits what remains into messages of at most max_readings_per_message and at most
/// uplink.max_message_bytes (with the envelope; lowered by set_max_message_bytes() when a broker
/// takes less) — alarm points in messages of their own, at alarm priority — encodes them and
/// submits them to the Outbox. What back-pressure refuses is counted here and reported by the Outbox as a gap.
///
///   adapter ─ReadingBatch─▶ Pipeline ─▶ last values
///                              └──▶ EdgeProcessor ─▶ encode_telemetry ─▶ Outbox::submit
///   tick timer (1 s) ─────────────▶ EdgeProcessor::tick ─▶ (window results, counters) ─┘
///   adapter batch / record / tick ─▶ TraceCapture ─▶ finished captures ─▶ encode_trace ─▶ Outbox
///                                   └─▶ counter state ─▶ Outbox::save_state
///
/// Runs on the io_context thread only.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/compact_payload.hpp"
#include "guardian/gateway/edge_processor.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/gateway/trace_capture.hpp"

namespace guardian::gateway {

struct PipelineCounters {
  std::uint64_t batches = 0;            ///< batches received from adapters
  std::uint64_t readings = 0;           ///< readings received
  std::uint64_t records = 0;            ///< records received
  std::uint64_t messages = 0;           ///< messages accepted for commit by the Outbox
  std::uint64_t readings_refused = 0;   ///< readings (and records) refused by back-pressure
  /// Refused readings per source: back-pressure reaching the adapters, counted where it bites.
  std::map<std::string, std::uint64_t> refused_by_source;
};

class Pipeline {
 public:
  /// `outbox` must outlive the pipeline. Edge-processing counters continue from the state the
  /// Outbox loaded (Outbox::saved_state()).
  Pipeline(boost::asio::io_context& io, const config::SiteConfig& site, Outbox& outbox);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Starts the edge-processing clock (aggregate windows, counter reports); without it windows
  /// close only when a reading of a later window arrives. Cancelled by stop() and destruction.
  void start();
  void stop();

  /// Takes one adapter batch (io_context thread).
  void on_batch(ReadingBatch&& batch);
  /// Takes one record (io_context thread).
  void on_record(Record&& record);
  /// Runs the edge-processing clock once at `now` (what the timer does every second).
  void tick(Timestamp now);

  /// Messages encoded from now on are at most `bytes` long with their envelope, and never more
  /// than uplink.max_message_bytes (the uplink calls this with the broker's limit).
  void set_max_message_bytes(std::uint64_t bytes);
  /// The bound on a body encoded now (max message bytes less the envelope).
  [[nodiscard]] std::size_t max_body_bytes() const noexcept { return max_body_bytes_; }

  /// Last reading of every point, by source then point name.
  using LastValues = std::map<std::string, std::map<std::string, Reading>>;
  [[nodiscard]] const LastValues& last_values() const noexcept { return last_; }
  [[nodiscard]] const PipelineCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const EdgeCounters& edge_counters() const noexcept { return edge_.counters(); }
  [[nodiscard]] const TraceCounters& trace_counters() const noexcept { return traces_.counters(); }
  /// Trace captures open now.
  [[nodiscard]] std::size_t open_traces() const noexcept { return traces_.open(); }

 private:
  void submit_readings(const std::string& source, std::vector<Reading>& readings);
  void submit_chunks(const std::string& source, std::span<const Reading> readings,
                     Priority priority);
  void submit_bounded(const std::string& source, std::span<const Reading> readings,
                      Priority priority);
  bool submit(PendingMessage message);
  void submit_traces();
  void arm_tick();

  Outbox& outbox_;
  const bool compact_;  // uplink.payload v2: schema messages and compact telemetry
  SchemaRegistry schemas_;
  std::set<std::string> unannounced_;  // sources whose schema message back-pressure refused
  std::size_t max_per_message_;
  const std::uint64_t configured_max_message_bytes_;
  const std::size_t envelope_overhead_;
  std::size_t max_body_bytes_;
  EdgeProcessor edge_;
  TraceCapture traces_;
  std::vector<CapturedTrace> finished_;
  boost::asio::steady_timer tick_timer_;
  bool ticking_ = false;
  LastValues last_;
  PipelineCounters counters_;
  std::vector<Reading> scratch_;
};

}  // namespace guardian::gateway
