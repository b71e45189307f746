// `type: serial | tcp-client | tcp-server | udp` adapters: every key read into its typed field,
// and every rule that can be judged from the file reported at its line and column.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::has_errors;
using testing::loads;
using testing::parse;

TEST(StreamSection, ASerialLineAdapterLoadsEveryKey) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: espresso-serial
    type: serial
    source: espresso-2
    serial: {port: /dev/ttyUSB0, baud: 19200, parity: even, data_bits: 7, stop_bits: 2, flow_control: hardware}
    silence_timeout: 30s
    backoff: {min: 500ms, max: 10s}
    poll: {send: "STATUS?\r\n", interval: 5s, timeout: 800ms, reply: status}
    codec:
      type: lines
      delimiter: "\r\n"
      max_line: 200
      trim: false
      messages:
        - name: status
          regex: '^\$STAT,(?<temp>[0-9.]+)\*[0-9A-F]{2}$'
          checksum: {type: xor, start: "$", end: "*"}
          fields:
            - {name: temp, type: float, scale: 0.5, offset: 1, unit: degC}
        - name: shot
          record: true
          csv: {separator: ";"}
          prefix: "S;"
          fields:
            - {name: duration, column: 1, type: int, unit: s}
            - {name: state, column: 2, type: enum, enum: {0: idle, 1: busy}}
)");
  ASSERT_TRUE(loads(result));
  const auto& a = std::get<StreamAdapterConfig>(result.config->adapters.at(0));
  EXPECT_EQ(a.transport, StreamTransport::serial);
  EXPECT_EQ(a.source, "espresso-2");
  EXPECT_EQ(a.serial.port, "/dev/ttyUSB0");
  EXPECT_EQ(a.serial.baud, 19200);
  EXPECT_EQ(a.serial.parity, Parity::even);
  EXPECT_EQ(a.serial.data_bits, 7);
  EXPECT_EQ(a.serial.stop_bits, 2);
  EXPECT_EQ(a.serial.flow_control, FlowControl::hardware);
  EXPECT_EQ(a.silence_timeout, 30s);
  EXPECT_EQ(a.backoff_min, 500ms);
  ASSERT_TRUE(a.poll);
  EXPECT_EQ(a.poll->query,
            (std::vector<std::uint8_t>{'S', 'T', 'A', 'T', 'U', 'S', '?', '\r', '\n'}));
  EXPECT_EQ(a.poll->interval, 5s);
  EXPECT_EQ(a.poll->timeout, 800ms);
  EXPECT_EQ(a.poll->reply, "status");
  EXPECT_EQ(a.codec.kind, CodecKind::lines);
  EXPECT_EQ(a.codec.lines.delimiter, "\r\n");
  EXPECT_EQ(a.codec.lines.max_line, 200u);
  EXPECT_FALSE(a.codec.lines.trim);
  ASSERT_EQ(a.codec.lines.messages.size(), 2u);
  const auto& status = a.codec.lines.messages[0];
  EXPECT_EQ(status.syntax, LineSyntax::regex);
  ASSERT_TRUE(status.checksum);
  EXPECT_EQ(status.checksum->kind, ChecksumKind::xor8);
  EXPECT_EQ(status.fields.at(0).group, "temp");
  EXPECT_DOUBLE_EQ(status.fields.at(0).scale, 0.5);
  const auto& shot = a.codec.lines.messages[1];
  EXPECT_TRUE(shot.record);
  EXPECT_EQ(shot.syntax, LineSyntax::csv);
  EXPECT_EQ(shot.separator, ";");
  EXPECT_EQ(shot.prefix, "S;");
  EXPECT_EQ(shot.fields.at(1).type, FieldType::enumeration);
  EXPECT_EQ(shot.fields.at(1).enum_map.at(1), "busy");
}

TEST(StreamSection, ABinaryCodecLoadsItsFramingChecksumAndLayout) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: fridge
    type: tcp-client
    host: 10.0.0.7
    port: 4001
    connect_timeout: 2s
    codec:
      type: binary
      sync: "AA 55"
      length: {at: 2, size: 2, endian: little, counts: from, from: 4, adjust: -1}
      max_frame: 64
      checksum: {type: crc16-kermit}
      endian: little
      messages:
        - name: status
          when: {at: 4, equals: "01"}
          fields:
            - {name: temp, at: 5, type: i16, scale: 0.1}
            - {name: door, at: 7, type: u8, bit: 2}
            - {name: serial, at: 8, type: string, length: 6}
)");
  ASSERT_TRUE(loads(result));
  const auto& a = std::get<StreamAdapterConfig>(result.config->adapters.at(0));
  EXPECT_EQ(a.transport, StreamTransport::tcp_client);
  EXPECT_EQ(a.host, "10.0.0.7");
  EXPECT_EQ(a.port, 4001);
  EXPECT_EQ(a.source, "fridge");
  const auto& b = a.codec.binary;
  EXPECT_EQ(b.sync, (std::vector<std::uint8_t>{0xAA, 0x55}));
  ASSERT_TRUE(b.length);
  EXPECT_EQ(b.length->size, 2u);
  EXPECT_EQ(b.length->endian, Endian::little);
  EXPECT_EQ(b.length->counts, LengthCounts::from);
  EXPECT_EQ(b.length->from, 4u);
  EXPECT_EQ(b.length->adjust, -1);
  ASSERT_TRUE(b.checksum);
  EXPECT_EQ(b.checksum->kind, ChecksumKind::crc16_kermit);
  EXPECT_EQ(b.checksum->from, 2);  // after the sync
  EXPECT_EQ(b.checksum->at, -2);   // the last two bytes
  EXPECT_EQ(b.checksum->to, -2);
  EXPECT_EQ(b.checksum->endian, Endian::little);  // Kermit sends the low byte first
  const auto& fields = b.messages.at(0).fields;
  EXPECT_EQ(fields.at(0).endian, Endian::little);  // the codec's default
  EXPECT_EQ(fields.at(0).raw, RawType::i16);
  EXPECT_EQ(fields.at(0).type, FieldType::integer);
  EXPECT_EQ(fields.at(1).type, FieldType::boolean);
  EXPECT_EQ(fields.at(1).bit, 2);
  EXPECT_EQ(fields.at(2).type, FieldType::string);
  EXPECT_EQ(b.messages.at(0).when_bytes, std::vector<std::uint8_t>{0x01});
}

TEST(StreamSection, ATcpServerNamesItsPeersAndAUdpReceiverTakesSourcesFromTheData) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: machines
    type: tcp-server
    bind: 127.0.0.1
    port: 7000
    max_connections: 4
    peers:
      - {address: 10.0.0.21, source: grinder-1}
      - {address: "::1", source: grinder-2}
    codec:
      type: json-lines
      messages:
        - name: reading
          fields: [{name: temp, pointer: /t, type: float}]
  - name: sensors
    type: udp
    port: 7001
    source_field: id
    max_sources: 10
    codec:
      type: json-lines
      messages:
        - name: reading
          when: {pointer: /kind, equals: "1"}
          fields:
            - {name: id, pointer: /id, type: string}
            - {name: t, pointer: /a~1b/0, type: float}
)");
  ASSERT_TRUE(loads(result));
  const auto& server = std::get<StreamAdapterConfig>(result.config->adapters.at(0));
  EXPECT_EQ(server.host, "127.0.0.1");
  EXPECT_EQ(server.max_connections, 4u);
  ASSERT_EQ(server.peers.size(), 2u);
  EXPECT_EQ(server.peers[1].address, "::1");
  EXPECT_TRUE(server.source.empty());
  const auto& udp = std::get<StreamAdapterConfig>(result.config->adapters.at(1));
  EXPECT_EQ(udp.host, "0.0.0.0");
  EXPECT_EQ(udp.source_field, "id");
  EXPECT_EQ(udp.max_sources, 10u);
  const auto& m = udp.codec.json.messages.at(0);
  EXPECT_EQ(m.when_tokens, std::vector<std::string>{"kind"});
  EXPECT_EQ(m.when_equals, "1");
  EXPECT_EQ(m.fields.at(1).pointer_tokens, (std::vector<std::string>{"a/b", "0"}));
}

TEST(StreamSection, RegexMistakesAreReportedAtTheRegexAndTheField) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: serial
    serial: {port: /dev/ttyS0}
    codec:
      type: lines
      messages:
        - name: broken
          regex: '(?<t>[0-9+'
          fields: [{name: t, type: float}]
        - name: ok
          regex: '^T=(?<temp>\d+)$'
          fields: [{name: t, type: float}]
)");
  EXPECT_TRUE(has_errors(
      result, {{10, 18, "the regex cannot be used: '[' is never closed"},
               {14, 27, "the regex has no group named 't'; its named groups are 'temp'"}}));
}

TEST(StreamSection, AFieldOutsideTheFrameAndAChecksumPastItsEndAreReported) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: serial
    serial: {port: /dev/ttyS0}
    codec:
      type: binary
      sync: "02"
      frame_length: 8
      checksum: {type: crc16-xmodem, at: -1}
      messages:
        - name: m
          fields:
            - {name: x, at: 6, type: u32}
            - {name: y, at: 0, type: u8, bit: 6, bits: 3}
)");
  EXPECT_TRUE(has_errors(
      result, {{10, 42, "the 2-byte checksum at -1 runs past the end of the frame; use -2"},
               {14, 29, "the field spans bytes 6 to 9, past the end of the frame (frame_length 8)"},
               {15, 47, "bits 6 to 8 do not fit in a u8 (8 bits)"}}));
}

TEST(StreamSection, AModbusTypeNameGetsItsBinaryNameAndNoSecondErrorAndA1BitFieldTakesNoScale) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: serial
    serial: {port: /dev/ttyS0}
    codec:
      type: binary
      sync: "02"
      frame_length: 8
      messages:
        - name: m
          fields:
            - {name: x, at: 1, type: uint16, scale: 0.1}
            - {name: door, at: 3, type: u8, bit: 2, scale: 2}
            - {name: flags, at: 4, type: u8, bit: 2, bits: 3, scale: 2}
)");
  // Exactly these two: no "'scale' only applies to numeric fields" after the unknown type, and
  // a 3-bit group is a number that may be scaled.
  EXPECT_TRUE(has_errors(
      result, {{13, 38, "type: unknown value 'uint16' (did you mean 'u16'?)"},
               {14, 60, "scale: 'scale' does not apply to a 1-bit field (it reads true or false)"}}));
}

TEST(StreamSection, TransportKeysMustFitTheType) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: udp
    port: 9000
    host: 10.0.0.1
    poll: {send: "?"}
    codec:
      type: json-lines
      messages: [{name: m, fields: [{name: t, pointer: /t, type: float}]}]
)");
  EXPECT_TRUE(has_errors(result, {{3, 5, "needs 'peers' (address → source) or 'source_field'"},
                                  {6, 11, "'host' only applies to type tcp-client"},
                                  {7, 11, "a udp receiver does not poll"}}));
}

TEST(StreamSection, ASerialPortTakesTheKeysOfAModbusBusWithFiveToEightDataBits) {
  const auto serial = [](std::string_view keys) {
    return parse("device: {id: gw}\n"                                            // 1
                 "adapters:\n"                                                   // 2
                 "  - name: scale\n"                                             // 3
                 "    type: serial\n"                                            // 4
                 "    serial: {port: /dev/ttyS1, " + std::string(keys) + "}\n"  // 5
                 "    codec: {type: lines, messages: [{name: w, regex: '^(?<g>\\d+)$', "
                 "fields: [{name: g, type: int}]}]}\n");
  };
  const auto ok = serial("data_bits: 5, rs485: true");
  ASSERT_TRUE(loads(ok));
  const auto& a = std::get<StreamAdapterConfig>(ok.config->adapters.at(0));
  EXPECT_EQ(a.serial.data_bits, 5);
  EXPECT_TRUE(a.serial.rs485);
  // One reader for every serial port: the same standard rates as a Modbus bus, said at check
  // time rather than when the port refuses it.
  EXPECT_TRUE(has_error(serial("baud: 14400"), 5, 38,
                        "serial.baud: expected a standard baud rate (300, 600, 1200"));
  EXPECT_TRUE(has_error(serial("data_bits: 9"), 5, 43,
                        "serial.data_bits: unknown value '9'; expected one of '5', '6', '7', '8'"));
}

TEST(StreamSection, CrossReferencesAreChecked) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: tcp-server
    port: 9000
    source_field: machine
    poll: {send: "?", send_hex: "3F", reply: answer}
    codec:
      type: json-lines
      messages:
        - name: m
          fields:
            - {name: machine, pointer: /id, type: int}
            - {name: t, pointer: t, type: float}
)");
  EXPECT_TRUE(has_errors(
      result, {{6, 19, "field 'machine' of message 'm' must be of type string"},
               {7, 11, "give either 'send' (text) or 'send_hex', not both"},
               {7, 11, "poll.reply names message 'answer'"},
               {14, 34, "expected a JSON pointer such as /boiler/temp (RFC 6901), got 't'"}}));
}

TEST(StreamSection, UnknownCodecKeysGetADidYouMean) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: tcp-client
    host: h
    port: 1
    codec:
      type: lines
      delimter: ";"
      messages: [{name: m, key_value: {}, fields: [{name: t, type: flaot}]}]
)");
  EXPECT_TRUE(has_errors(result, {{9, 7, "unknown key 'delimter' (did you mean 'delimiter'?)"},
                                  {10, 68, "unknown value 'flaot' (did you mean 'float'?)"}}));
}

TEST(StreamSection, SourceNamesAreUniqueAcrossTheSite) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: a
    type: serial
    serial: {port: /dev/ttyS0}
    source: machine-1
    codec: {type: lines, messages: [{name: m, csv: {}, fields: [{name: t, column: 0, type: float}]}]}
  - name: b
    type: udp
    port: 5000
    peers: [{address: 10.0.0.1, source: machine-1}]
    codec: {type: lines, messages: [{name: m, csv: {}, fields: [{name: t, column: 0, type: float}]}]}
)");
  EXPECT_TRUE(has_error(result, 11, 41, "duplicate source name 'machine-1' (first used at line 6"));
}

}  // namespace
}  // namespace guardian::config

namespace guardian::config {
namespace {

TEST(StreamSection, ABackReferenceIsRefusedBecauseLinesAreMatchedInLinearTime) {
  const auto result = testing::parse(R"(device: {id: gw}
adapters:
  - name: a
    type: serial
    serial: {port: /dev/ttyS0}
    codec:
      type: lines
      messages:
        - name: m
          regex: '(?<a>x)\1'
          fields: [{name: a, type: string}]
)");
  EXPECT_TRUE(testing::has_error(result, 10, 18, "the regex does not compile"));
}

}  // namespace
}  // namespace guardian::config
