// Reading a `serial` map, the same keys for a Modbus RTU bus and a stream adapter's serial port.

#include <algorithm>
#include <array>

#include "sections.hpp"

namespace guardian::config::detail {
namespace {

constexpr std::array<Choice<Parity>, 3> kParities{
    {{"none", Parity::none}, {"even", Parity::even}, {"odd", Parity::odd}}};
constexpr std::array<Choice<int>, 4> kDataBits{{{"5", 5}, {"6", 6}, {"7", 7}, {"8", 8}}};
// MBSL §2.5.1 (RTU) and §2.5.2 (ASCII): a Modbus character has 8 or 7 data bits.
constexpr std::array<Choice<int>, 2> kModbusDataBits{{{"7", 7}, {"8", 8}}};
constexpr std::array<Choice<int>, 2> kStopBits{{{"1", 1}, {"2", 2}}};
constexpr std::array<Choice<FlowControl>, 3> kFlowControls{{{"none", FlowControl::none},
                                                            {"software", FlowControl::software},
                                                            {"hardware", FlowControl::hardware}}};

/// The standard rates a serial port can be set to (termios), e.g. 9600 or 19200.
ScalarParser<int> baud_rate() {
  auto integer = integer_between(1, 4'000'000);
  std::string expected = "a standard baud rate (";
  for (const int b : kStandardBaudRates) expected += std::to_string(b) + ", ";
  expected.resize(expected.size() - 2);
  expected += ")";
  return {expected, [integer, expected](std::string_view text) -> result<int> {
            auto value = integer.parse(text);
            if (!value) return expected_but_got(expected, text);
            const auto rate = static_cast<int>(value.value());
            if (std::find(kStandardBaudRates.begin(), kStandardBaudRates.end(), rate) ==
                kStandardBaudRates.end())
              return expected_but_got(expected, text,
                                      "serial ports are set to one of these rates only");
            return rate;
          }};
}

}  // namespace

void read_serial_port(ObjectReader& r, SerialPortSettings& s, SerialLineUse use) {
  if (auto port = r.required("port", text())) s.port = std::move(*port);
  r.read("baud", s.baud, baud_rate());
  r.read("parity", s.parity, one_of(kParities));
  if (use == SerialLineUse::modbus)
    r.read("data_bits", s.data_bits, one_of(kModbusDataBits));
  else
    r.read("data_bits", s.data_bits, one_of(kDataBits));
  r.read("stop_bits", s.stop_bits, one_of(kStopBits));
  r.read("flow_control", s.flow_control, one_of(kFlowControls));
  r.read("rs485", s.rs485, boolean());
}

}  // namespace guardian::config::detail
