#include "bus_scheduler.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "guardian/adapters/modbus/register_codec.hpp"
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

[[nodiscard]] std::string range_text(const ReadRequest& r) {
  std::string text = table_name(r.table);
  text += r.count == 1 ? " " : "s ";
  text += std::to_string(r.address);
  if (r.count > 1) text += "-" + std::to_string(r.address + r.count - 1);
  return text;
}

// Why the planner could not fit a point into any request, for the technician.
[[nodiscard]] std::string unreadable_reason(const config::ModbusPoint& p) {
  const std::string where = std::string(table_name(p.table)) + " " + std::to_string(p.address) +
                            " (point '" + p.name + "')";
  const std::uint32_t width = span_in_table(p);
  if (width == 0) return "cannot read " + where + ": it spans no registers (string length 0)";
  if (width > kMaxReadRegisters)
    return "cannot read " + where + ": it spans " + std::to_string(width) +
           " registers, one request reads at most " + std::to_string(kMaxReadRegisters);
  return "cannot read " + where + ": it runs past address 65535";
}

// Marks every point a request serves with a quality other than good.
void mark(std::vector<Reading>& readings, const ReadRequest& request, Quality quality,
          const std::string& error, Timestamp ts) {
  for (const std::size_t index : request.points) {
    auto& r = readings[index];
    r.quality = quality;
    r.error = error;
    r.source_ts = ts;
  }
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
    Unit unit{&device,
              plan_reads(device.points),
              Backoff(config_.backoff_min, config_.backoff_max),
              now,
              {}};
    for (const std::size_t index : unit.plan.unreadable)
      unit.unreadable_errors.push_back(unreadable_reason(device.points[index]));
    unit.health.source = device.name;
    unit.health.state = "connecting";
    published_.push_back(unit.health);
    units_.push_back(std::move(unit));
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
  set_state("stopped");
}

AdapterHealth ModbusBusScheduler::health() const {
  AdapterHealth h;
  h.name = config_.name;
  h.type = type_;
  std::lock_guard lock(health_mutex_);
  h.state = state_;
  h.sources = published_;
  return h;
}

bool ModbusBusScheduler::sleep_until(Clock::time_point deadline) {
  flush();
  std::unique_lock lock(mutex_);
  return !wake_.wait_until(lock, deadline, [this] { return stop_requested_; });
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

void ModbusBusScheduler::run() {
  while (!stopping() && !heap_.empty()) {
    const auto now = Clock::now();
    if (!link_->connected() && now < reconnect_at_) {
      (void)sleep_until(reconnect_at_);
      continue;
    }
    if (top().next_due > now) {
      (void)sleep_until(top().next_due);
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
      selected_unit_ = nullptr;
      flush_before_next_request_ = false;
      set_state("running");
    }
    const std::size_t index = heap_.front();
    pop_top();
    poll(units_[index]);
    push(index);
  }
}

void ModbusBusScheduler::select_unit(const Unit& unit) {
  if (selected_unit_ == &unit) return;
  auto* ctx = link_->context();
  modbus_set_slave(ctx, unit.device->unit_id);
  const auto ms = std::max<std::int64_t>(1, unit.device->timeout.count());
  modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(ms / 1000),
                              static_cast<std::uint32_t>((ms % 1000) * 1000));
  selected_unit_ = &unit;
}

int ModbusBusScheduler::issue(const ReadRequest& r) {
  auto* ctx = link_->context();
  switch (r.table) {
    case config::RegisterTable::coil:
      return modbus_read_bits(ctx, r.address, r.count, bits_.data());
    case config::RegisterTable::discrete_input:
      return modbus_read_input_bits(ctx, r.address, r.count, bits_.data());
    case config::RegisterTable::holding_register:
      return modbus_read_registers(ctx, r.address, r.count, registers_.data());
    case config::RegisterTable::input_register:
      return modbus_read_input_registers(ctx, r.address, r.count, registers_.data());
  }
  errno = EINVAL;
  return -1;
}

void ModbusBusScheduler::record_rtt(Unit& unit, Clock::duration rtt) {
  const double ms = std::chrono::duration<double, std::milli>(rtt).count();
  auto& h = unit.health;
  h.rtt_ms_avg = h.responses <= 1 ? ms : h.rtt_ms_avg + kRttWeight * (ms - h.rtt_ms_avg);
  h.rtt_ms_last = ms;
}

ModbusBusScheduler::RequestResult ModbusBusScheduler::transact(Unit& unit,
                                                               const ReadRequest& request) {
  auto& h = unit.health;
  const int attempts = 1 + std::max(0, unit.device->retries);
  bool reconnected_once = false;
  std::string last_failure;
  for (int attempt = 0; attempt < attempts;) {
    if (stopping()) return RequestResult::failed(Outcome::stopped);
    if (!link_->connected()) {
      flush();
      auto connected = link_->connect(config_.connect_timeout);
      if (!connected) {
        ++h.errors;
        return RequestResult::failed(Outcome::link_lost, connected.error().message);
      }
      selected_unit_ = nullptr;
      flush_before_next_request_ = false;
    }
    select_unit(unit);
    if (config_.pacing.count() > 0 && !sleep_until(last_request_end_ + config_.pacing))
      return RequestResult::failed(Outcome::stopped);
    if (flush_before_next_request_) {
      // A response that missed its timeout may still arrive; drop what is already here.
      modbus_flush(link_->context());
      flush_before_next_request_ = false;
    }
    // A healthy unit answers in about its usual round trip; a failing one may take its timeout.
    flush_before_waiting(unit.answering
                             ? std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double, std::milli>(2.0 * h.rtt_ms_avg))
                             : std::chrono::duration_cast<Clock::duration>(unit.device->timeout));
    ++h.requests;
    publish_requests(unit);
    const auto sent = Clock::now();
    const int rc = issue(request);
    const int error = errno;
    last_request_end_ = Clock::now();
    if (rc == request.count) {
      ++h.responses;
      record_rtt(unit, last_request_end_ - sent);
      return {Outcome::ok, 0, now_ms(), {}};
    }
    if (stopping()) return RequestResult::failed(Outcome::stopped);
    if (const int code = exception_code(error); code != 0) {
      // An exception response is an answer: the unit is alive, these addresses are not.
      ++h.responses;
      ++h.errors;
      ++h.counters[exception_counter(code)];
      record_rtt(unit, last_request_end_ - sent);
      return {Outcome::exception, code, now_ms(),
              describe_exception(code) + ": unit " + std::to_string(unit.device->unit_id) +
                  " refused reading " + range_text(request)};
    }
    if (rc < 0 && error == ETIMEDOUT) {
      ++h.timeouts;
      flush_before_next_request_ = true;
      last_failure = "timeout after " + std::to_string(unit.device->timeout.count()) + " ms";
      ++attempt;
      continue;
    }
    ++h.errors;
    if (rc >= 0 || is_protocol_error(error)) {
      // Typically the late answer to a request that had timed out (transaction id mismatch):
      // the stream is out of step, so start a fresh connection and ask again.
      ++h.counters["protocol_errors"];
      last_failure = std::string("invalid response (") +
                     (rc >= 0 ? "wrong length" : modbus_strerror(error)) + ")";
      link_->close();
    } else {
      // The connection itself failed (reset, closed by the peer).
      link_->close();
      if (reconnected_once)
        return RequestResult::failed(Outcome::link_lost, "connection to " + link_->peer() +
                                                             " lost: " + modbus_strerror(error));
    }
    // A device that drops idle connections, or a stream out of step, deserves one immediate
    // fresh connection before anyone is told.
    if (!reconnected_once) {
      reconnected_once = true;
      continue;
    }
    ++attempt;
  }
  return RequestResult::failed(Outcome::no_answer,
                               last_failure + ": unit " + std::to_string(unit.device->unit_id) +
                                   " did not answer reading " + range_text(request) + " (" +
                                   std::to_string(attempts) +
                                   (attempts == 1 ? " attempt)" : " attempts)"));
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
    } else {
      r.quality = Quality::bad;
      r.error = std::move(value).error().message;
      ++unit.health.errors;
      ++unit.health.counters["decode_errors"];
      unit.health.last_error = r.error;
    }
  }
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
  std::make_heap(heap_.begin(), heap_.end(),
                 [this](std::size_t a, std::size_t b) { return due_later(a, b); });
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

  Outcome failure = Outcome::ok;
  std::string failure_text;
  for (const auto& request : unit.plan.requests) {
    if (failure != Outcome::ok) {
      mark(batch.readings, request, Quality::comm_fail, failure_text, now_ms());
      continue;
    }
    auto result = transact(unit, request);
    switch (result.outcome) {
      case Outcome::ok:
        decode(unit, request, result.arrived, batch.readings);
        break;
      case Outcome::exception:
        h.last_error = result.error;
        mark(batch.readings, request, Quality::bad, result.error, result.arrived);
        break;
      case Outcome::stopped:
        return;  // nobody listens any more
      case Outcome::no_answer:
      case Outcome::link_lost:
        failure = result.outcome;
        failure_text = std::move(result.error);
        mark(batch.readings, request, Quality::comm_fail, failure_text, now_ms());
        break;
    }
  }
  for (std::size_t i = 0; i < unit.plan.unreadable.size(); ++i) {
    auto& r = batch.readings[unit.plan.unreadable[i]];
    r.quality = Quality::bad;
    r.error = unit.unreadable_errors[i];
    r.source_ts = now_ms();
  }

  const auto now = Clock::now();
  switch (failure) {
    case Outcome::ok:
      ++h.polls;
      h.last_ok = now_ms();
      h.state = "ok";
      unit.backoff.reset();
      unit.next_due = next_slot(unit.next_due, device.poll_interval, now);
      break;
    case Outcome::no_answer:
      h.last_error = failure_text;
      h.state = "comm_fail";
      // A dead unit is retried with back-off so it cannot eat the connection's time.
      unit.next_due =
          std::max(next_slot(unit.next_due, device.poll_interval, now), now + unit.backoff.next());
      break;
    default:
      h.last_error = failure_text;
      h.state = "connecting";
      reconnect_at_ = now + connection_backoff_.next();
      unit.next_due = reconnect_at_;
      set_state("backoff");
      break;
  }
  unit.answering = failure == Outcome::ok;
  publish(unit);
  enqueue(std::move(batch));
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
