#pragma once
/// \file
/// One scheduler per Modbus connection (DESIGN.md "one scheduler per bus"): a worker thread that
/// owns the connection's `modbus_t*` and polls every unit behind it in order of due time.
///
///   worker thread (one per connection)                         io_context thread
///   ──────────────────────────────────                         ─────────────────
///   ┌─► earliest unit in the due-time heap
///   │   wait until it is due (condition variable: stop wakes it)
///   │   connect if needed ──fails──► comm_fail batch for due units, connection back-off
///   │   per planned request: pacing → read (unit timeout, retries) → decode
///   │   one ReadingBatch per poll → outbox
///   │   outbox ≥ 2 ms old, or about to wait ── deliver(batches) ── post ──► ReadingSink(batch)…
///   └── reschedule: next slot of poll_interval, or now + the unit's back-off
///
/// A unit that does not answer only costs its own timeout once per back-off step, so the other
/// units on the connection keep their rhythm. Blocking libmodbus calls never hold a lock. The
/// outbox exists because waking the io_context costs more than a loopback Modbus round trip.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "guardian/adapters/adapter.hpp"
#include "guardian/adapters/modbus/read_planner.hpp"
#include "guardian/common/backoff.hpp"
#include "guardian/config/site_config.hpp"
#include "modbus_link.hpp"

namespace guardian::adapters::modbus {

/// Polls the units of one ModbusAdapterConfig over one ModbusLink on its own thread.
class ModbusBusScheduler {
 public:
  /// Called on the worker thread with the batches of one or more polls, oldest first; must not
  /// block (post them away). A batch is handed over at most ~2 ms after its poll, or before the
  /// worker waits for anything slower than that (a sleep, a connect, a slow or failing unit).
  using Deliver = std::function<void(std::vector<ReadingBatch>&&)>;

  /// `type` is the adapter type reported in health ("modbus-tcp").
  ModbusBusScheduler(config::ModbusAdapterConfig config, std::string type,
                     std::unique_ptr<ModbusLink> link, Deliver deliver);
  ~ModbusBusScheduler();
  ModbusBusScheduler(const ModbusBusScheduler&) = delete;
  ModbusBusScheduler& operator=(const ModbusBusScheduler&) = delete;

  /// Starts the worker thread (once; later calls do nothing).
  void start();
  /// Interrupts any wait, connect or request in progress and joins the worker. Idempotent and
  /// thread-safe; once it returns, deliver is never called again.
  void stop() noexcept;
  /// A snapshot of the connection's and every unit's counters. Thread-safe.
  [[nodiscard]] AdapterHealth health() const;

 private:
  using Clock = std::chrono::steady_clock;

  struct Unit {
    const config::ModbusDevice* device = nullptr;
    ReadPlan plan;
    Backoff backoff;
    Clock::time_point next_due{};
    SourceHealth health;     // worker-private; copied to published_ after each poll
    bool answering = false;  // last poll got answers: its round trip time predicts the next
    std::vector<std::string> unreadable_errors;  // one per plan.unreadable entry
  };

  // no_answer: timeouts or invalid answers on every attempt (the unit is failing);
  // link_lost: the connection itself is gone.
  enum class Outcome : std::uint8_t { ok, exception, no_answer, link_lost, stopped };
  struct RequestResult {
    Outcome outcome = Outcome::ok;
    int exception = 0;
    Timestamp arrived{};
    std::string error;

    [[nodiscard]] static RequestResult failed(Outcome outcome, std::string why = {}) {
      return {outcome, 0, {}, std::move(why)};
    }
  };

  void run();
  void poll(Unit& unit);
  [[nodiscard]] RequestResult transact(Unit& unit, const ReadRequest& request);
  [[nodiscard]] int issue(const ReadRequest& request);
  void decode(Unit& unit, const ReadRequest& request, Timestamp arrived,
              std::vector<Reading>& readings);
  void fail_due_units(Clock::time_point now, const std::string& error);
  void fail_all_points(const Unit& unit, Quality quality, const std::string& error, Timestamp ts);
  void select_unit(const Unit& unit);
  void record_rtt(Unit& unit, Clock::duration rtt);
  void publish(const Unit& unit);
  // Makes a request visible in health() while it is in flight (one counter, no copy).
  void publish_requests(const Unit& unit);
  void set_state(const char* state);
  [[nodiscard]] bool sleep_until(Clock::time_point deadline);
  void enqueue(ReadingBatch&& batch);
  void flush();
  // Flushes when the outbox is getting old or the next step may take `expected` or longer.
  void flush_before_waiting(Clock::duration expected);
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  [[nodiscard]] Unit& top() { return units_[heap_.front()]; }
  [[nodiscard]] bool due_later(std::size_t a, std::size_t b) const noexcept;
  void pop_top();
  void push(std::size_t index);

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
  const Unit* selected_unit_ = nullptr;  // unit whose id/timeout are set on the context
  bool flush_before_next_request_ = false;
  std::array<std::uint16_t, kMaxReadRegisters> registers_{};
  std::array<std::uint8_t, kMaxReadBits> bits_{};

  // Stop signalling.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mutex_;  // serialises start()/stop()
  std::thread worker_;

  // Published health.
  mutable std::mutex health_mutex_;
  std::string state_ = "stopped";
  std::vector<SourceHealth> published_;
};

}  // namespace guardian::adapters::modbus
