#pragma once
/// \file
/// The adapter contract: something that reads legacy equipment and hands ReadingBatches to the
/// gateway on the gateway's io_context. An adapter owns its transport and codec; blocking
/// libraries (libmodbus) run on the adapter's own worker thread and post results back.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::adapters {

/// Receives every batch an adapter produces. Always invoked on the io_context the adapter was
/// created with (never on a worker thread), so the gateway needs no locks.
using ReadingSink = std::function<void(ReadingBatch&&)>;

/// Receives every record an adapter produces, on the same io_context.
using RecordSink = std::function<void(Record&&)>;

/// Health of one source (Modbus unit, serial device …) behind an adapter.
struct SourceHealth {
  std::string source;
  std::string state;             ///< "ok", "comm_fail", "connecting", "backoff"
  std::uint64_t polls = 0;       ///< completed poll cycles (all requests answered)
  std::uint64_t requests = 0;    ///< requests sent
  std::uint64_t responses = 0;   ///< valid responses received
  std::uint64_t timeouts = 0;
  std::uint64_t errors = 0;      ///< any other failure (connection, CRC, exception, decode)
  double rtt_ms_last = 0.0;
  double rtt_ms_avg = 0.0;       ///< exponentially weighted moving average
  Timestamp last_ok{};
  std::string last_error;
  std::map<std::string, std::uint64_t> counters;  ///< transport/codec specific (crc_errors, exception_02 …)
};

/// Health of one adapter: a snapshot, safe to take from the io_context thread at any time.
struct AdapterHealth {
  std::string name;
  std::string type;              ///< "modbus-tcp", "modbus-rtu", …
  std::string state;             ///< "running", "connecting", "backoff", "stopped"
  std::vector<SourceHealth> sources;
  /// Standing conditions a technician should know about, e.g. "serial.rs485 is set but
  /// /dev/ttyS1 cannot switch to RS-485 mode …". Empty when there are none.
  std::vector<std::string> warnings;
};

/// A request to set one point of one source (a cloud command, `guardian write`).
struct WriteCommand {
  std::string id;      ///< Correlates the result with the request; echoed in WriteResult.
  std::string source;  ///< The device name, as in readings.
  std::string point;   ///< The point name, as in readings.
  Value value;         ///< In engineering units, or an enum label; the adapter encodes it.
  bool readback = false;  ///< Read the point back and compare, even if its config does not ask.
};

/// What became of a WriteCommand.
struct WriteResult {
  std::string id;      ///< WriteCommand::id
  std::string source;
  std::string point;
  bool ok = false;
  std::string error;   ///< Why not ok, for a person: "exception 03 illegal data value: …"
  Value readback;      ///< The value read back after writing, when it was read back.
  Timestamp ts{};      ///< When the write completed or failed.
};

/// Receives the result of async_write(), exactly once, on the adapter's io_context.
using WriteHandler = std::function<void(WriteResult&&)>;

/// A running adapter. Created by make_adapter(); start() begins polling/receiving; stop() is
/// idempotent and returns once no more sink calls will be posted. Destruction implies stop().
class Adapter {
 public:
  virtual ~Adapter() = default;
  Adapter() = default;
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  virtual void start() = 0;
  virtual void stop() = 0;
  [[nodiscard]] virtual const std::string& name() const = 0;
  /// A consistent snapshot of counters; thread-safe.
  [[nodiscard]] virtual AdapterHealth health() const = 0;

  /// Writes `command.value` to a point of one of the adapter's sources. Adapters that can write
  /// queue it with priority over their polling and call `handler` on the io_context when it is
  /// done, never from inside this call. Errors come back as WriteResult::ok == false with the
  /// reason (unknown source or point, point not writable, value out of range, device refused or
  /// did not answer). After stop(), outstanding handlers are not called. io_context thread.
  ///
  /// This default is for adapters that cannot write: it refuses at once, calling `handler`
  /// before it returns.
  virtual void async_write(const WriteCommand& command, WriteHandler handler) {
    WriteResult result;
    result.id = command.id;
    result.source = command.source;
    result.point = command.point;
    result.error = "adapter '" + name() + "' cannot write (its kind of equipment is read-only)";
    result.ts = now_ms();
    handler(std::move(result));
  }
};

/// Builds the adapter an AdapterConfig describes (an explicit switch over the known kinds).
/// Sinks are invoked on `io`. Throws std::runtime_error only for configurations the loader
/// should have rejected.
[[nodiscard]] std::unique_ptr<Adapter> make_adapter(const config::AdapterConfig& config,
                                                    boost::asio::io_context& io,
                                                    ReadingSink readings, RecordSink records);

}  // namespace guardian::adapters
