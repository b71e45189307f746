#include "bus_scheduler.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "guardian/adapters/modbus/modbus_client.hpp"
#include "guardian/adapters/modbus/register_codec.hpp"
#include "guardian/common/log.hpp"
#include "modbus_error.hpp"

namespace guardian::adapters::modbus {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Weight of the newest sample in the round-trip moving average.
constexpr double kRttWeight = 0.2;

// Batches reach the io_context in bunches: waking it costs more than a fast Modbus round trip
// (a post per poll cut one connection's request rate to a third), so a busy connection hands
// over what it has every kDeliveryDelay, and always before it waits for anything slower.
constexpr auto kDeliveryDelay = std::chrono::milliseconds{2};
constexpr std::size_t kMaxOutbox = 256;

// MBAP §7: exception 02, the addresses are not all valid in this unit.
constexpr int kIllegalDataAddress = 2;

[[nodiscard]] std::string range_text(config::RegisterTable table, std::uint32_t address,
                                     std::uint32_t count) {
  std::string text = table_name(table);
  text += count == 1 ? " " : "s ";
  text += std::to_string(address);
  if (count > 1) text += "-" + std::to_string(address + count - 1);
  return text;
}

[[nodiscard]] config::RegisterTable table_of(FunctionCode f) noexcept {
  switch (f) {
    case FunctionCode::read_coils:
    case FunctionCode::write_single_coil:
    case FunctionCode::write_multiple_coils:
      return config::RegisterTable::coil;
    case FunctionCode::read_discrete_inputs:
      return config::RegisterTable::discrete_input;
    case FunctionCode::read_input_registers:
      return config::RegisterTable::input_register;
    default:
      return config::RegisterTable::holding_register;
  }
}

// "reading holding registers 0-13", "writing holding register 14".
[[nodiscard]] std::string action_text(const ModbusRequest& r) {
  return std::string(is_read(r.function) ? "reading " : "writing ") +
         range_text(table_of(r.function), r.address, r.count);
}

// Why the planner could not fit a point into any request, for the technician.
[[nodiscard]] std::string unreadable_reason(const config::ModbusPoint& p, std::uint16_t limit) {
  const std::string where = std::string(table_name(p.table)) + " " + std::to_string(p.address) +
                            " (point '" + p.name + "')";
  const std::uint32_t width = span_in_table(p);
  if (width == 0) return "cannot read " + where + ": it spans no registers (string length 0)";
  if (width > limit)
    return "cannot read " + where + ": it spans " + std::to_string(width) +
           " registers, one request reads at most " + std::to_string(limit);
  return "cannot read " + where + ": it runs past address 65535";
}

void mark(std::vector<Reading>& readings, std::span<const std::size_t> points, Quality quality,
          const std::string& error, Timestamp ts) {
  for (const std::size_t index : points) {
    auto& r = readings[index];
    r.quality = quality;
    r.value = {};
    r.error = error;
    r.source_ts = ts;
  }
}

// The smallest request covering `points` of one table (a request's points, or a part of them).
[[nodiscard]] ReadRequest covering(config::RegisterTable table,
                                   std::span<const std::size_t> points,
                                   const std::vector<config::ModbusPoint>& all) {
  std::uint32_t first = 0xFFFFFFFFU;
  std::uint32_t end = 0;
  for (const std::size_t i : points) {
    first = std::min<std::uint32_t>(first, all[i].address);
    end = std::max<std::uint32_t>(end, std::uint32_t{all[i].address} + span_in_table(all[i]));
  }
  return ReadRequest{table, static_cast<std::uint16_t>(first),
                     static_cast<std::uint16_t>(end - first),
                     std::vector<std::size_t>(points.begin(), points.end())};
}

// The next slot of a fixed-rate schedule: deadline-based, so intervals do not drift with the
// time a poll takes; slots missed while the unit was slow are skipped, not bunched up.
[[nodiscard]] std::chrono::steady_clock::time_point next_slot(
    std::chrono::steady_clock::time_point due, milliseconds interval,
    std::chrono::steady_clock::time_point now) {
  if (interval.count() <= 0) return now;
  auto next = due + interval;
  if (next <= now) {
    const auto behind = now - next;
    next += interval * (behind / interval + 1);
  }
  return next;
}

[[nodiscard]] ReadPlanLimits limits_of(const config::ModbusCoalescing& c) {
  ReadPlanLimits l;
  l.max_registers = c.max_registers;
  l.max_bits = c.max_bits;
  l.max_register_gap = c.register_gap;
  l.max_bit_gap = c.bit_gap;
  return l;
}

}  // namespace

ModbusBusScheduler::ModbusBusScheduler(config::ModbusAdapterConfig config, std::string type,
                                       std::unique_ptr<ModbusLink> link, Deliver deliver)
    : config_(std::move(config)),
      type_(std::move(type)),
      link_(std::move(link)),
      deliver_(std::move(deliver)),
      connection_backoff_(config_.backoff_min, config_.backoff_max) {
  units_.reserve(config_.devices.size());
  published_.reserve(config_.devices.size());
  const auto now = Clock::now();
  for (const auto& device : config_.devices) {
    Unit unit;
    unit.device = &device;
    unit.limits = limits_of(device.coalescing);
    unit.backoff = Backoff(config_.backoff_min, config_.backoff_max);
    unit.next_due = now;
    unit.health.source = device.name;
    unit.health.state = "connecting";
    units_.push_back(std::move(unit));
    replan(units_.back());
    published_.push_back(units_.back().health);
  }
  heap_.reserve(units_.size());
  for (std::size_t i = 0; i < units_.size(); ++i) push(i);
}

ModbusBusScheduler::~ModbusBusScheduler() { stop(); }

void ModbusBusScheduler::start() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (worker_.joinable() || stopping()) return;
  set_state("connecting");
  worker_ = std::thread([this] { run(); });
}

void ModbusBusScheduler::stop() noexcept {
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  stopping_ = true;
  wake_.notify_all();
  link_->interrupt();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard lock(mutex_);
    writes_.clear();
  }
  set_state("stopped");
}

void ModbusBusScheduler::submit(WriteJob job) {
  {
    std::lock_guard lock(mutex_);
    if (stop_requested_) return;
    writes_.push_back(std::move(job));
    writes_pending_ = true;
  }
  wake_.notify_all();
}

AdapterHealth ModbusBusScheduler::health() const {
  AdapterHealth h;
  h.name = config_.name;
  h.type = type_;
  std::lock_guard lock(health_mutex_);
  h.state = state_;
  h.sources = published_;
  h.warnings = warnings_;
  return h;
}

bool ModbusBusScheduler::sleep_until(Clock::time_point deadline, bool wake_for_writes) {
  flush();
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, deadline,
                   [&] { return stop_requested_ || (wake_for_writes && !writes_.empty()); });
  return !stop_requested_;
}

bool ModbusBusScheduler::due_later(std::size_t a, std::size_t b) const noexcept {
  // std heaps are max-heaps: ordering "a below b" when a is due later keeps the earliest on top;
  // the index breaks ties so that equal due times are served in configuration order.
  const auto& ua = units_[a];
  const auto& ub = units_[b];
  return ua.next_due != ub.next_due ? ua.next_due > ub.next_due : a > b;
}

void ModbusBusScheduler::enqueue(ReadingBatch&& batch) {
  if (outbox_.empty()) outbox_since_ = Clock::now();
  outbox_.push_back(std::move(batch));
  if (outbox_.size() >= kMaxOutbox) flush();
}

void ModbusBusScheduler::flush() {
  if (outbox_.empty()) return;
  deliver_(std::move(outbox_));
  outbox_ = {};
}

void ModbusBusScheduler::flush_before_waiting(Clock::duration expected) {
  if (!outbox_.empty() &&
      (expected >= kDeliveryDelay || Clock::now() - outbox_since_ >= kDeliveryDelay))
    flush();
}

void ModbusBusScheduler::push(std::size_t index) {
  heap_.push_back(index);
  std::push_heap(heap_.begin(), heap_.end(),
                 [this](std::size_t a, std::size_t b) { return due_later(a, b); });
}

void ModbusBusScheduler::pop_top() {
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](std::size_t a, std::size_t b) { return due_later(a, b); });
  heap_.pop_back();
}

void ModbusBusScheduler::rebuild_heap() {
  std::make_heap(heap_.begin(), heap_.end(),
                 [this](std::size_t a, std::size_t b) { return due_later(a, b); });
}

void ModbusBusScheduler::run() {
  while (!stopping() && !heap_.empty()) {
    if (writes_pending()) {
      serve_writes();
      continue;
    }
    const auto now = Clock::now();
    if (!link_->connected() && now < reconnect_at_) {
      (void)sleep_until(reconnect_at_, true);
      continue;
    }
    if (top().next_due > now) {
      (void)sleep_until(top().next_due, true);
      continue;
    }
    if (!link_->connected()) {
      set_state("connecting");
      flush();
      auto connected = link_->connect(config_.connect_timeout);
      if (!connected) {
        if (stopping()) break;
        const auto delay = connection_backoff_.next();
        reconnect_at_ = Clock::now() + delay;
        fail_due_units(now, connected.error().message + " (retrying in " +
                                std::to_string(delay.count()) + " ms)");
        set_state("backoff");
        continue;
      }
      connection_backoff_.reset();
      {
        std::lock_guard lock(health_mutex_);
        warnings_ = link_->warnings();
      }
      for (const auto& warning : warnings_) log::warn("modbus", config_.name + ": " + warning);
      set_state("running");
    }
    const std::size_t index = heap_.front();
    pop_top();
    poll(units_[index]);
    push(index);
  }
}

bool ModbusBusScheduler::ensure_connected(Unit& unit, RequestResult& failure) {
  if (link_->connected()) return true;
  flush();
  auto connected = link_->connect(config_.connect_timeout);
  if (connected) return true;
  ++unit.health.errors;
  failure = RequestResult::failed(stopping() ? Outcome::stopped : Outcome::link_lost,
                                  connected.error().message, connected.error().code.value());
  return false;
}

void ModbusBusScheduler::record_rtt(Unit& unit, Clock::duration rtt) {
  const double ms = std::chrono::duration<double, std::milli>(rtt).count();
  auto& h = unit.health;
  h.rtt_ms_avg = h.responses <= 1 ? ms : h.rtt_ms_avg + kRttWeight * (ms - h.rtt_ms_avg);
  h.rtt_ms_last = ms;
}

ModbusBusScheduler::RequestResult ModbusBusScheduler::transact(Unit& unit,
                                                               const ModbusRequest& request,
                                                               const ModbusReply& reply) {
  auto& h = unit.health;
  const int attempts = 1 + std::max(0, unit.device->retries);
  bool resynchronised_once = false;
  std::string last_failure;
  int last_code = 0;
  for (int attempt = 0; attempt < attempts;) {
    if (stopping()) return RequestResult::failed(Outcome::stopped);
    if (RequestResult failure; !ensure_connected(unit, failure)) return failure;
    if (config_.pacing.count() > 0 && !sleep_until(last_request_end_ + config_.pacing, false))
      return RequestResult::failed(Outcome::stopped);
    // A healthy unit answers in about its usual round trip; a failing one may take its timeout.
    flush_before_waiting(unit.answering
                             ? std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double, std::milli>(2.0 * h.rtt_ms_avg))
                             : std::chrono::duration_cast<Clock::duration>(unit.device->timeout));
    ++h.requests;
    publish_requests(unit);
    const auto sent = Clock::now();
    auto done = link_->transact(request, reply, unit.device->timeout);
    last_request_end_ = Clock::now();
    if (done) {
      ++h.responses;
      record_rtt(unit, last_request_end_ - sent);
      return {Outcome::ok, 0, 0, now_ms(), {}};
    }
    if (stopping()) return RequestResult::failed(Outcome::stopped);
    const int error = done.error().code.value();
    last_code = error;
    const int code = exception_code(error);
    if (is_gateway_silence(code)) {
      // A Modbus gateway answering for the unit behind it: the unit is as silent as one that
      // timed out, and is retried and failed the same way.
      ++h.timeouts;
      ++h.counters[exception_counter(code)];
      last_failure = describe_exception(code) + " (the Modbus gateway answered for the unit)";
      ++attempt;
      continue;
    }
    if (code != 0) {
      // An exception response is an answer: the unit is alive, these addresses are not.
      ++h.responses;
      ++h.errors;
      ++h.counters[exception_counter(code)];
      ++unit.exceptions;
      record_rtt(unit, last_request_end_ - sent);
      return {Outcome::exception, code, error, now_ms(), describe_exception(code)};
    }
    if (error == ETIMEDOUT) {
      ++h.timeouts;
      last_failure = "timeout after " + std::to_string(unit.device->timeout.count()) + " ms";
      ++attempt;
      continue;
    }
    ++h.errors;
    if (is_protocol_error(error)) {
      // A CRC error (noise on the line), the late answer of a unit that had timed out, an
      // answer out of step: bring the stream back into step and ask again.
      ++h.counters["protocol_errors"];
      if (error == EMBBADCRC) ++h.counters["crc_errors"];
      last_failure = "invalid response (" + done.error().message + ")";
      link_->resynchronise();
    } else {
      // The connection itself failed (reset, closed by the peer, serial port gone).
      link_->close();
      if (resynchronised_once)
        return RequestResult::failed(
            Outcome::link_lost, "connection to " + link_->peer() + " lost: " + done.error().message,
            error);
    }
    // A device that drops idle connections, or one noisy frame, deserves one immediate fresh
    // attempt before anyone is told.
    if (!resynchronised_once) {
      resynchronised_once = true;
      continue;
    }
    ++attempt;
  }
  return RequestResult::failed(Outcome::no_answer,
                               last_failure + " (" + std::to_string(attempts) +
                                   (attempts == 1 ? " attempt)" : " attempts)"),
                               last_code);
}

void ModbusBusScheduler::decode(Unit& unit, const ReadRequest& request, Timestamp arrived,
                                std::vector<Reading>& readings) {
  const auto& points = unit.device->points;
  const bool bit_table = is_bit_table(request.table);
  for (const std::size_t index : request.points) {
    const auto& point = points[index];
    const std::size_t offset = point.address - request.address;
    auto value = bit_table ? decode_bit(point, bits_[offset] != 0)
                           : decode_registers(
                                 point, std::span<const std::uint16_t>(registers_.data() + offset,
                                                                       request.count - offset));
    Reading& r = readings[index];
    r.source_ts = arrived;
    if (value) {
      r.value = std::move(value).value();
      r.quality = Quality::good;
      r.error.clear();
    } else {
      r.quality = Quality::bad;
      r.error = std::move(value).error().message;
      ++unit.health.errors;
      ++unit.health.counters["decode_errors"];
      unit.health.last_error = r.error;
    }
  }
}

bool ModbusBusScheduler::read_points(Unit& unit, const ReadRequest& request,
                                     std::vector<Reading>& readings, RequestResult& failure) {
  const auto& all = unit.device->points;
  const auto unit_id = static_cast<std::uint8_t>(unit.device->unit_id);
  const auto table = request.table;
  const std::span<const std::size_t> points = request.points;
  const ModbusRequest modbus_request{unit_id, read_function(table), request.address, request.count,
                                     {}, {}};
  auto result = transact(unit, modbus_request, ModbusReply{registers_, bits_});
  const auto single = points.size() == 1 ? unit.refused_points.find(points[0])
                                         : unit.refused_points.end();
  switch (result.outcome) {
    case Outcome::ok:
      decode(unit, request, result.arrived, readings);
      if (single != unit.refused_points.end()) {
        // A point it refused is answered now (a module fitted, a firmware update): read it with
        // its neighbours again.
        const auto& p = all[points[0]];
        const std::uint32_t end = std::uint32_t{p.address} + span_in_table(p);
        std::erase_if(unit.refused, [&](const AddressRange& r) {
          return r.table == p.table && r.first < end && r.last >= p.address;
        });
        unit.refused_points.erase(single);
        unit.needs_replan = true;
        log::info("modbus", unit.device->name + ": unit " + std::to_string(unit_id) +
                                " answers " + range_text(table, request.address, request.count) +
                                " again; re-planned");
      }
      return true;
    case Outcome::exception: {
      const std::string error = result.error + ": unit " + std::to_string(unit_id) +
                                " refused " + action_text(modbus_request);
      if (result.exception != kIllegalDataAddress || points.size() == 1) {
        mark(readings, points, Quality::bad, error, result.arrived);
        unit.health.last_error = error;
        if (result.exception == kIllegalDataAddress) {
          // This point's own addresses are refused: remember them, so that no request bridges
          // them, and ask again only now and then.
          const auto& p = all[points[0]];
          const AddressRange range{table, request.address,
                                   static_cast<std::uint16_t>(request.address + request.count - 1)};
          const bool known = single != unit.refused_points.end();
          unit.refused_points[points[0]] = {error, result.arrived,
                                            Clock::now() + config_.backoff_max};
          if (!known) {
            unit.refused.push_back(range);
            unit.needs_replan = true;
            log::info("modbus", unit.device->name + ": point '" + p.name + "' is refused (" +
                                    error + "); asked again every " +
                                    std::to_string(config_.backoff_max.count()) + " ms");
          }
        }
        return true;
      }
      // Exception 02 for a coalesced request: one of its points, or the hole between two of
      // them, is an address the unit does not have. Bisect to find which; the other points
      // are read in this same poll.
      ++unit.health.counters["refused_splits"];
      const std::size_t mid = points.size() / 2;
      const auto left = points.first(mid);
      const auto right = points.subspan(mid);
      const auto exceptions_before = unit.exceptions;
      const auto l = covering(table, left, all);
      const auto r = covering(table, right, all);
      if (!read_points(unit, l, readings, failure)) {
        mark(readings, right, Quality::comm_fail, failure.error, now_ms());
        return false;
      }
      if (!read_points(unit, r, readings, failure)) return false;
      if (unit.exceptions == exceptions_before) {
        // Both halves were answered in full: the unit refuses the addresses between them, or a
        // request as long as the whole.
        const std::uint32_t hole_first = std::uint32_t{l.address} + l.count;
        if (r.address > hole_first) {
          const AddressRange hole{table, static_cast<std::uint16_t>(hole_first),
                                  static_cast<std::uint16_t>(r.address - 1)};
          unit.refused.push_back(hole);
          log::info("modbus", unit.device->name + ": unit " + std::to_string(unit_id) +
                                  " refuses " +
                                  range_text(table, hole.first, hole.last - hole.first + 1u) +
                                  " (exception 02); requests no longer bridge them");
        } else if (auto& limit =
                       is_bit_table(table) ? unit.limits.max_bits : unit.limits.max_registers;
                   std::max(l.count, r.count) < limit) {
          limit = std::max(l.count, r.count);
          unit.health.counters["max_request_learned"] = limit;
          log::info("modbus", unit.device->name + ": unit " + std::to_string(unit_id) +
                                  " refuses reading " + std::to_string(request.count) + " " +
                                  table_name(table) + "s at once (exception 02); requests now " +
                                  "read at most " + std::to_string(limit));
        }
        unit.needs_replan = true;
      }
      return true;
    }
    case Outcome::stopped:
      failure = std::move(result);
      return false;
    case Outcome::no_answer:
    case Outcome::link_lost:
      if (result.outcome == Outcome::no_answer)
        result.error += ": unit " + std::to_string(unit_id) + " did not answer " +
                        action_text(modbus_request);
      failure = std::move(result);
      mark(readings, points, Quality::comm_fail, failure.error, now_ms());
      return false;
  }
  return true;
}

void ModbusBusScheduler::replan(Unit& unit) {
  unit.needs_replan = false;
  unit.plan = plan_reads(unit.device->points, unit.limits, unit.refused);
  unit.unreadable_errors.clear();
  for (const std::size_t index : unit.plan.unreadable)
    unit.unreadable_errors.push_back(
        unreadable_reason(unit.device->points[index],
                          is_bit_table(unit.device->points[index].table)
                              ? unit.limits.max_bits
                              : unit.limits.max_registers));
  // Shown once something was learned, and kept current when a range is forgotten again.
  if (!unit.refused.empty() || unit.health.counters.contains("refused_ranges"))
    unit.health.counters["refused_ranges"] = unit.refused.size();
}

void ModbusBusScheduler::fail_all_points(const Unit& unit, Quality quality,
                                         const std::string& error, Timestamp ts) {
  ReadingBatch batch{unit.device->name, {}};
  batch.readings.reserve(unit.device->points.size());
  for (const auto& point : unit.device->points)
    batch.readings.push_back(
        Reading{unit.device->name, point.name, {}, point.unit, quality, ts, error});
  enqueue(std::move(batch));
}

void ModbusBusScheduler::fail_due_units(Clock::time_point now, const std::string& error) {
  const auto ts = now_ms();
  for (auto& unit : units_) {
    if (unit.next_due > now) continue;
    ++unit.health.errors;
    unit.health.last_error = error;
    unit.health.state = "connecting";
    fail_all_points(unit, Quality::comm_fail, error, ts);
    // Poll it as soon as the connection is back.
    unit.next_due = reconnect_at_;
    publish(unit);
  }
  rebuild_heap();
}

void ModbusBusScheduler::poll(Unit& unit) {
  const auto& device = *unit.device;
  auto& h = unit.health;
  ReadingBatch batch{device.name, {}};
  batch.readings.resize(device.points.size());
  for (std::size_t i = 0; i < device.points.size(); ++i) {
    auto& r = batch.readings[i];
    r.source = device.name;
    r.point = device.points[i].name;
    r.unit = device.points[i].unit;
  }

  RequestResult failure;
  for (const auto& request : unit.plan.requests) {
    if (writes_pending()) serve_writes();  // writes go first, also between a poll's requests
    if (failure.outcome != Outcome::ok) {
      mark(batch.readings, request.points, Quality::comm_fail, failure.error, now_ms());
      continue;
    }
    if (request.points.size() == 1) {
      const auto refused = unit.refused_points.find(request.points[0]);
      if (refused != unit.refused_points.end() && Clock::now() < refused->second.next_probe) {
        mark(batch.readings, request.points, Quality::bad, refused->second.error,
             refused->second.answered);
        continue;
      }
    }
    if (!read_points(unit, request, batch.readings, failure) &&
        failure.outcome == Outcome::stopped)
      return;  // nobody listens any more
  }
  for (std::size_t i = 0; i < unit.plan.unreadable.size(); ++i) {
    auto& r = batch.readings[unit.plan.unreadable[i]];
    r.quality = Quality::bad;
    r.error = unit.unreadable_errors[i];
    r.source_ts = now_ms();
  }
  // What this poll learned (refused addresses, a shorter request limit) shapes the next one.
  if (unit.needs_replan) replan(unit);

  const auto now = Clock::now();
  switch (failure.outcome) {
    case Outcome::ok:
    case Outcome::exception:
      ++h.polls;
      h.last_ok = now_ms();
      h.state = "ok";
      unit.backoff.reset();
      unit.next_due = next_slot(unit.next_due, device.poll_interval, now);
      break;
    case Outcome::no_answer:
      h.last_error = failure.error;
      h.state = "comm_fail";
      // A dead unit is retried with back-off so it cannot eat the connection's time.
      unit.next_due =
          std::max(next_slot(unit.next_due, device.poll_interval, now), now + unit.backoff.next());
      break;
    default:
      h.last_error = failure.error;
      h.state = "connecting";
      reconnect_at_ = now + connection_backoff_.next();
      unit.next_due = reconnect_at_;
      set_state("backoff");
      break;
  }
  unit.answering = failure.outcome == Outcome::ok;
  publish(unit);
  enqueue(std::move(batch));
}

void ModbusBusScheduler::serve_writes() {
  while (!stopping()) {
    WriteJob job;
    {
      std::lock_guard lock(mutex_);
      if (writes_.empty()) {
        writes_pending_ = false;
        return;
      }
      job = std::move(writes_.front());
      writes_.pop_front();
      writes_pending_ = !writes_.empty();
    }
    execute(job);
  }
}

void ModbusBusScheduler::execute(WriteJob& job) {
  Unit& unit = units_[job.device];
  const auto transact_once = [&](const ModbusRequest& request,
                                 const ModbusReply& reply) -> result<void> {
    auto r = transact(unit, request, reply);
    switch (r.outcome) {
      case Outcome::ok:
        return outcome::success();
      case Outcome::exception:
        return libmodbus_error(r.error_code, r.error);
      case Outcome::stopped:
        return libmodbus_error(ECANCELED, "the adapter is stopping");
      default:
        return libmodbus_error(r.error_code != 0 ? r.error_code : EIO, r.error);
    }
  };
  flush();  // readings already polled should not wait behind a write
  auto outcome = execute_write(std::move(job.write), static_cast<std::uint8_t>(unit.device->unit_id),
                               job.readback, transact_once);
  if (stopping()) return;
  ++unit.health.counters["writes"];
  if (!outcome.ok) {
    ++unit.health.counters["write_failures"];
    unit.health.last_error = outcome.error;
  }
  publish(unit);
  job.done(std::move(outcome));
}

void ModbusBusScheduler::publish(const Unit& unit) {
  const auto index = static_cast<std::size_t>(&unit - units_.data());
  std::lock_guard lock(health_mutex_);
  // Assignment reuses the published strings' and map's storage: no allocation in steady state.
  published_[index] = unit.health;
}

void ModbusBusScheduler::publish_requests(const Unit& unit) {
  const auto index = static_cast<std::size_t>(&unit - units_.data());
  std::lock_guard lock(health_mutex_);
  published_[index].requests = unit.health.requests;
}

void ModbusBusScheduler::set_state(const char* state) {
  std::lock_guard lock(health_mutex_);
  state_ = state;
}

}  // namespace guardian::adapters::modbus
