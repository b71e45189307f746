#pragma once
/// \file
/// The Modbus adapter: one ModbusAdapterConfig = one connection (a Modbus TCP peer, an RS-485
/// line, or an RTU-over-TCP converter) = one worker thread serving every unit behind it (see
/// docs/modbus-adapter.md for the flow). Each poll of a unit becomes one
/// ReadingBatch{source = device name} delivered on the io_context; writes go through the same
/// worker, ahead of the polls.

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters::modbus {

/// A running Modbus connection and its units.
///
/// Readings: per unit and poll, one batch with every point of the unit — Quality::good with the
/// decoded value; Quality::bad for an exception response ("exception 02 illegal data address …")
/// or a value that does not decode; Quality::comm_fail (no value) when the unit does not answer
/// ("timeout after 500 ms …") or the connection is down. source_ts is when the answer arrived.
///
/// Threading: the sink runs on `io` only. health() is thread-safe. stop() is idempotent, may be
/// called from any thread (including from inside the sink), interrupts a request in flight and
/// returns once no sink call will start any more.
class ModbusAdapter final : public Adapter {
 public:
  /// Validates `config` and plans every unit's reads. Throws std::runtime_error naming the
  /// adapter, device and field for what the configuration loader should have rejected (a
  /// missing host or serial port, a non-standard baud rate, unit id outside 0–247/255 or 0 on a
  /// serial line, zero timeout, duplicate device names).
  ModbusAdapter(config::ModbusAdapterConfig config, boost::asio::io_context& io, ReadingSink sink);
  ~ModbusAdapter() override;

  /// Starts polling on the worker thread. Only the first call has an effect.
  void start() override;
  void stop() override;
  [[nodiscard]] const std::string& name() const override;
  /// type "modbus-tcp", "modbus-rtu" or "modbus-rtu-over-tcp"; state "connecting", "running",
  /// "backoff" or "stopped"; one source per unit; warnings such as an RS-485 mode the port
  /// cannot do.
  [[nodiscard]] AdapterHealth health() const override;
  /// Writes a point declared `writable: true` with its own type, order, scale and enum labels
  /// (prepare_write), through the bus's worker ahead of the polls, reading it back when the
  /// command or the point asks. `handler` runs on the io_context, never inside this call.
  void async_write(const WriteCommand& command, WriteHandler handler) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian::adapters::modbus
