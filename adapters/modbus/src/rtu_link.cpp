#include "rtu_link.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "modbus_error.hpp"
#include "serial_port.hpp"

namespace guardian::adapters::modbus {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// resynchronise(): the quiet time that ends a stream of stray bytes, and the longest it waits.
constexpr auto kMinQuiet = 20ms;
constexpr auto kMaxResynchronise = 500ms;

}  // namespace

RtuLink::RtuLink(std::string peer, std::chrono::microseconds frame_gap,
                 std::optional<config::SerialPortSettings> serial)
    : peer_(std::move(peer)), frame_gap_(frame_gap), serial_(std::move(serial)) {}

Error RtuLink::cancelled() const {
  return libmodbus_error(ECANCELED, "request to " + peer_ + " cancelled: the adapter is stopping");
}

Error RtuLink::lost(int errno_value, const std::string& what) {
  close();
  return libmodbus_error(errno_value, what + " " + peer_ + ": " + std::strerror(errno_value));
}

result<void> RtuLink::send(std::size_t length) {
  std::size_t sent = 0;
  // Writing 256 bytes at 300 baud takes ~9 s; the kernel buffers far more than one frame, so
  // this bound only trips on a port that accepts nothing at all.
  const auto deadline = Clock::now() + 10s;
  while (sent < length) {
    const auto n = ::write(fd_.get(), tx_.data() + sent, length - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return lost(errno, "cannot write to");
    switch (wait_for(fd_.get(), POLLOUT, latch_, deadline)) {
      case WaitOutcome::ready:
        break;
      case WaitOutcome::interrupted:
        return cancelled();
      case WaitOutcome::timed_out:
        return lost(ETIMEDOUT, "cannot write to");
      case WaitOutcome::hung_up:
        return lost(EIO, "connection lost to");
    }
  }
  return outcome::success();
}

result<void> RtuLink::transact(const ModbusRequest& request, const ModbusReply& reply,
                               std::chrono::milliseconds timeout) {
  if (!fd_.valid()) return libmodbus_error(ENOTCONN, "not connected to " + peer_);
  BOOST_OUTCOME_TRY(length, rtu::encode_request(request, tx_));
  if (is_read(request.function) &&
      (is_bit_function(request.function) ? reply.bits.size() : reply.registers.size()) <
          request.count)
    return libmodbus_error(EINVAL, "reply buffer too small");
  if (flush_before_next_) {
    // The late answer to a request that timed out would be taken for this one's.
    discard_input(fd_.get());
    flush_before_next_ = false;
  }
  // MBSL §2.5.1.1: a frame is preceded by at least 3.5 character times of silence.
  if (frame_gap_.count() > 0 && !sleep_until(latch_, line_busy_until_ + frame_gap_))
    return cancelled();
  BOOST_OUTCOME_TRY(send(length));
  const auto sent = Clock::now();
  // The unit's timeout counts from the end of the request on the wire.
  const auto on_wire = serial_ ? rtu::transmission_time(*serial_, length) : 0us;
  const auto deadline = sent + on_wire + timeout;
  line_busy_until_ = sent + on_wire;

  std::size_t received = 0;
  std::size_t expected = 0;
  while (expected == 0 || received < expected) {
    switch (wait_for(fd_.get(), POLLIN, latch_, deadline)) {
      case WaitOutcome::ready:
        break;
      case WaitOutcome::interrupted:
        return cancelled();
      case WaitOutcome::timed_out:
        line_busy_until_ = Clock::now();
        flush_before_next_ = true;
        return libmodbus_error(ETIMEDOUT, "no answer from unit " + std::to_string(request.unit));
      case WaitOutcome::hung_up:
        return lost(EIO, "connection lost to");
    }
    const auto n = ::read(fd_.get(), rx_.data() + received, rx_.size() - received);
    if (n == 0) return lost(ECONNRESET, "connection closed by");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return lost(errno, "cannot read from");
    }
    received += static_cast<std::size_t>(n);
    expected = rtu::response_length(request.function, std::span(rx_.data(), received));
    if (expected > rtu::kMaxAdu || (expected == 0 && received == rx_.size())) {
      flush_before_next_ = true;
      return libmodbus_error(EMBBADDATA, "answer longer than an RTU frame from " + peer_);
    }
  }
  line_busy_until_ = Clock::now();
  // Bytes beyond the frame are noise or another frame: they must not start the next answer.
  if (received > expected) flush_before_next_ = true;
  return rtu::decode_response(request, std::span<const std::uint8_t>(rx_.data(), expected), reply);
}

void RtuLink::resynchronise() noexcept {
  if (!fd_.valid()) return;
  const auto quiet = std::max<std::chrono::microseconds>(2 * frame_gap_, kMinQuiet);
  const auto give_up = Clock::now() + kMaxResynchronise;
  while (Clock::now() < give_up) {
    discard_input(fd_.get());
    const auto outcome = wait_for(fd_.get(), POLLIN, latch_, Clock::now() + quiet);
    if (outcome == WaitOutcome::timed_out) break;  // the line fell silent
    if (outcome != WaitOutcome::ready) {
      if (outcome == WaitOutcome::hung_up) close();
      return;
    }
  }
  line_busy_until_ = Clock::now();
  flush_before_next_ = false;
}

RtuSerialLink::RtuSerialLink(config::SerialPortSettings settings)
    : RtuLink(settings.port, rtu::frame_gap(settings), settings), settings_(std::move(settings)) {}

result<void> RtuSerialLink::connect(std::chrono::milliseconds /*timeout*/) {
  // Opening a serial port does not wait for a peer: there is nothing to time out.
  close();
  if (latch_.tripped()) return cancelled();
  warnings_.clear();
  BOOST_OUTCOME_TRY(fd, open_serial_port(settings_, warnings_));
  fd_ = std::move(fd);
  return outcome::success();
}

RtuOverTcpLink::RtuOverTcpLink(std::string host, std::uint16_t port)
    : RtuLink(host + ":" + std::to_string(port), {}, std::nullopt),
      host_(std::move(host)),
      port_(port) {}

result<void> RtuOverTcpLink::connect(std::chrono::milliseconds timeout) {
  close();
  if (latch_.tripped()) return cancelled();
  BOOST_OUTCOME_TRY(fd, connect_tcp(host_, port_, peer(), "the adapter's host and port",
                                    Clock::now() + timeout, latch_));
  fd_ = std::move(fd);
  return outcome::success();
}

}  // namespace guardian::adapters::modbus
