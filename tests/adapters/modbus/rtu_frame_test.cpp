// The RTU frame codec: CRC-16/MODBUS, request encoding for every function, response lengths and
// decoding (data, exceptions, CRC and echo errors), the server-side request length, and the
// inter-frame silence of MBSL §2.5.1.1.
#include <gtest/gtest.h>
#include <modbus/modbus.h>

#include <array>
#include <string_view>
#include <vector>

#include "guardian/adapters/modbus/rtu_frame.hpp"

namespace guardian::adapters::modbus::rtu {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes with_crc(Bytes frame) {
  const auto crc = crc16(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

Bytes encode(const ModbusRequest& request) {
  std::array<std::uint8_t, kMaxAdu> out{};
  auto n = encode_request(request, out);
  EXPECT_TRUE(n) << n.error().message;
  return n ? Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n.value())) : Bytes{};
}

int error_code_of(const result<void>& r) { return r ? 0 : r.error().code.value(); }

TEST(RtuFrame, Crc16MatchesTheCatalogueCheckValueAndTheSpecExample) {
  // CRC-16/MODBUS check value: the CRC of the ASCII digits "123456789" is 0x4B37.
  constexpr std::string_view digits = "123456789";
  EXPECT_EQ(crc16(std::span(reinterpret_cast<const std::uint8_t*>(digits.data()), digits.size())),
            0x4B37);
  // The frame every Modbus tutorial shows: unit 1 reads 10 holding registers from 0 → C5 CD.
  EXPECT_EQ(encode({1, FunctionCode::read_holding_registers, 0, 10, {}, {}}),
            (Bytes{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}));
}

TEST(RtuFrame, EncodesEveryFunctionAsTheSpecificationLaysItOut) {
  EXPECT_EQ(encode({17, FunctionCode::read_coils, 0x13, 0x25, {}, {}}),
            with_crc({0x11, 0x01, 0x00, 0x13, 0x00, 0x25}));
  EXPECT_EQ(encode({17, FunctionCode::read_discrete_inputs, 0xC4, 0x16, {}, {}}),
            with_crc({0x11, 0x02, 0x00, 0xC4, 0x00, 0x16}));
  EXPECT_EQ(encode({17, FunctionCode::read_input_registers, 0x08, 1, {}, {}}),
            with_crc({0x11, 0x04, 0x00, 0x08, 0x00, 0x01}));
  const std::array<std::uint8_t, 1> on{1};
  EXPECT_EQ(encode({17, FunctionCode::write_single_coil, 0xAC, 1, {}, on}),
            with_crc({0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00}));
  const std::array<std::uint16_t, 1> value{0x0003};
  EXPECT_EQ(encode({17, FunctionCode::write_single_register, 0x01, 1, value, {}}),
            with_crc({0x11, 0x06, 0x00, 0x01, 0x00, 0x03}));
  // MBAP §6.11: coils 20–29 = 1,0,1,1,0,0,1,1 | 1,0 → bytes 0xCD 0x01.
  const std::array<std::uint8_t, 10> coils{1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
  EXPECT_EQ(encode({17, FunctionCode::write_multiple_coils, 0x13, 10, {}, coils}),
            with_crc({0x11, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01}));
  const std::array<std::uint16_t, 2> registers{0x000A, 0x0102};
  EXPECT_EQ(encode({17, FunctionCode::write_multiple_registers, 0x01, 2, registers, {}}),
            with_crc({0x11, 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}));
}

TEST(RtuFrame, RefusesRequestsBeyondTheProtocolLimits) {
  std::array<std::uint8_t, kMaxAdu> out{};
  EXPECT_FALSE(encode_request({1, FunctionCode::read_holding_registers, 0, 126, {}, {}}, out));
  EXPECT_FALSE(encode_request({1, FunctionCode::read_coils, 0, 2001, {}, {}}, out));
  EXPECT_FALSE(encode_request({1, FunctionCode::read_holding_registers, 65535, 2, {}, {}}, out));
  EXPECT_FALSE(encode_request({1, FunctionCode::read_input_registers, 0, 0, {}, {}}, out));
  const std::array<std::uint16_t, 2> two{1, 2};
  EXPECT_FALSE(encode_request({1, FunctionCode::write_single_register, 0, 1, two, {}}, out));
  EXPECT_FALSE(encode_request({1, FunctionCode::write_multiple_registers, 0, 3, two, {}}, out));
  std::array<std::uint8_t, 10> small{};
  EXPECT_FALSE(encode_request({1, FunctionCode::read_coils, 0, 1, {}, {}}, small));
}

TEST(RtuFrame, TellsTheResponseLengthFromItsFirstBytes) {
  const auto fc03 = FunctionCode::read_holding_registers;
  EXPECT_EQ(response_length(fc03, Bytes{}), 0U);
  EXPECT_EQ(response_length(fc03, Bytes{0x01}), 0U);
  EXPECT_EQ(response_length(fc03, Bytes{0x01, 0x03}), 0U);  // the byte count is still to come
  EXPECT_EQ(response_length(fc03, Bytes{0x01, 0x03, 0x04}), 9U);
  EXPECT_EQ(response_length(fc03, Bytes{0x01, 0x83}), 5U);  // exception
  EXPECT_EQ(response_length(FunctionCode::write_multiple_registers, Bytes{0x01, 0x10}), 8U);
  EXPECT_EQ(response_length(FunctionCode::write_single_coil, Bytes{0x01, 0x05}), 8U);
  // Another function answered: cannot be delimited, so it is taken as it is and refused.
  EXPECT_EQ(response_length(fc03, Bytes{0x01, 0x04, 0x02}), 3U);
}

TEST(RtuFrame, DecodesRegistersAndBits) {
  std::array<std::uint16_t, 2> registers{};
  std::array<std::uint8_t, 10> bits{};
  const ModbusReply reply{registers, bits};
  ASSERT_TRUE(decode_response({1, FunctionCode::read_holding_registers, 0, 2, {}, {}},
                              with_crc({0x01, 0x03, 0x04, 0x42, 0xF6, 0xE9, 0x79}), reply));
  EXPECT_EQ(registers, (std::array<std::uint16_t, 2>{0x42F6, 0xE979}));
  // MBAP §6.1: coils 20–29 answered as 0xCD 0x01, first coil in the lowest bit.
  ASSERT_TRUE(decode_response({1, FunctionCode::read_coils, 19, 10, {}, {}},
                              with_crc({0x01, 0x01, 0x02, 0xCD, 0x01}), reply));
  EXPECT_EQ(bits, (std::array<std::uint8_t, 10>{1, 0, 1, 1, 0, 0, 1, 1, 1, 0}));
  const std::array<std::uint16_t, 1> value{0x0003};
  EXPECT_TRUE(decode_response({1, FunctionCode::write_single_register, 1, 1, value, {}},
                              with_crc({0x01, 0x06, 0x00, 0x01, 0x00, 0x03}), reply));
}

TEST(RtuFrame, ReportsExceptionsAndBrokenAnswersWithLibmodbusErrnoValues) {
  std::array<std::uint16_t, 2> registers{};
  const ModbusReply reply{registers, {}};
  const ModbusRequest read{1, FunctionCode::read_holding_registers, 0, 2, {}, {}};
  // The textbook exception frame: unit 1, function 0x83, code 02, CRC C0 F1.
  const auto refused = decode_response(read, Bytes{0x01, 0x83, 0x02, 0xC0, 0xF1}, reply);
  EXPECT_EQ(error_code_of(refused), EMBXILADD);
  EXPECT_NE(refused.error().message.find("exception 02 illegal data address"), std::string::npos);
  EXPECT_EQ(error_code_of(decode_response(read, with_crc({0x01, 0x83, 0x0B}), reply)), EMBXGTAR);
  EXPECT_EQ(error_code_of(decode_response(read, with_crc({0x01, 0x83, 0x2A}), reply)), EMBBADEXC);

  auto corrupted = with_crc({0x01, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02});
  corrupted[4] ^= 0x10;
  EXPECT_EQ(error_code_of(decode_response(read, corrupted, reply)), EMBBADCRC);
  // Unit 2's late answer while unit 1 is asked.
  EXPECT_EQ(error_code_of(decode_response(read, with_crc({0x02, 0x03, 0x04, 0, 1, 0, 2}), reply)),
            EMBBADSLAVE);
  // Wrong byte count, wrong function, wrong echo.
  EXPECT_EQ(error_code_of(decode_response(read, with_crc({0x01, 0x03, 0x02, 0, 1}), reply)),
            EMBBADDATA);
  EXPECT_EQ(error_code_of(decode_response(read, with_crc({0x01, 0x04, 0x04, 0, 1, 0, 2}), reply)),
            EMBBADDATA);
  const std::array<std::uint16_t, 1> value{7};
  EXPECT_EQ(error_code_of(decode_response({1, FunctionCode::write_single_register, 1, 1, value, {}},
                                          with_crc({0x01, 0x06, 0x00, 0x01, 0x00, 0x08}), reply)),
            EMBBADDATA);
  EXPECT_EQ(error_code_of(decode_response(read, Bytes{0x01, 0x03}, reply)), EMBBADDATA);
}

TEST(RtuFrame, TellsARequestsLengthOnTheServerSide) {
  EXPECT_EQ(request_length(Bytes{0x01}), 0U);
  EXPECT_EQ(request_length(Bytes{0x01, 0x03}), 8U);
  EXPECT_EQ(request_length(Bytes{0x01, 0x10, 0, 1, 0, 2}), 0U);
  EXPECT_EQ(request_length(Bytes{0x01, 0x10, 0, 1, 0, 2, 4}), 13U);
  EXPECT_EQ(request_length(Bytes{0x01, 0x2B, 0x0E}), 3U);  // unknown function: discard
}

TEST(RtuFrame, KeepsThreeAndAHalfCharactersOfSilenceAndAFixedGapAbove19200Baud) {
  config::SerialPortSettings s;
  s.baud = 9600;
  s.parity = config::Parity::even;  // 1 start + 8 data + 1 parity + 1 stop = 11 bits
  EXPECT_NEAR(static_cast<double>(frame_gap(s).count()), 3.5 * 11 / 9600 * 1e6, 2.0);
  s.parity = config::Parity::none;  // 10 bits
  EXPECT_NEAR(static_cast<double>(frame_gap(s).count()), 3.5 * 10 / 9600 * 1e6, 2.0);
  s.baud = 115200;
  EXPECT_EQ(frame_gap(s), std::chrono::microseconds{1750});
  s.baud = 9600;
  EXPECT_NEAR(static_cast<double>(transmission_time(s, 8).count()), 8 * 10 / 9600.0 * 1e6, 2.0);
}

}  // namespace
}  // namespace guardian::adapters::modbus::rtu
