#include "serial_port.hpp"

#include <fcntl.h>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace guardian::adapters {
namespace {

// termios speed constants for the rates config::kStandardBaudRates lists.
[[nodiscard]] std::optional<speed_t> speed_of(int baud) noexcept {
  switch (baud) {
    case 300: return B300;
    case 600: return B600;
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 2000000: return B2000000;
    case 4000000: return B4000000;
    default: return std::nullopt;
  }
}

[[nodiscard]] tcflag_t character_size(int data_bits) noexcept {
  switch (data_bits) {
    case 5: return CS5;
    case 6: return CS6;
    case 7: return CS7;
    default: return CS8;
  }
}

[[nodiscard]] Error port_error(int error, const std::string& port, const std::string& what) {
  std::string hint;
  if (error == ENOENT) hint = " (is the adapter plugged in? check serial.port)";
  if (error == EACCES) hint = " (add the guardian user to the 'dialout' group)";
  return make_errno_error(error, "cannot " + what + " serial port " + port + ": " +
                                     std::strerror(error) + hint);
}

// Switches the port to RS-485 (MBSL §3.3.2: two-wire, the transmitter enabled only while
// sending): the driver raises RTS for the frame and drops it after, so the echo-free
// half-duplex bus works without user-space timing.
void enable_rs485(int fd, const std::string& port, std::vector<std::string>& warnings) {
  serial_rs485 conf{};
  if (::ioctl(fd, TIOCGRS485, &conf) == 0) {
    conf.flags |= SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
    conf.flags &= ~static_cast<std::uint32_t>(SER_RS485_RTS_AFTER_SEND);
    if (::ioctl(fd, TIOCSRS485, &conf) == 0) return;
  }
  const int error = errno;
  warnings.push_back("serial.rs485 is set but " + port +
                     " cannot switch to RS-485 mode (" + std::strerror(error) +
                     "): it is used as it is; that is right for a USB adapter that drives its "
                     "transmitter itself, otherwise set rs485: false and check the wiring");
}

// Unix98 pseudo-terminal slaves (/dev/pts/N) have majors 136 to 143 (devices.txt).
[[nodiscard]] bool is_pseudo_terminal(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  const auto major_number = major(st.st_rdev);
  return major_number >= 136 && major_number <= 143;
}

}  // namespace

result<UniqueFd> open_serial_port(const config::SerialPortSettings& s,
                                  std::vector<std::string>& warnings) {
  UniqueFd fd(::open(s.port.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return port_error(errno, s.port, "open");
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK)
      return make_errno_error(error, "serial port " + s.port +
                                         " is in use by another process (a running guardian "
                                         "daemon reads it? go through the daemon, or stop it)");
    return port_error(error, s.port, "lock");
  }
  termios tio{};
  if (::tcgetattr(fd.get(), &tio) != 0) {
    const int error = errno;
    return make_errno_error(error, s.port + " is not a serial port: " + std::strerror(error));
  }
  const auto speed = speed_of(s.baud);
  if (!speed)
    return make_errno_error(EINVAL, "baud rate " + std::to_string(s.baud) +
                                        " is not a standard rate this port can be set to");
  ::cfmakeraw(&tio);
  tio.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
  tio.c_cflag |= CLOCAL | CREAD | character_size(s.data_bits);
  if (s.parity != config::Parity::none) tio.c_cflag |= PARENB;
  if (s.parity == config::Parity::odd) tio.c_cflag |= PARODD;
  if (s.stop_bits == 2) tio.c_cflag |= CSTOPB;
  tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  if (s.flow_control == config::FlowControl::hardware) tio.c_cflag |= CRTSCTS;
  if (s.flow_control == config::FlowControl::software) tio.c_iflag |= IXON | IXOFF;
  // Messages are delimited by their length or a delimiter (rtu_frame.hpp, the stream codecs),
  // never by the driver: a read returns what is there. VMIN 1 (not 0): with VMIN = VTIME = 0 the
  // Linux tty layer answers a read on an empty port with 0 bytes even on this O_NONBLOCK
  // descriptor (n_tty_read returns before its non-blocking check), which Asio and the RTU link
  // rightly take for end of file; with VMIN 1 an empty port answers EAGAIN.
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  ::cfsetispeed(&tio, *speed);
  ::cfsetospeed(&tio, *speed);
  if (::tcsetattr(fd.get(), TCSANOW, &tio) != 0) {
    const int error = errno;
    // A pseudo-terminal has no parity bit: Linux clears PARENB and refuses a change that only
    // sets it. A test bench's pty carries the frames all the same.
    if (error != EINVAL || s.parity == config::Parity::none || !is_pseudo_terminal(fd.get()))
      return port_error(error, s.port, "configure");
    tio.c_cflag &= ~static_cast<tcflag_t>(PARENB | PARODD);
    if (::tcsetattr(fd.get(), TCSANOW, &tio) != 0) return port_error(errno, s.port, "configure");
    warnings.push_back(s.port + " is a pseudo-terminal, which has no parity bit: the parity setting "
                                "is ignored");
  }
  ::tcflush(fd.get(), TCIOFLUSH);
  if (s.rs485) enable_rs485(fd.get(), s.port, warnings);
  return fd;
}

}  // namespace guardian::adapters
