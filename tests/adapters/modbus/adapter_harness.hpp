#pragma once
// Drives a real adapter on a real io_context in the test thread and records what its sink
// receives. Waiting runs the io_context (with a work guard, so run_for blocks for events instead
// of spinning) until a condition on the received batches holds or a deadline passes.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/config/site_config.hpp"

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

inline std::string describe(const std::optional<Reading>& r) {
  if (!r) return "(no reading)";
  return std::string(to_string(r->quality)) + " error='" + r->error + "'";
}

}  // namespace guardian::adapters::modbus::testing
