#pragma once
// Drives a real adapter on a real io_context in the test thread and records what its sink
// receives. Waiting runs the io_context (with a work guard, so run_for blocks for events instead
// of spinning) until a condition on the received batches holds or a deadline passes.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::adapters::modbus::testing {

using namespace std::chrono_literals;
using config::DataType;
using config::RegisterTable;
using config::WordOrder;

/// Records every batch; all access happens on the test thread (the io_context runs there).
struct BatchRecorder {
  std::vector<ReadingBatch> batches;

  [[nodiscard]] ReadingSink sink() {
    return [this](ReadingBatch&& batch) { batches.push_back(std::move(batch)); };
  }

  /// The newest reading of `point` from `source`, if any.
  [[nodiscard]] std::optional<Reading> latest(const std::string& source, const std::string& point,
                                              std::size_t from_batch = 0) const {
    for (std::size_t i = batches.size(); i > from_batch; --i) {
      const auto& b = batches[i - 1];
      if (b.source != source) continue;
      for (const auto& r : b.readings)
        if (r.point == point) return r;
    }
    return std::nullopt;
  }

  /// Number of batches from `source` since batch index `from` whose every reading has `quality`.
  [[nodiscard]] std::size_t count(const std::string& source, Quality quality,
                                  std::size_t from = 0) const {
    std::size_t n = 0;
    for (std::size_t i = from; i < batches.size(); ++i) {
      const auto& b = batches[i];
      if (b.source != source || b.readings.empty()) continue;
      bool all = true;
      for (const auto& r : b.readings) all = all && r.quality == quality;
      n += all ? 1 : 0;
    }
    return n;
  }
};

/// A real io_context run by the test thread.
class IoDriver {
 public:
  IoDriver() : guard_(boost::asio::make_work_guard(io_)) {}
  [[nodiscard]] boost::asio::io_context& io() { return io_; }

  /// Runs the io_context until `done()` or `deadline`; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return done();
      io_.run_for(10ms);
    }
    return true;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
};

/// A Modbus TCP connection to 127.0.0.1:port with short back-off, suited to tests.
inline config::ModbusAdapterConfig tcp_connection(std::uint16_t port, std::string name = "plc") {
  config::ModbusAdapterConfig c;
  c.name = std::move(name);
  c.transport = config::ModbusTransport::tcp;
  c.tcp = {"127.0.0.1", port};
  c.connect_timeout = 1000ms;
  c.backoff_min = 100ms;
  c.backoff_max = 400ms;
  return c;
}

/// Modbus RTU on the serial device `port` (a SerialPair end), short back-off.
inline config::ModbusAdapterConfig rtu_connection(const std::string& port, int baud = 19200,
                                                  std::string name = "bus") {
  config::ModbusAdapterConfig c;
  c.name = std::move(name);
  c.transport = config::ModbusTransport::rtu;
  c.serial.port = port;
  c.serial.baud = baud;
  c.connect_timeout = 1000ms;
  c.backoff_min = 100ms;
  c.backoff_max = 400ms;
  return c;
}

/// RTU frames over TCP to 127.0.0.1:port (a transparent serial server), short back-off.
inline config::ModbusAdapterConfig rtu_over_tcp_connection(std::uint16_t port,
                                                           std::string name = "converter") {
  auto c = tcp_connection(port, std::move(name));
  c.transport = config::ModbusTransport::rtu_over_tcp;
  return c;
}

/// Runs `adapter.async_write(command)` and the io_context until its handler has run.
inline std::optional<WriteResult> write_and_wait(IoDriver& driver, Adapter& adapter,
                                                 WriteCommand command,
                                                 std::chrono::milliseconds deadline = 20s) {
  std::optional<WriteResult> result;
  adapter.async_write(command, [&](WriteResult&& r) { result = std::move(r); });
  driver.run_until([&] { return result.has_value(); }, deadline);
  return result;
}

inline config::ModbusDevice device(std::string name, int unit_id,
                                   std::chrono::milliseconds poll_interval = 100ms,
                                   std::chrono::milliseconds timeout = 500ms) {
  config::ModbusDevice d;
  d.name = std::move(name);
  d.unit_id = unit_id;
  d.poll_interval = poll_interval;
  d.timeout = timeout;
  d.retries = 0;
  return d;
}

inline config::ModbusPoint point(std::string name, config::RegisterTable table,
                                 std::uint16_t address, config::DataType type,
                                 config::WordOrder order = config::WordOrder::ABCD,
                                 std::string unit = {}) {
  config::ModbusPoint p;
  p.name = std::move(name);
  p.table = table;
  p.address = address;
  p.type = type;
  p.order = order;
  p.unit = std::move(unit);
  return p;
}

/// The health of `source` in `adapter`.
inline SourceHealth source_health(const Adapter& adapter, const std::string& source) {
  for (auto& s : adapter.health().sources)
    if (s.source == source) return s;
  ADD_FAILURE() << "no source " << source << " in health";
  return {};
}

/// A started ModbusAdapter with its io_context and recorder, for a test fixture to derive from:
/// the fixture's peers (declared in the derived class) start first, then start() runs the
/// adapter. Members are destroyed in reverse order: the adapter stops before the recorder and
/// the io_context go away.
struct AdapterUnderTest {
  void start(config::ModbusAdapterConfig connection, std::vector<config::ModbusDevice> devices,
             const std::function<void(config::ModbusAdapterConfig&)>& adjust = {}) {
    config = std::move(connection);
    config.devices = std::move(devices);
    if (adjust) adjust(config);
    adapter = std::make_unique<ModbusAdapter>(config, driver.io(), rec.sink());
    adapter->start();
  }
  [[nodiscard]] SourceHealth health(const std::string& source) const {
    return source_health(*adapter, source);
  }

  IoDriver driver;
  BatchRecorder rec;
  config::ModbusAdapterConfig config;
  std::unique_ptr<ModbusAdapter> adapter;
};

inline std::string describe(const std::optional<Reading>& r) {
  if (!r) return "(no reading)";
  return std::string(to_string(r->quality)) + " error='" + r->error + "'";
}

/// Once a peer is back: `source` delivers three good polls by itself, `point` reads `expected`,
/// and the adapter and the unit say they are running and ok again.
inline void expect_resumes(AdapterUnderTest& rig, const std::string& source,
                           const std::string& point, const Value& expected) {
  auto& rec = rig.rec;
  const auto back = rec.batches.size();
  ASSERT_TRUE(
      rig.driver.run_until([&] { return rec.count(source, Quality::good, back) >= 3; }, 30s))
      << describe(rec.latest(source, point));
  EXPECT_EQ(rec.latest(source, point)->value, expected);
  EXPECT_EQ(rig.adapter->health().state, "running");
  EXPECT_EQ(rig.health(source).state, "ok");
}

}  // namespace guardian::adapters::modbus::testing

namespace guardian::adapters::modbus::testing {

/// With a request to `source` in flight (its unit answers slowly), stop() returns within
/// 500 ms and the adapter says stopped.
inline void expect_stops_promptly(AdapterUnderTest& rig, const std::string& source) {
  ASSERT_TRUE(guardian::testing::wait_until([&] { return rig.health(source).requests >= 1; }, 20s));
  const auto start = std::chrono::steady_clock::now();
  rig.adapter->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(rig.adapter->health().state, "stopped");
}

}  // namespace guardian::adapters::modbus::testing
