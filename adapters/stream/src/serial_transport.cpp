// The serial transport: a Boost.Asio serial_port configured from the adapter's `serial` section
// (termios underneath), reopened with back-off when it cannot be opened or fails (a USB adapter
// unplugged, the far end of a pty closed).

#include <boost/asio/serial_port.hpp>

#include "guardian/config/site_config.hpp"
#include "reconnecting_transport.hpp"
#include "transports.hpp"

namespace guardian::adapters::stream::detail {
namespace {

namespace asio = boost::asio;
using Port = asio::serial_port;

class SerialTransport final : public ReconnectingTransport {
 public:
  SerialTransport(asio::io_context& io, const config::StreamAdapterConfig& config)
      : ReconnectingTransport(io, config), settings_(config.serial) {}

 private:
  void open() override {
    Port port(io_);
    boost::system::error_code ec;
    port.open(settings_.port, ec);
    if (ec) return failed("cannot open " + settings_.port + ": " + ec.message());
    const auto set = [&](const auto& option, const char* what) {
      if (ec) return;
      port.set_option(option, ec);
      if (ec)
        ec_what_ =
            std::string("cannot set ") + what + " on " + settings_.port + ": " + ec.message();
    };
    set(Port::baud_rate(static_cast<unsigned>(settings_.baud)), "the baud rate");
    set(Port::character_size(static_cast<unsigned>(settings_.data_bits)), "the data bits");
    set(Port::parity(parity()), "the parity");
    set(Port::stop_bits(settings_.stop_bits == 2 ? Port::stop_bits::two : Port::stop_bits::one),
        "the stop bits");
    set(Port::flow_control(flow_control()), "the flow control");
    if (ec) return failed(ec_what_);
    opened(std::move(port), "");
  }

  void cancel_open() override {}  // opening is synchronous: nothing is ever in progress

  [[nodiscard]] Port::parity::type parity() const {
    switch (settings_.parity) {
      case config::Parity::even:
        return Port::parity::even;
      case config::Parity::odd:
        return Port::parity::odd;
      case config::Parity::none:
        break;
    }
    return Port::parity::none;
  }

  [[nodiscard]] Port::flow_control::type flow_control() const {
    switch (settings_.flow_control) {
      case config::FlowControl::software:
        return Port::flow_control::software;
      case config::FlowControl::hardware:
        return Port::flow_control::hardware;
      case config::FlowControl::none:
        break;
    }
    return Port::flow_control::none;
  }

  config::StreamSerialSettings settings_;
  std::string ec_what_;
};

}  // namespace

std::shared_ptr<Transport> make_serial_transport(const config::StreamAdapterConfig& config,
                                                 asio::io_context& io) {
  return std::make_shared<SerialTransport>(io, config);
}

}  // namespace guardian::adapters::stream::detail
