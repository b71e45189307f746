#include "modbus_link.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

#include "modbus_error.hpp"

namespace guardian::adapters::modbus {

ModbusTcpLink::ModbusTcpLink(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port), peer_(host_ + ":" + std::to_string(port)) {
  // The host is resolved by connect_tcp(); libmodbus only needs the context.
  ctx_.reset(modbus_new_tcp(nullptr, port));
  if (!ctx_) throw std::runtime_error("libmodbus could not create a TCP context for " + peer_);
}

ModbusTcpLink::~ModbusTcpLink() { close(); }

result<void> ModbusTcpLink::connect(std::chrono::milliseconds timeout) {
  close();
  const auto cancelled = [this] {
    return make_errno_error(ECANCELED,
                            "connection to " + peer_ + " cancelled: the adapter is stopping");
  };
  if (latch_.tripped()) return cancelled();
  BOOST_OUTCOME_TRY(fd, connect_tcp(host_, port_, peer_, "the adapter's host and port",
                                    std::chrono::steady_clock::now() + timeout, latch_));
  // libmodbus waits with select() and then sends and receives expecting a blocking socket.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  {
    std::lock_guard lock(socket_mutex_);
    socket_ = fd.release();
    modbus_set_socket(ctx_.get(), socket_);
  }
  // interrupt() may have run before socket_ was published and found nothing to shut down.
  if (latch_.tripped()) {
    close();
    return cancelled();
  }
  connected_ = true;
  flush_before_next_ = false;
  return outcome::success();
}

void ModbusTcpLink::close() noexcept {
  std::lock_guard lock(socket_mutex_);
  if (socket_ >= 0) {
    modbus_close(ctx_.get());
    modbus_set_socket(ctx_.get(), -1);
    socket_ = -1;
  }
  connected_ = false;
}

void ModbusTcpLink::interrupt() noexcept {
  latch_.trip();
  // Wakes libmodbus out of its select()/recv(): the request fails at once.
  std::lock_guard lock(socket_mutex_);
  if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
}

int ModbusTcpLink::call(const ModbusRequest& r, const ModbusReply& reply) {
  auto* ctx = ctx_.get();
  switch (r.function) {
    case FunctionCode::read_coils:
      return modbus_read_bits(ctx, r.address, r.count, reply.bits.data());
    case FunctionCode::read_discrete_inputs:
      return modbus_read_input_bits(ctx, r.address, r.count, reply.bits.data());
    case FunctionCode::read_holding_registers:
      return modbus_read_registers(ctx, r.address, r.count, reply.registers.data());
    case FunctionCode::read_input_registers:
      return modbus_read_input_registers(ctx, r.address, r.count, reply.registers.data());
    case FunctionCode::write_single_coil:
      return modbus_write_bit(ctx, r.address, r.bits[0] != 0 ? TRUE : FALSE);
    case FunctionCode::write_single_register:
      return modbus_write_register(ctx, r.address, r.registers[0]);
    case FunctionCode::write_multiple_coils:
      return modbus_write_bits(ctx, r.address, r.count, r.bits.data());
    case FunctionCode::write_multiple_registers:
      return modbus_write_registers(ctx, r.address, r.count, r.registers.data());
  }
  errno = EINVAL;
  return -1;
}

result<void> ModbusTcpLink::transact(const ModbusRequest& request, const ModbusReply& reply,
                                     std::chrono::milliseconds timeout) {
  if (!connected_) return libmodbus_error(ENOTCONN, "not connected to " + peer_);
  if (is_read(request.function) &&
      (is_bit_function(request.function) ? reply.bits.size() : reply.registers.size()) <
          request.count)
    return libmodbus_error(EINVAL, "reply buffer too small");
  BOOST_OUTCOME_TRY(validate_request(request));
  auto* ctx = ctx_.get();
  if (request.unit != selected_unit_) {
    modbus_set_slave(ctx, request.unit);
    selected_unit_ = request.unit;
  }
  if (timeout != selected_timeout_) {
    const auto ms = std::max<std::int64_t>(1, timeout.count());
    modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(ms / 1000),
                                static_cast<std::uint32_t>((ms % 1000) * 1000));
    selected_timeout_ = timeout;
  }
  if (flush_before_next_) {
    // A response that missed its timeout may still arrive; drop what is already here.
    modbus_flush(ctx);
    flush_before_next_ = false;
  }
  const int rc = call(request, reply);
  const int error = errno;
  const int expected = request.function == FunctionCode::write_single_coil ||
                               request.function == FunctionCode::write_single_register
                           ? 1
                           : request.count;
  if (rc == expected) return outcome::success();
  if (latch_.tripped())
    return libmodbus_error(ECANCELED, "request to " + peer_ + " cancelled: the adapter is stopping");
  if (rc >= 0) return libmodbus_error(EMBBADDATA, "answer of the wrong length from " + peer_);
  if (error == ETIMEDOUT) flush_before_next_ = true;
  return libmodbus_error(error, modbus_strerror(error));
}

}  // namespace guardian::adapters::modbus
