#pragma once
/// \file
/// Modbus RTU links: the RTU frame (rtu_frame.hpp) over a byte stream that is either a serial
/// port (RtuSerialLink) or a TCP socket to a serial-to-Ethernet converter that passes RTU frames
/// through unchanged (RtuOverTcpLink; libmodbus has no such backend).
///
///   transact(request)
///     flush input left by a timed-out request
///     wait for 3.5 characters of silence since the line was last busy   (MBSL §2.5.1.1)
///     write the ADU ───────────────────────────────── poll(fd POLLOUT, latch)
///     read until response_length() says the frame is complete ─ poll(fd POLLIN, latch) with
///        deadline = transmission time of the request + the unit's timeout
///     decode_response(): CRC, unit, function, exception, byte count
///
/// Every wait polls the link's InterruptLatch too, so stop() cuts a request short at once on a
/// serial port as on a socket (libmodbus's RTU backend waits in select() on the tty alone).

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "guardian/adapters/modbus/rtu_frame.hpp"
#include "guardian/config/site_config.hpp"
#include "modbus_link.hpp"

namespace guardian::adapters::modbus {

/// The RTU transaction engine over whatever byte stream a subclass opens into `fd_`.
class RtuLink : public ModbusLink {
 public:
  [[nodiscard]] bool connected() const noexcept override { return fd_.valid(); }
  void close() noexcept override { fd_.reset(); }
  [[nodiscard]] result<void> transact(const ModbusRequest& request, const ModbusReply& reply,
                                      std::chrono::milliseconds timeout) override;
  /// Discards input until the line has been quiet for two frame gaps (at least 20 ms), for at
  /// most half a second.
  void resynchronise() noexcept override;
  void interrupt() noexcept override { latch_.trip(); }
  [[nodiscard]] const std::string& peer() const noexcept override { return peer_; }

 protected:
  /// `frame_gap` is the silence kept before each frame; `serial` (when the stream is a serial
  /// line) times the transmission of requests.
  RtuLink(std::string peer, std::chrono::microseconds frame_gap,
          std::optional<config::SerialPortSettings> serial);

  [[nodiscard]] Error cancelled() const;

  UniqueFd fd_;  // non-blocking; owned by the worker thread
  InterruptLatch latch_;

 private:
  [[nodiscard]] result<void> send(std::size_t length);
  [[nodiscard]] Error lost(int errno_value, const std::string& what);

  std::string peer_;
  std::chrono::microseconds frame_gap_;
  std::optional<config::SerialPortSettings> serial_;
  std::chrono::steady_clock::time_point line_busy_until_{};
  bool flush_before_next_ = false;
  std::array<std::uint8_t, rtu::kMaxAdu> tx_{};
  std::array<std::uint8_t, rtu::kMaxAdu + 8> rx_{};
};

/// Modbus RTU on a serial port of this machine (RS-485 or RS-232). connect() opens and
/// configures the port (adapters/src/serial_port.hpp); a port that disappears (USB adapter
/// unplugged) fails the request in flight, and the scheduler reopens it with back-off.
class RtuSerialLink final : public RtuLink {
 public:
  explicit RtuSerialLink(config::SerialPortSettings settings);

  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::vector<std::string> warnings() const override { return warnings_; }

 private:
  config::SerialPortSettings settings_;
  std::vector<std::string> warnings_;
};

/// Modbus RTU frames over a TCP connection to host:port (a transparent serial server).
class RtuOverTcpLink final : public RtuLink {
 public:
  RtuOverTcpLink(std::string host, std::uint16_t port);

  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout) override;

 private:
  std::string host_;
  std::uint16_t port_;
};

}  // namespace guardian::adapters::modbus
