// The rules of `type: modbus` adapters: what each point type allows, address bases, names that
// must be unique, and which keys belong to which transport.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"

namespace guardian::config {
namespace {

using testing::has_error;
using testing::has_errors;
using testing::loads;
using testing::only_point;
using testing::parse;
using testing::point_column;
using testing::point_site;

/// Expects exactly one error at `needle` on the point line, containing `fragment`.
::testing::AssertionResult point_error(std::string_view point, std::string_view needle,
                                       std::string fragment,
                                       std::string_view device_keys = "retries: 1") {
  return has_error(parse(point_site(point, device_keys)), 11, point_column(point, needle),
                   std::move(fragment));
}

/// A site with one Modbus adapter "bus" (its map starts at line 3, column 5) whose keys after
/// `type: modbus` are `adapter_keys`, from line 5, each indented by four spaces. `devices`
/// follows them; by default one valid device.
std::string adapter_site(
    std::string_view adapter_keys,
    std::string_view devices =
        "[{name: x, points: [{name: t, table: input, address: 0, type: int16}]}]") {
  return "device: {id: gw}\n"
         "adapters:\n"
         "  - name: bus\n"
         "    type: modbus\n" +
         std::string(adapter_keys) + "    devices: " + std::string(devices) + "\n";
}

/// A device with `unit_id: <unit>` on line 9 (value at column 18) behind `transport_keys`
/// (two lines of adapter keys).
std::string unit_site(std::string_view transport_keys, std::string_view unit) {
  return adapter_site(transport_keys, "\n      - name: x\n        unit_id: " + std::string(unit) +
                                          "\n        points: [{name: t, table: input, address: "
                                          "0, type: int16}]");
}

TEST(ModbusPointRules, CoilsAndDiscreteInputsHoldOnlyBool) {
  EXPECT_TRUE(loads(parse(point_site("{name: p, table: coil, address: 0, type: bool}"))));
  EXPECT_TRUE(loads(parse(point_site("{name: p, table: discrete, address: 0, type: bool}"))));
  EXPECT_TRUE(point_error("{name: p, table: coil, address: 0, type: uint16}", "uint16",
                          "a coil holds a single bit: use type 'bool', or table 'holding' or "
                          "'input' for type 'uint16'"));
  EXPECT_TRUE(point_error("{name: p, table: discrete, address: 0, type: float32}", "float32",
                          "a discrete holds a single bit: use type 'bool'"));
}

TEST(ModbusPointRules, BoolMayAlsoReadARegister) {
  const auto result = parse(point_site("{name: p, table: holding, address: 0, type: bool}"));
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(only_point(result).type, DataType::boolean);
}

TEST(ModbusPointRules, BitNeedsARegisterTable) {
  EXPECT_TRUE(point_error("{name: p, table: coil, address: 0, type: bit, bit: 1}", "bit, bit",
                          "type 'bit' picks one bit of a 16-bit register (table holding or input); "
                          "a coil is a single bit already: use type 'bool'"));
}

TEST(ModbusPointRules, BitIsRequiredForTypeBitAndRefusedForOthers) {
  const auto result = parse(point_site("{name: p, table: input, address: 0, type: bit, bit: 7}"));
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(only_point(result).bit, 7);
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: bit}", "{",
                          "points[0]: missing required key 'bit' (type bit needs it)"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: uint16, bit: 3}", "3}",
                          "points[0].bit: 'bit' only applies to type bit, not uint16"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: bit, bit: 16}", "16",
                          "16 is out of range: expected an integer between 0 and 15"));
}

TEST(ModbusPointRules, LengthIsRequiredForStringsAndLimitedTo125Registers) {
  const auto result =
      parse(point_site("{name: p, table: holding, address: 0, type: string, length: 125}"));
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(only_point(result).width(), 125);
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: string}", "{",
                          "missing required key 'length' (type string needs it)"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: string, length: 126}", "126",
                          "expected a length in registers, 1 to 125 (e.g. 10 or \"10 registers\"), "
                          "or in characters, 1 to 250 (e.g. \"20 characters\": two per register), "
                          "got '126'"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: int32, length: 2}", "2}",
                          "'length' only applies to type string, not int32"));
}

TEST(ModbusPointRules, AStringLengthSaysWhetherItCountsRegistersOrCharacters) {
  for (const auto& [written, registers] :
       std::vector<std::pair<std::string, int>>{{"10", 10},
                                                {"\"10 registers\"", 10},
                                                {"\"20 characters\"", 10},
                                                {"\"21 chars\"", 11},
                                                {"\"250 characters\"", 125}}) {
    const auto result = parse(
        point_site("{name: p, table: holding, address: 0, type: string, length: " + written + "}"));
    ASSERT_TRUE(loads(result)) << written;
    EXPECT_EQ(only_point(result).width(), registers) << written;
  }
  EXPECT_TRUE(point_error(
      "{name: p, table: holding, address: 0, type: string, length: \"20 bytes\"}", "\"20 bytes\"",
      "expected a length in registers"));
}

TEST(ModbusPointRules, SixtyFourBitOrderSpellingsMapToTheSameOrderForSixtyFourBitTypes) {
  const std::vector<std::pair<std::string, WordOrder>> spellings{{"ABCDEFGH", WordOrder::ABCD},
                                                                 {"HGFEDCBA", WordOrder::DCBA},
                                                                 {"BADCFEHG", WordOrder::BADC},
                                                                 {"GHEFCDAB", WordOrder::CDAB}};
  for (const auto& [spelling, order] : spellings) {
    const auto result = parse(
        point_site("{name: p, table: holding, address: 0, type: uint64, order: " + spelling + "}"));
    ASSERT_TRUE(loads(result)) << spelling;
    EXPECT_EQ(only_point(result).order, order) << spelling;
  }
  // The four-letter spellings describe the same transformation for 64-bit values.
  const auto short_form =
      parse(point_site("{name: p, table: holding, address: 0, type: float64, order: CDAB}"));
  ASSERT_TRUE(loads(short_form));
  EXPECT_EQ(only_point(short_form).order, WordOrder::CDAB);
}

TEST(ModbusPointRules, SixtyFourBitOrderSpellingsAreRefusedForShorterTypes) {
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: float32, order: GHEFCDAB}",
                          "GHEFCDAB",
                          "this 8-letter order is for 64-bit types (int64, uint64, float64); for "
                          "type float32 write 'CDAB'"));
}

TEST(ModbusPointRules, OrderOnlyAppliesToRegisterTables) {
  EXPECT_TRUE(point_error("{name: p, table: coil, address: 0, type: bool, order: DCBA}", "DCBA",
                          "'order' only applies to register tables"));
}

TEST(ModbusPointRules, AnUnknownOrderListsTheAllowedOnes) {
  EXPECT_TRUE(
      point_error("{name: p, table: holding, address: 0, type: int32, order: abcd}", "abcd",
                  "unknown value 'abcd' (did you mean 'ABCD'?); expected one of 'ABCD', "
                  "'DCBA', 'BADC', 'CDAB', 'ABCDEFGH', 'HGFEDCBA', 'BADCFEHG', 'GHEFCDAB'"));
}

TEST(ModbusPointRules, ScaleAndOffsetOnlyApplyToNumericTypes) {
  const auto result = parse(point_site(
      "{name: p, table: holding, address: 0, type: int16, scale: 0.1, offset: -273.15}"));
  ASSERT_TRUE(loads(result));
  EXPECT_DOUBLE_EQ(only_point(result).scale, 0.1);
  EXPECT_DOUBLE_EQ(only_point(result).offset, -273.15);
  EXPECT_TRUE(point_error("{name: p, table: coil, address: 0, type: bool, scale: 2}", "2}",
                          "'scale' only applies to numeric types, not bool"));
  EXPECT_TRUE(
      point_error("{name: p, table: holding, address: 0, type: string, length: 2, "
                  "offset: 1}",
                  "1}", "'offset' only applies to numeric types, not string"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: int16, scale: 0}", "0}",
                          "expected a decimal number other than 0, got '0'"));
}

TEST(ModbusPointRules, EnumLabelsOnlyApplyToIntegerTypes) {
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: float32, enum: {1: on}}",
                          "{1: on}", "'enum' only applies to integer types, not float32"));
  EXPECT_TRUE(
      point_error("{name: p, table: holding, address: 0, type: bit, bit: 0, enum: "
                  "{1: on}}",
                  "{1: on}", "'enum' only applies to integer types, not bit"));
}

TEST(ModbusPointRules, EnumKeysAreIntegersAndLabelsAreText) {
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: uint16, enum: {one: on}}",
                          "one", "points[0].enum[one]: expected an integer, got 'one'"));
  EXPECT_TRUE(
      point_error("{name: p, table: holding, address: 0, type: uint16, enum: {1: on, 1: "
                  "off}}",
                  "1: off", "duplicate key '1'"));
  EXPECT_TRUE(
      point_error("{name: p, table: holding, address: 0, type: uint16, enum: {1: on, 0x1: "
                  "off}}",
                  "0x1", "points[0].enum[0x1]: the same value appears twice"));
}

TEST(ModbusPointRules, APointMustEndInsideTheAddressSpace) {
  const auto last = parse(point_site("{name: p, table: holding, address: 65534, type: uint32}"));
  ASSERT_TRUE(loads(last));
  EXPECT_EQ(only_point(last).address, 65534);
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 65535, type: uint32}", "65535",
                          "the point spans 2 registers from protocol address 65535, past the last "
                          "address 65535"));
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 65536, type: uint16}", "65536",
                          "65536 is out of range: expected an integer between 0 and 65535"));
}

TEST(ModbusPointRules, PointsMayShareARegister) {
  // Status words carry several flags: one register, several bit points, and the raw word too.
  const auto result =
      parse(adapter_site("    host: h\n",
                         "[{name: x, points: ["
                         "{name: pump, table: holding, address: 7, type: bit, bit: 0}, "
                         "{name: heater, table: holding, address: 7, type: bit, bit: 1}, "
                         "{name: status, table: holding, address: 7, type: uint16}]}]"));
  ASSERT_TRUE(loads(result));
  const auto& points = std::get<ModbusAdapterConfig>(result.config->adapters[0]).devices[0].points;
  ASSERT_EQ(points.size(), 3u);
  for (const auto& point : points) EXPECT_EQ(point.address, 7);
}

TEST(ModbusAddressBase, OneBasedManualAddressesBecomeZeroBasedProtocolAddresses) {
  const auto result =
      parse(point_site("{name: p, table: holding, address: 1, type: uint16}", "address_base: 1"));
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(only_point(result).address, 0);
  // The last register of the space is 65536 in a 1-based manual: 65535 as written fits a uint16.
  const auto end =
      parse(point_site("{name: p, table: input, address: 65535, type: uint16}", "address_base: 1"));
  ASSERT_TRUE(loads(end));
  EXPECT_EQ(only_point(end).address, 65534);
}

TEST(ModbusAddressBase, AddressZeroIsRefusedWhenTheManualCountsFromOne) {
  EXPECT_TRUE(point_error("{name: p, table: holding, address: 0, type: uint16}", "0,",
                          "address 0 does not exist when address_base is 1", "address_base: 1"));
}

TEST(ModbusAddressBase, OnlyZeroAndOneAreAllowed) {
  EXPECT_TRUE(has_error(
      parse(point_site("{name: p, table: holding, address: 0, type: uint16}", "address_base: 2")),
      9, 23, "unknown value '2'; expected one of '0', '1'"));
}

TEST(ModbusNames, PointNamesAreUniqueWithinADevice) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: h
    devices:
      - name: a
        points:
          - {name: temp, table: holding, address: 0, type: int16}
          - {name: temp, table: holding, address: 1, type: int16}
      - name: b
        unit_id: 2
        points:
          - {name: temp, table: holding, address: 0, type: int16}
)");
  EXPECT_TRUE(has_error(result, 10, 20,
                        "points[1].name: duplicate point name 'temp' (first used at line 9, "
                        "column 20); point names must be unique within a device"));
}

TEST(ModbusAddresses, WarnsOfModiconNumberingButStillLoads) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: h
    devices:
      - name: a
        points:
          - {name: t, table: holding, address: 40001, type: int16}
          - {name: u, table: input, address: 30010, type: int16}
          - {name: v, table: holding, address: 39999, type: int16}
      - name: b
        unit_id: 2
        address_base: 1
        points:
          - {name: w, table: discrete, address: 10002, type: bool}
)");
  // Legal (SunSpec devices do have registers at 40000 and up): loaded, with a warning each.
  ASSERT_TRUE(loads(result));
  ASSERT_EQ(result.warnings.size(), 3U);
  EXPECT_EQ(result.warnings[0].line, 9);
  EXPECT_EQ(result.warnings[0].column, 48);
  EXPECT_TRUE(result.warnings[0].warning);
  EXPECT_EQ(result.warnings[0].to_string(),
            "site.yaml:9:48: warning: adapters[0].devices[0].points[0].address: 40001 looks like "
            "Modicon numbering (4xxxx = holding register xxxx): if the manual means holding "
            "register 1, write address: 1 with address_base: 1 on the device; if the device really "
            "has addresses from 40000 (SunSpec maps do), ignore this");
  EXPECT_NE(result.warnings[1].message.find("if the manual means input register 10, write address: 10 "
                                            "with address_base: 1"),
            std::string::npos);
  // Already counting from 1: only the number to write.
  EXPECT_NE(result.warnings[2].message.find("if the manual means discrete input 2, write address: 2;"),
            std::string::npos)
      << result.warnings[2].message;
}

TEST(ModbusNames, TwoDevicesOnOneBusCannotShareAUnitId) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: h
    devices:
      - name: boiler
        points: [{name: t, table: holding, address: 0, type: int16}]
      - name: grinder
        unit_id: 1
        points: [{name: t, table: holding, address: 0, type: int16}]
  - name: other-bus
    type: modbus
    host: h2
    devices:
      - name: meter
        points: [{name: t, table: holding, address: 0, type: int16}]
)");
  // The first took the default 1; on another bus, 1 is free again.
  EXPECT_TRUE(has_error(result, 10, 18,
                        "adapters[0].devices[1].unit_id: unit id 1 is already used on this bus at "
                        "line 7, column 9: each device on one bus needs its own unit id"));
}

TEST(ModbusNames, DeviceNamesAreUniqueAcrossTheWholeSite) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus-a
    type: modbus
    host: a
    devices:
      - {name: fridge, points: [{name: t, table: input, address: 0, type: int16}]}
  - name: bus-b
    type: modbus
    host: b
    devices:
      - {name: fridge, points: [{name: t, table: input, address: 0, type: int16}]}
)");
  EXPECT_TRUE(has_error(result, 12, 16,
                        "adapters[1].devices[0].name: duplicate device name 'fridge' (first used "
                        "at line 7, column 16); device names are the 'source' of their readings"));
}

TEST(ModbusNames, AdapterNamesAreUnique) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: a
    devices: [{name: x, points: [{name: t, table: input, address: 0, type: int16}]}]
  - name: bus
    type: modbus
    host: b
    devices: [{name: y, points: [{name: t, table: input, address: 0, type: int16}]}]
)");
  EXPECT_TRUE(has_error(result, 7, 11,
                        "adapters[1].name: duplicate adapter name 'bus' (first used at line 3, "
                        "column 11); adapter names must be unique"));
}

TEST(ModbusAdapterRules, AnUnknownAdapterTypeListsTheKnownTypesAndNothingElse) {
  // The keys of an adapter whose type is unknown are not judged: one error, not one per key.
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: bacnet
    device_instance: 7
)");
  EXPECT_TRUE(has_error(result, 4, 11,
                        "adapters[0].type: unknown value 'bacnet'; expected one of 'modbus'"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nadapters:\n  - name: bus\n    host: h\n"), 3, 5,
                        "adapters[0]: missing required key 'type'"));
}

TEST(ModbusAdapterRules, TcpTransportsNeedAHostAndRefuseSerialSettings) {
  for (const std::string transport : {"tcp", "rtu-over-tcp"}) {
    const auto result =
        parse(adapter_site("    transport: " + transport + "\n    serial: {port: /dev/ttyS0}\n"));
    EXPECT_TRUE(has_errors(
        result,
        {{3, 5, "adapters[0]: missing required key 'host' (transport " + transport + " needs it)"},
         {6, 13,
          "adapters[0].serial: 'serial' only applies to transport rtu, "
          "not " +
              transport}}))
        << transport;
  }
}

TEST(ModbusAdapterRules, RtuNeedsSerialSettingsAndRefusesHostAndPort) {
  const auto result =
      parse(adapter_site("    transport: rtu\n    host: 10.0.0.1\n    port: 502\n"));
  EXPECT_TRUE(has_errors(
      result, {{3, 5, "adapters[0]: missing required key 'serial' (transport rtu needs it)"},
               {6, 11, "adapters[0].host: 'host' only applies to transports tcp and rtu-over-tcp"},
               {7, 11,
                "adapters[0].port: 'port' only applies to transports tcp and "
                "rtu-over-tcp"}}));
}

TEST(ModbusAdapterRules, SerialSettingsAreCheckedOneByOne) {
  const auto result =
      parse(adapter_site("    transport: rtu\n"
                         "    serial:\n"
                         "      baud: 0\n"
                         "      parity: evn\n"
                         "      data_bits: 9\n"
                         "      stop_bits: 1.5\n"));
  EXPECT_TRUE(has_errors(
      result,
      {{7, 7, "adapters[0].serial: missing required key 'port'"},
       {7, 13, "adapters[0].serial.baud: expected a standard baud rate (300, 600, 1200"},
       {8, 15,
        "adapters[0].serial.parity: unknown value 'evn' (did you mean 'even'?); expected "
        "one of 'none', 'even', 'odd'"},
       {9, 18, "adapters[0].serial.data_bits: unknown value '9'; expected one of '7', '8'"},
       {10, 18, "adapters[0].serial.stop_bits: unknown value '1.5'; expected one of '1', '2'"}}));
}

TEST(ModbusAdapterRules, ABusTakesFlowControlLikeAnyOtherSerialPort) {
  const auto result = parse(adapter_site(
      "    transport: rtu\n    serial: {port: /dev/ttyS0, flow_control: hardware}\n"));
  ASSERT_TRUE(loads(result));
  EXPECT_EQ(std::get<ModbusAdapterConfig>(result.config->adapters.at(0)).serial.flow_control,
            FlowControl::hardware);
  EXPECT_TRUE(has_error(
      parse(adapter_site("    transport: rtu\n    serial: {port: /dev/ttyS0, flow_control: rts}\n")),
      6, 46, "serial.flow_control: unknown value 'rts'"));
}

TEST(ModbusAdapterRules, AnInvalidTransportDoesNotCascadeIntoTransportRules) {
  const auto result = parse(adapter_site("    transport: rtu_over_tcp\n"));
  EXPECT_TRUE(has_error(result, 5, 16,
                        "unknown value 'rtu_over_tcp' (did you mean 'rtu-over-tcp'?); expected "
                        "one of 'tcp', 'rtu', 'rtu-over-tcp'"));
}

TEST(ModbusAdapterRules, SerialUnitIdsAreOneTo247) {
  const std::string_view rtu = "    transport: rtu\n    serial: {port: /dev/ttyS0}\n";
  EXPECT_TRUE(loads(parse(unit_site(rtu, "247"))));
  for (const std::string_view unit : {"0", "248", "255"})
    EXPECT_TRUE(has_error(parse(unit_site(rtu, unit)), 9, 18,
                          "on a serial line a polled unit id is 1 to 247"))
        << unit;
}

TEST(ModbusAdapterRules, TcpUnitIdsAreZeroTo255) {
  // Modbus TCP gateways answer on unit ids 0 and 255 too.
  const std::string_view tcp = "    transport: tcp\n    host: h\n";
  for (const int unit : {0, 255}) {
    const auto result = parse(unit_site(tcp, std::to_string(unit)));
    ASSERT_TRUE(loads(result)) << unit;
    EXPECT_EQ(std::get<ModbusAdapterConfig>(result.config->adapters[0]).devices[0].unit_id, unit);
  }
  EXPECT_TRUE(has_error(parse(unit_site(tcp, "256")), 9, 18,
                        "256 is out of range: expected an integer between 0 and 255"));
}

TEST(ModbusAdapterRules, AnAdapterNeedsDevicesAndADeviceNeedsPoints) {
  EXPECT_TRUE(has_error(
      parse("device: {id: gw}\nadapters:\n  - {name: bus, type: modbus, host: h, devices: []}\n"),
      3, 49, "adapters[0].devices: needs at least one entry"));
  EXPECT_TRUE(
      has_error(parse("device: {id: gw}\nadapters:\n  - {name: bus, type: modbus, host: h}\n"), 3,
                5, "adapters[0]: missing required key 'devices'"));
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nadapters:\n  - {name: bus, type: modbus, host: h, "
                              "devices: [{name: d, points: []}]}\n"),
                        3, 68, "adapters[0].devices[0].points: needs at least one entry"));
}

TEST(ModbusAdapterRules, BackoffMinMustNotExceedMax) {
  const auto result = parse(adapter_site("    host: h\n    backoff: {min: 2m, max: 30s}\n"));
  EXPECT_TRUE(
      has_error(result, 6, 29, "adapters[0].backoff.max: min (2m) is greater than max (30s)"));
}

}  // namespace
}  // namespace guardian::config

namespace guardian::config {
namespace {

using testing::has_error;
using testing::loads;
using testing::only_point;
using testing::parse;
using testing::point_column;
using testing::point_site;

::testing::AssertionResult point_error_at(std::string_view point, std::string_view needle,
                                          std::string fragment) {
  return has_error(parse(point_site(point)), 11, point_column(point, needle), std::move(fragment));
}

TEST(ModbusWriteKeys, WritablePointsCarryTheirReadbackAndLimits) {
  const auto result = parse(point_site(
      "{name: p, table: holding, address: 0, type: uint16, scale: 0.1, writable: true, "
      "readback: true, write_min: 85, write_max: 96.5}"));
  ASSERT_TRUE(loads(result));
  const auto& p = only_point(result);
  EXPECT_TRUE(p.writable);
  EXPECT_TRUE(p.readback);
  EXPECT_EQ(p.write_min, 85.0);
  EXPECT_EQ(p.write_max, 96.5);
  EXPECT_FALSE(only_point(parse(point_site("{name: p, table: coil, address: 0, type: bool}")))
                   .writable);
}

TEST(ModbusWriteKeys, OnlyCoilsAndHoldingRegistersCanBeWritable) {
  EXPECT_TRUE(loads(parse(point_site("{name: p, table: coil, address: 0, type: bool, "
                                     "writable: true}"))));
  EXPECT_TRUE(point_error_at("{name: p, table: input, address: 0, type: int16, writable: true}",
                             "true", "only 'coil' and 'holding' points can be writable"));
  EXPECT_TRUE(point_error_at("{name: p, table: discrete, address: 0, type: bool, writable: true}",
                             "true", "is read-only in Modbus"));
}

TEST(ModbusWriteKeys, ReadbackAndLimitsNeedAWritablePoint) {
  EXPECT_TRUE(point_error_at("{name: p, table: holding, address: 0, type: int16, readback: true}",
                             "true", "'readback' only applies to a point with 'writable: true'"));
  EXPECT_TRUE(point_error_at("{name: p, table: holding, address: 0, type: int16, write_min: 1}",
                             "1}", "'write_min' only applies to a point with 'writable: true'"));
  EXPECT_TRUE(point_error_at(
      "{name: p, table: holding, address: 0, type: int16, writable: true, write_min: 9, "
      "write_max: 1}",
      "1}", "write_max is below write_min"));
  EXPECT_TRUE(point_error_at(
      "{name: p, table: coil, address: 0, type: bool, writable: true, write_max: 1}", "1}",
      "'write_max' only applies to numeric types, not bool"));
}

TEST(ModbusDeviceKeys, CoalescingAndWriteMultipleAreReadAndChecked) {
  const auto result =
      parse(point_site("{name: p, table: holding, address: 0, type: int16}",
                       "coalescing: {max_registers: 64, register_gap: 0, bit_gap: 16}"));
  ASSERT_TRUE(loads(result));
  const auto& d = std::get<ModbusAdapterConfig>(result.config->adapters.at(0)).devices.at(0);
  EXPECT_EQ(d.coalescing.max_registers, 64);
  EXPECT_EQ(d.coalescing.max_bits, 2000);
  EXPECT_EQ(d.coalescing.register_gap, 0);
  EXPECT_EQ(d.coalescing.bit_gap, 16);
  EXPECT_FALSE(d.write_multiple);
  EXPECT_TRUE(
      std::get<ModbusAdapterConfig>(
          parse(point_site("{name: p, table: holding, address: 0, type: int16}",
                           "write_multiple: true"))
              .config->adapters.at(0))
          .devices.at(0)
          .write_multiple);
  EXPECT_TRUE(has_error(parse(point_site("{name: p, table: holding, address: 0, type: int16}",
                                         "coalescing: {max_registers: 126}")),
                        9, 37, "coalescing.max_registers: 126 is out of range"));
}

TEST(ModbusAdapterRules, TheBaudRateMustBeOneASerialPortCanBeSetTo) {
  const auto site = [](std::string_view baud) {
    return "device: {id: gw}\nadapters:\n  - name: bus\n    type: modbus\n    transport: rtu\n"
           "    serial: {port: /dev/ttyS0, baud: " +
           std::string(baud) +
           "}\n    devices: [{name: x, points: [{name: t, table: input, address: 0, "
           "type: int16}]}]\n";
  };
  EXPECT_TRUE(loads(parse(site("19200"))));
  EXPECT_TRUE(has_error(parse(site("14400")), 6, 38,
                        "expected a standard baud rate (300, 600, 1200, 2400, 4800, 9600, 19200, "
                        "38400, 57600, 115200, 230400, 460800, 500000, 921600, 1000000, 2000000, "
                        "4000000), got '14400'; serial ports are set to one of these rates only"));
}

}  // namespace
}  // namespace guardian::config
