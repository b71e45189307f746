#pragma once
/// \file
/// The connection a bus scheduler (or a field tool) talks through. Three transports implement
/// it: Modbus TCP with libmodbus (ModbusTcpLink, below), and Modbus RTU framing on a serial line
/// or on a TCP socket (rtu_link.hpp). Callers see one transaction API and one set of error codes
/// (libmodbus's errno values), whatever carries the frames.

#include <modbus/modbus.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guardian/adapters/modbus/modbus_request.hpp"
#include "guardian/common/result.hpp"
#include "link_io.hpp"

namespace guardian::adapters::modbus {

/// RAII for modbus_t* (STYLE.md: no manual cleanup on error branches).
struct ModbusContextDeleter {
  void operator()(modbus_t* ctx) const noexcept {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using ModbusContextPtr = std::unique_ptr<modbus_t, ModbusContextDeleter>;

/// One Modbus connection. Everything except interrupt() is called from one thread at a time
/// (the scheduler's worker, or a tool's main thread); interrupt() may be called from any thread.
class ModbusLink {
 public:
  virtual ~ModbusLink() = default;
  ModbusLink() = default;
  ModbusLink(const ModbusLink&) = delete;
  ModbusLink& operator=(const ModbusLink&) = delete;

  /// Opens the connection (TCP connect, or opening and configuring the serial port) within
  /// `timeout`. Returns at once with an ECANCELED error after interrupt().
  [[nodiscard]] virtual result<void> connect(std::chrono::milliseconds timeout) = 0;
  /// Closes the connection (no-op when closed).
  virtual void close() noexcept = 0;
  [[nodiscard]] virtual bool connected() const noexcept = 0;

  /// Sends `request` and waits up to `timeout` for its answer, storing a read's data in `reply`.
  /// Errors carry a libmodbus errno value in libmodbus_category(): ETIMEDOUT (no answer; the
  /// link discards a late answer before the next request by itself), MODBUS_ENOBASE + n
  /// (exception response n), EMBBADCRC / EMBBADSLAVE / EMBBADDATA (a malformed or out-of-step
  /// answer: call resynchronise()), ECANCELED (interrupted), or a system errno (the connection
  /// failed: close() and connect() again).
  [[nodiscard]] virtual result<void> transact(const ModbusRequest& request,
                                              const ModbusReply& reply,
                                              std::chrono::milliseconds timeout) = 0;

  /// Brings the byte stream back into step after a malformed or out-of-step answer: Modbus TCP
  /// closes the connection (the next connect() starts afresh); RTU discards what arrives until
  /// the line falls silent. May leave the link closed.
  virtual void resynchronise() noexcept = 0;

  /// Makes a blocked connect() or transact() return promptly, now and for good (stop()).
  virtual void interrupt() noexcept = 0;
  /// The peer for messages, e.g. "127.0.0.1:502" or "/dev/ttyUSB0".
  [[nodiscard]] virtual const std::string& peer() const noexcept = 0;
  /// Standing conditions found while connecting that a technician should know about (e.g. the
  /// port does not support RS-485 mode); empty when there are none.
  [[nodiscard]] virtual std::vector<std::string> warnings() const { return {}; }
};

/// Modbus TCP (MBAP) to host:port through libmodbus. The socket is opened here rather than by
/// modbus_connect() so that the connect honours its timeout, sets TCP_NODELAY and can be
/// interrupted; interrupt() shuts the socket down under a request in flight.
class ModbusTcpLink final : public ModbusLink {
 public:
  /// Throws std::runtime_error when libmodbus or the kernel cannot provide a context or an
  /// eventfd (start-up only).
  ModbusTcpLink(std::string host, std::uint16_t port);
  ~ModbusTcpLink() override;

  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout) override;
  void close() noexcept override;
  [[nodiscard]] bool connected() const noexcept override { return connected_; }
  [[nodiscard]] result<void> transact(const ModbusRequest& request, const ModbusReply& reply,
                                      std::chrono::milliseconds timeout) override;
  void resynchronise() noexcept override { close(); }
  void interrupt() noexcept override;
  [[nodiscard]] const std::string& peer() const noexcept override { return peer_; }

 private:
  // One libmodbus call for `request`; returns what it returns (count, or -1 with errno).
  [[nodiscard]] int call(const ModbusRequest& request, const ModbusReply& reply);

  std::string host_;
  std::uint16_t port_;
  std::string peer_;
  ModbusContextPtr ctx_;
  InterruptLatch latch_;
  bool connected_ = false;  // worker thread only
  bool flush_before_next_ = false;
  int selected_unit_ = -1;  // what is set on ctx_, to skip redundant calls
  std::chrono::milliseconds selected_timeout_{-1};
  std::mutex socket_mutex_;  // guards socket_ against interrupt() racing close()
  int socket_ = -1;
};

}  // namespace guardian::adapters::modbus

namespace guardian::adapters::modbus {

/// The link for a transport: ModbusTcpLink, RtuSerialLink or RtuOverTcpLink. Throws
/// std::runtime_error only when the kernel or libmodbus cannot provide resources (start-up).
[[nodiscard]] std::unique_ptr<ModbusLink> make_link(config::ModbusTransport transport,
                                                    const config::ModbusTcpEndpoint& tcp,
                                                    const config::SerialPortSettings& serial);

/// "modbus-tcp", "modbus-rtu" or "modbus-rtu-over-tcp": the adapter type in health.
[[nodiscard]] const char* transport_type(config::ModbusTransport transport) noexcept;

}  // namespace guardian::adapters::modbus
