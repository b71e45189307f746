#pragma once
/// \file
/// The connection a bus scheduler talks through: the owner of one `modbus_t*`. TCP today; an
/// RS-485 bus (RTU) and RTU over TCP implement the same interface next.

#include <modbus/modbus.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "guardian/common/result.hpp"

namespace guardian::adapters::modbus {

/// RAII for modbus_t* (STYLE.md: no manual cleanup on error branches).
struct ModbusContextDeleter {
  void operator()(modbus_t* ctx) const noexcept {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using ModbusContextPtr = std::unique_ptr<modbus_t, ModbusContextDeleter>;

/// One Modbus connection. Everything except interrupt() is called only from the scheduler's
/// worker thread; interrupt() may be called from any thread.
class ModbusLink {
 public:
  virtual ~ModbusLink() = default;
  ModbusLink() = default;
  ModbusLink(const ModbusLink&) = delete;
  ModbusLink& operator=(const ModbusLink&) = delete;

  /// Opens the connection within `timeout`. Returns at once with an error after interrupt().
  [[nodiscard]] virtual result<void> connect(std::chrono::milliseconds timeout) = 0;
  /// Closes the connection (no-op when closed); the context keeps its settings.
  virtual void close() noexcept = 0;
  [[nodiscard]] virtual bool connected() const noexcept = 0;
  /// The libmodbus context for requests; valid for the link's lifetime.
  [[nodiscard]] virtual modbus_t* context() noexcept = 0;
  /// Makes a blocked connect() or request return promptly, now and for good (used by stop()).
  virtual void interrupt() noexcept = 0;
  /// The peer for messages, e.g. "127.0.0.1:502".
  [[nodiscard]] virtual const std::string& peer() const noexcept = 0;
};

/// Modbus TCP (MBAP) to host:port. The socket is opened here rather than by modbus_connect()
/// so that the connect honours connect_timeout, sets TCP_NODELAY and can be interrupted.
class ModbusTcpLink final : public ModbusLink {
 public:
  /// Throws std::runtime_error when libmodbus or the kernel cannot provide a context or an
  /// eventfd (start-up only).
  ModbusTcpLink(std::string host, std::uint16_t port);
  ~ModbusTcpLink() override;

  [[nodiscard]] result<void> connect(std::chrono::milliseconds timeout) override;
  void close() noexcept override;
  [[nodiscard]] bool connected() const noexcept override { return connected_; }
  [[nodiscard]] modbus_t* context() noexcept override { return ctx_.get(); }
  void interrupt() noexcept override;
  [[nodiscard]] const std::string& peer() const noexcept override { return peer_; }

 private:
  [[nodiscard]] result<int> connect_socket(std::chrono::steady_clock::time_point deadline);

  std::string host_;
  std::uint16_t port_;
  std::string peer_;
  ModbusContextPtr ctx_;
  int wake_fd_ = -1;  // eventfd: readable once interrupt() has been called
  std::atomic<bool> interrupted_{false};
  bool connected_ = false;   // worker thread only
  std::mutex socket_mutex_;  // guards socket_ against interrupt() racing close()
  int socket_ = -1;
};

}  // namespace guardian::adapters::modbus
