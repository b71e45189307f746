#include "guardian/adapters/modbus/modbus_adapter.hpp"

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
};

[[nodiscard]] const char* transport_name(config::ModbusTransport t) noexcept {
  switch (t) {
    case config::ModbusTransport::tcp:
      return "tcp";
    case config::ModbusTransport::rtu:
      return "rtu";
    case config::ModbusTransport::rtu_over_tcp:
      return "rtu_over_tcp";
  }
  return "?";
}

// "file:line:column: " when the configuration loader recorded where something was declared.
[[nodiscard]] std::string located(const config::SourceLocation& where) {
  if (where.file.empty()) return {};
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": ";
}

void validate(const config::ModbusAdapterConfig& c) {
  std::string problems;
  const auto problem = [&](const std::string& text) { problems += "\n  - " + text; };
  if (c.transport != config::ModbusTransport::tcp)
    problem(std::string("transport '") + transport_name(c.transport) +
            "' is not supported by this build yet (use tcp)");
  if (c.tcp.host.empty()) problem("tcp.host is empty");
  if (c.tcp.port == 0) problem("tcp.port is 0");
  std::set<std::string> names;
  for (const auto& d : c.devices) {
    const std::string where = located(d.where) + "device '" + d.name + "': ";
    if (d.name.empty()) problem("a device has no name");
    if (!names.insert(d.name).second) problem(where + "the name is used twice");
    if (d.unit_id < 0 || (d.unit_id > 247 && d.unit_id != 255))
      problem(where + "unit_id " + std::to_string(d.unit_id) + " is outside 0-247 (or 255)");
    if (d.timeout.count() <= 0) problem(where + "timeout must be positive");
    if (d.poll_interval.count() < 0) problem(where + "poll_interval must not be negative");
  }
  if (!problems.empty())
    throw std::runtime_error(located(c.where) + "modbus adapter '" + c.name +
                             "' cannot start:" + problems);
}

}  // namespace

struct ModbusAdapter::Impl {
  std::string name;
  std::shared_ptr<DeliveryGate> gate;
  std::unique_ptr<ModbusBusScheduler> scheduler;
};

ModbusAdapter::ModbusAdapter(config::ModbusAdapterConfig config, boost::asio::io_context& io,
                             ReadingSink sink)
    : impl_(std::make_unique<Impl>()) {
  validate(config);
  impl_->name = config.name;
  impl_->gate = std::make_shared<DeliveryGate>();
  impl_->gate->sink = std::move(sink);
  auto link = std::make_unique<ModbusTcpLink>(config.tcp.host, config.tcp.port);
  // Runs on the worker thread: hand the batches to the io_context, where the sink lives.
  auto deliver = [&io, gate = impl_->gate](std::vector<ReadingBatch>&& batches) {
    boost::asio::post(io, [gate, batches = std::move(batches)]() mutable {
      std::lock_guard lock(gate->mutex);
      for (auto& batch : batches) {
        // Checked per batch: the sink itself may call stop().
        if (!gate->open || !gate->sink) return;
        gate->sink(std::move(batch));
      }
    });
  };
  impl_->scheduler = std::make_unique<ModbusBusScheduler>(std::move(config), "modbus-tcp",
                                                          std::move(link), std::move(deliver));
}

ModbusAdapter::~ModbusAdapter() { stop(); }

void ModbusAdapter::start() { impl_->scheduler->start(); }

void ModbusAdapter::stop() {
  impl_->scheduler->stop();
  // Batches posted before the worker stopped must not reach the sink; waits for a sink call
  // in progress on another thread.
  std::lock_guard lock(impl_->gate->mutex);
  impl_->gate->open = false;
}

const std::string& ModbusAdapter::name() const { return impl_->name; }

AdapterHealth ModbusAdapter::health() const { return impl_->scheduler->health(); }

}  // namespace guardian::adapters::modbus
