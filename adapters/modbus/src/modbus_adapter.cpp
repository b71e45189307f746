#include "guardian/adapters/modbus/modbus_adapter.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include <boost/asio/post.hpp>

#include "bus_scheduler.hpp"
#include "modbus_link.hpp"

namespace guardian::adapters::modbus {
namespace {

// Lets batches already posted to the io_context find out that the adapter has stopped (or is
// gone) instead of calling into it. Recursive: stop() may be called from inside the sink.
struct DeliveryGate {
  std::recursive_mutex mutex;
  bool open = true;
  ReadingSink sink;

  // Back-pressure: readings posted to the io_context and not yet handed to the sink. When the
  // io_context falls behind (an overloaded uplink or encoder), the bus worker waits here instead
  // of posting more, so polls slow down before memory grows; `closing` releases it for stop().
  std::mutex budget_mutex;
  std::condition_variable budget_cv;
  std::size_t in_transit = 0;
  bool closing = false;
  std::atomic<std::uint64_t> waits{0};
};

// Readings one adapter may have on their way to the io_context (~0.5 MB): about twenty polls of a
// 100-point device. A single poll larger than this still goes, alone.
constexpr std::size_t kMaxReadingsInTransit = 2048;

// "file:line:column: " when the configuration loader recorded where something was declared.
[[nodiscard]] std::string located(const config::SourceLocation& where) {
  if (where.file.empty()) return {};
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": ";
}

void validate(const config::ModbusAdapterConfig& c) {
  std::string problems;
  const auto problem = [&](const std::string& text) { problems += "\n  - " + text; };
  if (c.transport == config::ModbusTransport::rtu) {
    if (c.serial.port.empty()) problem("serial.port is empty");
    if (std::find(config::kStandardBaudRates.begin(), config::kStandardBaudRates.end(),
                  c.serial.baud) == config::kStandardBaudRates.end())
      problem("serial.baud " + std::to_string(c.serial.baud) + " is not a standard rate");
  } else {
    if (c.tcp.host.empty()) problem("host is empty");
    if (c.tcp.port == 0) problem("port is 0");
  }
  std::set<std::string> names;
  for (const auto& d : c.devices) {
    const std::string where = located(d.where) + "device '" + d.name + "': ";
    if (d.name.empty()) problem("a device has no name");
    if (!names.insert(d.name).second) problem(where + "the name is used twice");
    if (d.unit_id < 0 || (d.unit_id > 247 && d.unit_id != 255))
      problem(where + "unit_id " + std::to_string(d.unit_id) + " is outside 0-247 (or 255)");
    if (c.transport != config::ModbusTransport::tcp && d.unit_id == 0)
      problem(where + "unit_id 0 is the broadcast address on a serial line: nobody answers it");
    if (d.timeout.count() <= 0) problem(where + "timeout must be positive");
    if (d.poll_interval.count() < 0) problem(where + "poll_interval must not be negative");
  }
  if (!problems.empty())
    throw std::runtime_error(located(c.where) + "modbus adapter '" + c.name +
                             "' cannot start:" + problems);
}

// A write result on its way to the io_context, refused at once when it cannot start.
void complete(boost::asio::io_context& io, const std::shared_ptr<DeliveryGate>& gate,
              WriteHandler handler, WriteResult&& result) {
  boost::asio::post(io, [gate, handler = std::move(handler), result = std::move(result)]() mutable {
    std::lock_guard lock(gate->mutex);
    if (gate->open) handler(std::move(result));
  });
}

}  // namespace

struct ModbusAdapter::Impl {
  Impl(config::ModbusAdapterConfig c, boost::asio::io_context& i)
      : config(std::move(c)), io(i), gate(std::make_shared<DeliveryGate>()) {}

  config::ModbusAdapterConfig config;  // the scheduler keeps its own copy
  boost::asio::io_context& io;
  std::shared_ptr<DeliveryGate> gate;
  std::unique_ptr<ModbusBusScheduler> scheduler;
};

ModbusAdapter::ModbusAdapter(config::ModbusAdapterConfig config, boost::asio::io_context& io,
                             ReadingSink sink)
    : impl_(std::make_unique<Impl>(config, io)) {
  validate(config);
  impl_->gate->sink = std::move(sink);
  auto link = make_link(config.transport, config.tcp, config.serial);
  const std::string type = transport_type(config.transport);
  // Runs on the worker thread: hand the batches to the io_context, where the sink lives.
  auto deliver = [&io, gate = impl_->gate](std::vector<ReadingBatch>&& batches) {
    std::size_t n = 0;
    for (const auto& b : batches) n += b.readings.size();
    {
      std::unique_lock budget(gate->budget_mutex);
      const auto fits = [&] {
        return gate->closing || gate->in_transit == 0 ||
               gate->in_transit + n <= kMaxReadingsInTransit;
      };
      if (!fits()) {
        ++gate->waits;
        gate->budget_cv.wait(budget, fits);
      }
      gate->in_transit += n;
    }
    boost::asio::post(io, [gate, n, batches = std::move(batches)]() mutable {
      {
        std::lock_guard lock(gate->mutex);
        for (auto& batch : batches) {
          // Checked per batch: the sink itself may call stop().
          if (!gate->open || !gate->sink) break;
          gate->sink(std::move(batch));
        }
      }
      {
        std::lock_guard budget(gate->budget_mutex);
        gate->in_transit -= std::min(gate->in_transit, n);
      }
      gate->budget_cv.notify_all();
    });
  };
  impl_->scheduler = std::make_unique<ModbusBusScheduler>(std::move(config), type,
                                                          std::move(link), std::move(deliver));
}

ModbusAdapter::~ModbusAdapter() { stop(); }

void ModbusAdapter::start() {
  {
    std::lock_guard budget(impl_->gate->budget_mutex);
    impl_->gate->closing = false;
  }
  impl_->scheduler->start();
}

void ModbusAdapter::stop() {
  {
    // A worker waiting for the io_context (which may be this thread) must not hold up stop().
    std::lock_guard budget(impl_->gate->budget_mutex);
    impl_->gate->closing = true;
  }
  impl_->gate->budget_cv.notify_all();
  impl_->scheduler->stop();
  // Batches posted before the worker stopped must not reach the sink; waits for a sink call
  // in progress on another thread.
  std::lock_guard lock(impl_->gate->mutex);
  impl_->gate->open = false;
}

const std::string& ModbusAdapter::name() const { return impl_->config.name; }

AdapterHealth ModbusAdapter::health() const {
  auto h = impl_->scheduler->health();
  // Polls that waited because the gateway could not take their readings as fast (overload).
  if (const auto waits = impl_->gate->waits.load(); waits > 0) h.counters["delivery_waits"] = waits;
  return h;
}

void ModbusAdapter::async_write(const WriteCommand& command, WriteHandler handler) {
  WriteResult result;
  result.id = command.id;
  result.source = command.source;
  result.point = command.point;
  const auto refuse = [&](std::string why) {
    result.error = std::move(why);
    result.ts = now_ms();
    complete(impl_->io, impl_->gate, std::move(handler), std::move(result));
  };
  const auto& devices = impl_->config.devices;
  const auto device = std::find_if(devices.begin(), devices.end(),
                                   [&](const auto& d) { return d.name == command.source; });
  if (device == devices.end())
    return refuse("no source '" + command.source + "' on Modbus adapter '" + name() + "'");
  const auto point = std::find_if(device->points.begin(), device->points.end(),
                                  [&](const auto& p) { return p.name == command.point; });
  if (point == device->points.end())
    return refuse("source '" + command.source + "' has no point '" + command.point + "'");
  if (!point->writable)
    return refuse("point '" + command.point + "' of '" + command.source +
                  "' is not writable: declare it with 'writable: true' in the configuration");
  auto prepared = prepare_write(*point, command.value, device->write_multiple);
  if (!prepared) return refuse(std::move(prepared).error().message);

  WriteJob job;
  job.device = static_cast<std::size_t>(device - devices.begin());
  job.write = std::move(prepared).value();
  job.readback = command.readback || point->readback;
  job.done = [io = &impl_->io, gate = impl_->gate, handler = std::move(handler),
              result = std::move(result)](WriteOutcome&& outcome) mutable {
    result.ok = outcome.ok;
    result.error = std::move(outcome.error);
    result.readback = std::move(outcome.readback);
    result.ts = now_ms();
    complete(*io, gate, std::move(handler), std::move(result));
  };
  impl_->scheduler->submit(std::move(job));
}

}  // namespace guardian::adapters::modbus
