// The serial transport: the port opened and configured by the adapters' one serial opener
// (adapters/src/serial_port.hpp: exclusive use, raw mode, character format, flow control,
// RS-485 mode), handed to a Boost.Asio serial_port, and reopened with back-off when it cannot be
// opened or fails (a USB adapter unplugged, the far end of a pty closed).

#include <mutex>

#include <boost/asio/serial_port.hpp>

#include "guardian/config/site_config.hpp"
#include "reconnecting_transport.hpp"
#include "serial_port.hpp"
#include "transports.hpp"

namespace guardian::adapters::stream::detail {
namespace {

namespace asio = boost::asio;

class SerialTransport final : public ReconnectingTransport {
 public:
  SerialTransport(asio::io_context& io, const config::StreamAdapterConfig& config)
      : ReconnectingTransport(io, config), settings_(config.serial) {}

  [[nodiscard]] std::vector<std::string> warnings() const override {
    std::lock_guard lock(warnings_mutex_);
    return warnings_;
  }

 private:
  void open() override {
    std::vector<std::string> warnings;
    auto fd = open_serial_port(settings_, warnings);
    {
      std::lock_guard lock(warnings_mutex_);
      warnings_ = std::move(warnings);
    }
    if (!fd) return failed(fd.error().message);
    asio::serial_port port(io_);
    boost::system::error_code ec;
    const int native = fd.value().get();
    port.assign(native, ec);
    if (ec) return failed("cannot use serial port " + settings_.port + ": " + ec.message());
    (void)fd.value().release();  // the serial_port owns it now
    opened(std::move(port), "");
  }

  void cancel_open() override {}  // opening is synchronous: nothing is ever in progress

  config::SerialPortSettings settings_;
  mutable std::mutex warnings_mutex_;  // health() reads warnings_ from any thread
  std::vector<std::string> warnings_;
};

}  // namespace

std::shared_ptr<Transport> make_serial_transport(const config::StreamAdapterConfig& config,
                                                 asio::io_context& io) {
  return std::make_shared<SerialTransport>(io, config);
}

}  // namespace guardian::adapters::stream::detail
