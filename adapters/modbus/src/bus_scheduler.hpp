#pragma once
/// \file
/// One scheduler per bus (DESIGN.md): a worker thread that owns the connection — a Modbus TCP
/// peer, an RS-485 line, or an RTU-over-TCP converter — and serves every unit behind it from
/// one queue: writes first, then the unit whose poll is due earliest.
///
///   worker thread (one per connection)                         io_context thread
///   ──────────────────────────────────                         ─────────────────
///   ┌─► writes queued? ──► each: encode · RMW · write · read back ── post ──► WriteHandler
///   │   earliest unit in the due-time heap
///   │   wait until it is due (condition variable: stop or a write wakes it)
///   │   connect if needed ──fails──► comm_fail batch for due units, connection back-off
///   │   per planned request: writes first · pacing · transact (unit timeout, retries) · decode
///   │      exception 02 on a coalesced request ──► bisect, remember the refused range, re-plan
///   │   one ReadingBatch per poll → outbox
///   │   outbox ≥ 2 ms old, or about to wait ── deliver(batches) ── post ──► ReadingSink(batch)…
///   └── reschedule: next slot of poll_interval, or now + the unit's back-off
///
/// A unit that does not answer only costs its own timeout once per back-off step, so the other
/// units on the connection keep their rhythm. Blocking I/O never holds a lock. The outbox exists
/// because waking the io_context costs more than a loopback Modbus round trip.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "guardian/adapters/adapter.hpp"
#include "guardian/adapters/modbus/modbus_write.hpp"
#include "guardian/adapters/modbus/read_planner.hpp"
#include "guardian/common/backoff.hpp"
#include "guardian/config/site_config.hpp"
#include "modbus_link.hpp"

namespace guardian::adapters::modbus {

/// A write waiting for the bus.
struct WriteJob {
  std::size_t device = 0;  ///< index into ModbusAdapterConfig::devices
  PreparedWrite write;
  bool readback = false;
  /// Called once on the worker thread with the outcome; must not block (post it away).
  std::function<void(WriteOutcome&&)> done;
};

/// Polls the units of one ModbusAdapterConfig over one ModbusLink on its own thread.
class ModbusBusScheduler {
 public:
  /// Called on the worker thread with the batches of one or more polls, oldest first; must not
  /// block (post them away). A batch is handed over at most ~2 ms after its poll, or before the
  /// worker waits for anything slower than that (a sleep, a connect, a slow or failing unit).
  using Deliver = std::function<void(std::vector<ReadingBatch>&&)>;

  /// `type` is the adapter type reported in health ("modbus-tcp", "modbus-rtu" …).
  ModbusBusScheduler(config::ModbusAdapterConfig config, std::string type,
                     std::unique_ptr<ModbusLink> link, Deliver deliver);
  ~ModbusBusScheduler();
  ModbusBusScheduler(const ModbusBusScheduler&) = delete;
  ModbusBusScheduler& operator=(const ModbusBusScheduler&) = delete;

  /// Starts the worker thread (once; later calls do nothing).
  void start();
  /// Interrupts any wait, connect or request in progress and joins the worker. Queued writes
  /// are dropped without their `done` being called. Idempotent and thread-safe; once it
  /// returns, deliver and every `done` are never called again.
  void stop() noexcept;
  /// Queues a write; it goes out before the next poll request, on the unit's timeout and
  /// retries. Thread-safe. Dropped (done not called) when the scheduler is stopping.
  void submit(WriteJob job);
  /// A snapshot of the connection's and every unit's counters. Thread-safe.
  [[nodiscard]] AdapterHealth health() const;

 private:
  using Clock = std::chrono::steady_clock;

  /// A point the unit refused on its own (exception 02): asked again every backoff_max only.
  struct RefusedPoint {
    std::string error;
    Timestamp answered{};
    Clock::time_point next_probe{};
  };

  struct Unit {
    const config::ModbusDevice* device = nullptr;
    ReadPlanLimits limits;
    std::vector<AddressRange> refused;  // learned from exception 02
    ReadPlan plan;
    std::vector<std::string> unreadable_errors;  // one per plan.unreadable entry
    std::map<std::size_t, RefusedPoint> refused_points;  // by point index
    Backoff backoff{std::chrono::milliseconds{1000}, std::chrono::milliseconds{60000}};
    Clock::time_point next_due{};
    SourceHealth health;     // worker-private; copied to published_ after each poll
    bool answering = false;  // last poll got answers: its round trip time predicts the next
    bool needs_replan = false;     // learned something this poll: plan again after it
    std::uint64_t exceptions = 0;  // exception responses received
  };

  // no_answer: timeouts or invalid answers on every attempt (the unit is failing);
  // link_lost: the connection itself is gone.
  enum class Outcome : std::uint8_t { ok, exception, no_answer, link_lost, stopped };
  struct RequestResult {
    Outcome outcome = Outcome::ok;
    int exception = 0;
    int error_code = 0;  // libmodbus errno of the last failure
    Timestamp arrived{};
    std::string error;

    [[nodiscard]] static RequestResult failed(Outcome outcome, std::string why = {},
                                              int code = 0) {
      return {outcome, 0, code, {}, std::move(why)};
    }
  };

  void run();
  void poll(Unit& unit);
  // Reads `request` (its points ascending by address); on exception 02 with several points,
  // bisects them. Returns false when the unit or the link failed (the points are then marked
  // comm_fail and `failure` says why).
  [[nodiscard]] bool read_points(Unit& unit, const ReadRequest& request,
                                 std::vector<Reading>& readings, RequestResult& failure);
  void replan(Unit& unit);
  [[nodiscard]] RequestResult transact(Unit& unit, const ModbusRequest& request,
                                       const ModbusReply& reply);
  void decode(Unit& unit, const ReadRequest& request, Timestamp arrived,
              std::vector<Reading>& readings);
  void serve_writes();
  void execute(WriteJob& job);
  void fail_due_units(Clock::time_point now, const std::string& error);
  void fail_all_points(const Unit& unit, Quality quality, const std::string& error, Timestamp ts);
  void record_rtt(Unit& unit, Clock::duration rtt);
  void publish(const Unit& unit);
  // Makes a request visible in health() while it is in flight (one counter, no copy).
  void publish_requests(const Unit& unit);
  void set_state(const char* state);
  // Waits until `deadline`; false when stopping. With `wake_for_writes`, also returns (true)
  // as soon as a write is queued.
  [[nodiscard]] bool sleep_until(Clock::time_point deadline, bool wake_for_writes);
  [[nodiscard]] bool ensure_connected(Unit& unit, RequestResult& failure);
  void enqueue(ReadingBatch&& batch);
  void flush();
  // Flushes when the outbox is getting old or the next step may take `expected` or longer.
  void flush_before_waiting(Clock::duration expected);
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool writes_pending() const noexcept {
    return writes_pending_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] Unit& top() { return units_[heap_.front()]; }
  [[nodiscard]] bool due_later(std::size_t a, std::size_t b) const noexcept;
  void pop_top();
  void push(std::size_t index);
  void rebuild_heap();

  config::ModbusAdapterConfig config_;
  std::string type_;
  std::unique_ptr<ModbusLink> link_;
  Deliver deliver_;

  // Worker-thread state.
  std::vector<Unit> units_;
  std::vector<std::size_t> heap_;  // indices into units_, min-heap on (next_due, index)
  Backoff connection_backoff_;
  Clock::time_point reconnect_at_{};
  Clock::time_point last_request_end_{};
  std::vector<ReadingBatch> outbox_;  // batches not yet handed to deliver_
  Clock::time_point outbox_since_{};
  std::array<std::uint16_t, kMaxReadRegisters> registers_{};
  std::array<std::uint8_t, kMaxReadBits> bits_{};

  // Stop and write signalling.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;  // guarded by mutex_
  std::deque<WriteJob> writes_;  // guarded by mutex_
  std::atomic<bool> writes_pending_{false};
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mutex_;  // serialises start()/stop()
  std::thread worker_;

  // Published health.
  mutable std::mutex health_mutex_;
  std::string state_ = "stopped";
  std::vector<SourceHealth> published_;
  std::vector<std::string> warnings_;
};

}  // namespace guardian::adapters::modbus
