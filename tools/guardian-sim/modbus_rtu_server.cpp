#include "modbus_rtu_server.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "guardian/adapters/modbus/rtu_frame.hpp"

namespace guardian::sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds{100};
// A frame whose rest does not follow within this is noise or a master that gave up.
constexpr auto kStaleFrame = std::chrono::milliseconds{100};

}  // namespace

ModbusRtuSimServer::ModbusRtuSimServer(ModbusRtuSimOptions options, SimulatedUnits& units)
    : options_(std::move(options)), units_(units) {}

ModbusRtuSimServer::~ModbusRtuSimServer() = default;

result<void> ModbusRtuSimServer::open() {
  ctx_.reset(modbus_new_rtu(options_.port.c_str(), options_.baud, options_.parity,
                            options_.data_bits, options_.stop_bits));
  if (!ctx_)
    return make_errno_error(errno, "cannot create an RTU context for " + options_.port + ": " +
                                       modbus_strerror(errno));
  if (modbus_connect(ctx_.get()) != 0)
    return make_errno_error(errno, "cannot open serial port " + options_.port + ": " +
                                       modbus_strerror(errno));
  return outcome::success();
}

void ModbusRtuSimServer::serve_frames() {
  namespace rtu = adapters::modbus::rtu;
  while (buffer_.size() >= 2) {
    const std::size_t length = rtu::request_length(buffer_);
    if (length == 0 || length > buffer_.size()) {
      if (length > rtu::kMaxAdu) buffer_.clear();
      return;  // the rest of the frame is still on its way
    }
    const std::span<const std::uint8_t> frame(buffer_.data(), length);
    const std::uint16_t crc =
        static_cast<std::uint16_t>(frame[length - 2] | (frame[length - 1] << 8));
    if (length < 4 || rtu::crc16(frame.first(length - 2)) != crc) {
      // Noise, or a function this framing cannot delimit: nothing after it can be trusted.
      buffer_.clear();
      return;
    }
    const int unit = frame[0];
    if (units_.serves(unit))
      (void)units_.answer(ctx_.get(), unit, frame.data(), static_cast<int>(length));
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(length));
  }
}

bool ModbusRtuSimServer::run(const volatile std::sig_atomic_t& stop) {
  const int fd = modbus_get_socket(ctx_.get());
  auto last_tick = Clock::now();
  auto next_tick = last_tick + kTick;
  std::array<std::uint8_t, 512> chunk{};
  while (stop == 0) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - Clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) return false;
    if (ready > 0 && (p.revents & POLLIN) != 0) {
      const auto n = ::read(fd, chunk.data(), chunk.size());
      if (n > 0) {
        const auto now = Clock::now();
        if (!buffer_.empty() && now - last_byte_ > kStaleFrame) buffer_.clear();
        last_byte_ = now;
        buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + n);
        serve_frames();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return false;
      }
    } else if (ready > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return false;  // the other end of the line is gone
    }
    const auto now = Clock::now();
    if (now >= next_tick) {
      units_.tick(std::chrono::duration<double>(now - last_tick).count());
      last_tick = now;
      next_tick = now + kTick;
    }
  }
  return true;
}

}  // namespace guardian::sim
