#pragma once
/// \file
/// Edge processing per point (config::PointProcessing, docs/configuration.md "processing"), before
/// the queue:
///
///   reading ─▶ rule for (source, point)? ──no──▶ sent as is
///                 │ deadband  ─▶ sent when it moved more than the deadband, its quality changed,
///                 │              or the heartbeat is due; otherwise suppressed
///                 │ aggregate ─▶ folded into the current window; tick() or a reading of a later
///                 │              window closes it ─▶ "<point>.min|max|mean|count|last"
///                 └ counters  ─▶ changes / cycles / run time updated; every counter interval
///                                tick() reports "<point>.changes|cycles|run_hours"
///
/// Pure and synchronous: time comes only from the readings' source timestamps and from the `now`
/// given to tick() (tests drive it with a fake clock). Not thread-safe; the Pipeline uses it on
/// the io_context thread.
///
/// Aggregate windows are aligned on the UTC clock (a 1m window runs from hh:mm:00.000 to
/// hh:mm:59.999), stamped with their start, and closed kWindowGrace after their end so that a
/// reading a little late still counts. min, max and mean are over the good numeric readings of
/// the window, count is the number of good readings, last is the last reading whatever its
/// quality. A reading older than the open window is counted in the open window.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/config/processing_config.hpp"

namespace guardian::gateway {

/// What edge processing did, for health.
struct EdgeCounters {
  std::uint64_t suppressed = 0;       ///< readings not sent because of a deadband
  std::uint64_t aggregated = 0;       ///< readings folded into aggregate windows
  std::uint64_t windows = 0;          ///< aggregate windows closed
  std::uint64_t counter_reports = 0;  ///< counter readings produced
};

class EdgeProcessor {
 public:
  /// How long after its end a window waits for late readings before tick() closes it.
  static constexpr std::chrono::milliseconds kWindowGrace{1000};

  /// `rules`: at most one per (source, point). `saved`: counter state from save_state() of an
  /// earlier run (keys "counters/<source>/<point>"), so that counters survive restarts.
  explicit EdgeProcessor(std::span<const config::PointProcessing> rules,
                         const std::map<std::string, std::string>& saved = {});
  EdgeProcessor(const EdgeProcessor&) = delete;
  EdgeProcessor& operator=(const EdgeProcessor&) = delete;

  /// True when no rule exists (the Pipeline then skips processing entirely).
  [[nodiscard]] bool empty() const noexcept { return points_.empty(); }

  /// Processes one reading; appends what is to be sent now (the reading itself, or nothing) to
  /// `out`. Closing an aggregate window may append its results too.
  void process(const Reading& reading, std::vector<Reading>& out);

  /// Closes the aggregate windows that ended kWindowGrace before `now` and reports the counters
  /// that are due, appending their readings to `out`.
  void tick(Timestamp now, std::vector<Reading>& out);

  /// Whether readings of (source, point) are alarms (config priority: alarm).
  [[nodiscard]] bool is_alarm(const std::string& source, const std::string& point) const;

  /// Counter state changed since the last call (for Outbox::save_state), and forgets it.
  [[nodiscard]] std::map<std::string, std::string> take_state_changes();

  [[nodiscard]] const EdgeCounters& counters() const noexcept { return counters_; }

 private:
  struct Window {
    Timestamp start{};
    std::uint64_t good = 0;
    double min = 0, max = 0, sum = 0;
    std::uint64_t numeric = 0;
    std::optional<Reading> last;
  };
  struct CounterState {
    std::uint64_t changes = 0;
    std::uint64_t cycles = 0;
    std::int64_t on_ms = 0;
    std::optional<Value> last_value;
    bool last_on = false;
    Timestamp last_ts{};
    std::optional<Timestamp> next_report;
    std::string unit_hint;
  };
  struct PointState {
    const config::PointProcessing* rule = nullptr;
    std::optional<Reading> last_sent;  // deadband
    std::optional<Window> window;      // aggregate
    CounterState counter;              // counters
  };

  bool deadband_passes(PointState& p, const Reading& r);
  void fold(PointState& p, const Reading& r, std::vector<Reading>& out);
  void close_window(PointState& p, const std::string& source, const std::string& point,
                    std::vector<Reading>& out);
  void count(PointState& p, const Reading& r);
  void report_counters(PointState& p, const std::string& source, const std::string& point,
                       Timestamp now, std::vector<Reading>& out);

  std::vector<config::PointProcessing> rules_;
  // source → point → state (heterogeneous lookup: no allocation per reading).
  std::map<std::string, std::map<std::string, PointState, std::less<>>, std::less<>> points_;
  std::map<std::string, std::string> state_changes_;
  EdgeCounters counters_;
};

}  // namespace guardian::gateway
