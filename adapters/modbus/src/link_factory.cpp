#include "modbus_link.hpp"
#include "rtu_link.hpp"

namespace guardian::adapters::modbus {

std::unique_ptr<ModbusLink> make_link(config::ModbusTransport transport,
                                      const config::ModbusTcpEndpoint& tcp,
                                      const config::SerialPortSettings& serial) {
  switch (transport) {
    case config::ModbusTransport::tcp:
      return std::make_unique<ModbusTcpLink>(tcp.host, tcp.port);
    case config::ModbusTransport::rtu:
      return std::make_unique<RtuSerialLink>(serial);
    case config::ModbusTransport::rtu_over_tcp:
      return std::make_unique<RtuOverTcpLink>(tcp.host, tcp.port);
  }
  return nullptr;
}

const char* transport_type(config::ModbusTransport transport) noexcept {
  switch (transport) {
    case config::ModbusTransport::tcp:
      return "modbus-tcp";
    case config::ModbusTransport::rtu:
      return "modbus-rtu";
    case config::ModbusTransport::rtu_over_tcp:
      return "modbus-rtu-over-tcp";
  }
  return "modbus";
}

}  // namespace guardian::adapters::modbus
