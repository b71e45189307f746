#pragma once
/// \file
/// The per-point pipeline between adapters and the queue: keeps the last value of every point
/// (for `guardian status`), splits batches into messages of at most max_readings_per_message,
/// encodes them and submits them to the Outbox. What back-pressure refuses is never silently
/// lost: it is counted per source and reported as a gap message as soon as the queue accepts again.
///
///   adapter ─ReadingBatch─▶ Pipeline ─▶ last values
///                              └──────▶ encode_telemetry ─▶ Outbox::submit ─(refused)─▶ GapTracker
///                                                                                      │
///                          next successful submit ◀── gap message (priority alarm) ◀───┘
///
/// Runs on the io_context thread only.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/outbox.hpp"

namespace guardian::gateway {

struct PipelineCounters {
  std::uint64_t batches = 0;            ///< batches received from adapters
  std::uint64_t readings = 0;           ///< readings received
  std::uint64_t records = 0;            ///< records received
  std::uint64_t messages = 0;           ///< messages accepted for commit by the Outbox
  std::uint64_t readings_refused = 0;   ///< readings refused by back-pressure (reported as gaps)
  std::uint64_t gaps_reported = 0;      ///< gap messages submitted
};

/// What was refused for one source, waiting to be reported.
struct PendingGap {
  std::uint64_t count = 0;
  Timestamp from{};
  Timestamp to{};
  std::vector<std::string> points;  ///< distinct point names (or record types), capped
};

class Pipeline {
 public:
  Pipeline(const config::SiteConfig& site, Outbox& outbox);

  /// Takes one adapter batch (io_context thread).
  void on_batch(ReadingBatch&& batch);
  /// Takes one record (io_context thread).
  void on_record(Record&& record);

  /// Last reading of every point, by source then point name.
  using LastValues = std::map<std::string, std::map<std::string, Reading>>;
  [[nodiscard]] const LastValues& last_values() const noexcept { return last_; }
  [[nodiscard]] const PipelineCounters& counters() const noexcept { return counters_; }

 private:
  bool submit(PendingMessage message);
  void refuse(const std::string& source, const std::string& what, std::uint64_t count,
              Timestamp from, Timestamp to);
  void report_pending_gaps();

  Outbox& outbox_;
  std::size_t max_per_message_;
  LastValues last_;
  std::map<std::string, PendingGap> gaps_;
  PipelineCounters counters_;
};

}  // namespace guardian::gateway
