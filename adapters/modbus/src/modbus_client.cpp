#include "guardian/adapters/modbus/modbus_client.hpp"

#include <charconv>

#include "modbus_error.hpp"
#include "modbus_link.hpp"

namespace guardian::adapters::modbus {
namespace {

constexpr std::string_view kForms =
    "tcp://host[:port] (Modbus TCP), rtu+tcp://host:port (RTU through a serial server) or a "
    "serial device such as /dev/ttyUSB0";

[[nodiscard]] result<config::ModbusTcpEndpoint> host_port(std::string_view text,
                                                          std::string_view whole,
                                                          bool port_required) {
  config::ModbusTcpEndpoint tcp;
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {  // [IPv6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos)
      return make_error("'" + std::string(whole) + "': missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':')
        return make_error("'" + std::string(whole) + "': expected ':port' after ']'");
      port = text.substr(close + 2);
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return make_error("'" + std::string(whole) + "': the host is missing");
  tcp.host = std::string(host);
  if (port.empty()) {
    if (port_required)
      return make_error("'" + std::string(whole) +
                        "': the port is required (the serial server's, e.g. 4001 or 8899)");
    return tcp;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
    return make_error("'" + std::string(whole) + "': the port must be a number from 1 to 65535");
  tcp.port = static_cast<std::uint16_t>(value);
  return tcp;
}

[[nodiscard]] char parity_letter(config::Parity p) {
  switch (p) {
    case config::Parity::none:
      return 'N';
    case config::Parity::even:
      return 'E';
    case config::Parity::odd:
      return 'O';
  }
  return '?';
}

}  // namespace

result<ClientEndpoint> parse_endpoint(std::string_view text,
                                      const config::SerialPortSettings& serial) {
  ClientEndpoint e;
  if (text.starts_with("tcp://")) {
    BOOST_OUTCOME_TRY(tcp, host_port(text.substr(6), text, false));
    e.transport = config::ModbusTransport::tcp;
    e.tcp = std::move(tcp);
    return e;
  }
  if (text.starts_with("rtu+tcp://")) {
    BOOST_OUTCOME_TRY(tcp, host_port(text.substr(10), text, true));
    e.transport = config::ModbusTransport::rtu_over_tcp;
    e.tcp = std::move(tcp);
    return e;
  }
  if (text.starts_with('/')) {
    e.transport = config::ModbusTransport::rtu;
    e.serial = serial;
    e.serial.port = std::string(text);
    return e;
  }
  return make_error("'" + std::string(text) + "' is not a Modbus address: write " +
                    std::string(kForms));
}

std::string describe_endpoint(const ClientEndpoint& e) {
  switch (e.transport) {
    case config::ModbusTransport::tcp:
      return "tcp://" + e.tcp.host + ":" + std::to_string(e.tcp.port);
    case config::ModbusTransport::rtu_over_tcp:
      return "rtu+tcp://" + e.tcp.host + ":" + std::to_string(e.tcp.port);
    case config::ModbusTransport::rtu:
      return e.serial.port + " " + std::to_string(e.serial.baud) + " " +
             std::to_string(e.serial.data_bits) + parity_letter(e.serial.parity) +
             std::to_string(e.serial.stop_bits);
  }
  return "?";
}

struct ModbusClient::Impl {
  std::unique_ptr<ModbusLink> link;
  std::chrono::milliseconds connect_timeout;
};

ModbusClient::ModbusClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModbusClient::~ModbusClient() = default;

result<std::unique_ptr<ModbusClient>> ModbusClient::open(const ClientEndpoint& endpoint,
                                                         std::chrono::milliseconds connect_timeout) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->link = make_link(endpoint.transport, endpoint.tcp, endpoint.serial);
  } catch (const std::exception& e) {
    return make_error(e.what());
  }
  impl->connect_timeout = connect_timeout;
  BOOST_OUTCOME_TRY(impl->link->connect(connect_timeout));
  return std::unique_ptr<ModbusClient>(new ModbusClient(std::move(impl)));
}

result<void> ModbusClient::transact(const ModbusRequest& request, const ModbusReply& reply,
                                    std::chrono::milliseconds timeout) {
  auto& link = *impl_->link;
  if (!link.connected()) {
    BOOST_OUTCOME_TRY(link.connect(impl_->connect_timeout));
  }
  auto done = link.transact(request, reply, timeout);
  if (done) return done;
  const int code = done.error().code.value();
  if (is_protocol_error(code))
    link.resynchronise();
  else if (code != ETIMEDOUT && exception_code(code) == 0)
    link.close();
  return done;
}

std::vector<std::string> ModbusClient::warnings() const { return impl_->link->warnings(); }

const std::string& ModbusClient::peer() const { return impl_->link->peer(); }

void ModbusClient::interrupt() noexcept { impl_->link->interrupt(); }

bool is_timeout(const Error& error) noexcept { return error.code.value() == ETIMEDOUT; }

bool is_garbled(const Error& error) noexcept {
  return error.code.category() == libmodbus_category() && is_protocol_error(error.code.value());
}

int exception_of(const Error& error) noexcept {
  return error.code.category() == libmodbus_category() ? exception_code(error.code.value()) : 0;
}

bool is_gateway_silence(int exception_code) noexcept {
  return exception_code == MODBUS_EXCEPTION_GATEWAY_PATH || exception_code == MODBUS_EXCEPTION_GATEWAY_TARGET;
}

std::string exception_text(int code) { return describe_exception(code); }

}  // namespace guardian::adapters::modbus
