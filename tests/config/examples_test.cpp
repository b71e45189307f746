// The example files shipped in config/examples/ load cleanly, and the demo describes exactly the
// register map of the project's simulated espresso machine (the simulator is written to it).

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using guardian::testing::source_path;
using testing::loads;

struct ExpectedPoint {
  std::string name;
  RegisterTable table;
  std::uint16_t address;
  DataType type;
  WordOrder order;
  double scale;
  std::string unit;
};

TEST(ExampleConfigs, DemoConfigLoadsWithoutErrors) {
  const auto result = load_site_config(source_path("config/examples/guardian.yaml"));
  ASSERT_TRUE(loads(result));
  const SiteConfig& c = *result.config;
  EXPECT_EQ(c.device_id, "demo-espresso-01");
  EXPECT_EQ(c.queue.path, "./guardian-demo/queue.db");
  EXPECT_EQ(c.uplink.broker, "ssl://127.0.0.1:8883");
  // The demo runs with the secure link: a TPM identity (swtpm), attested by the trust service.
  ASSERT_TRUE(c.uplink.secure_link);
  EXPECT_EQ(c.uplink.secure_link->identity.backend, IdentityBackend::tpm);
  // swtpm on an owner-only Unix socket: a TCP port would let any local user reach the TPM.
  EXPECT_EQ(c.uplink.secure_link->identity.tcti, "swtpm:path=./guardian-demo/swtpm.sock");
  EXPECT_EQ(c.uplink.secure_link->trust_service.approval_key, "./guardian-demo/pki/fleet-approval.pem");
  EXPECT_EQ(c.uplink.secure_link->attestation.pcr, 13);
  EXPECT_EQ(c.uplink.secure_link->trust_service.port, 7443);
  EXPECT_EQ(c.uplink.secure_link->broker.ca_file, "./guardian-demo/pki/fleet-ca.pem");
  EXPECT_EQ(c.control.socket, "./guardian-demo/control.sock");
  ASSERT_EQ(c.adapters.size(), 2u);
  const auto& bus = std::get<ModbusAdapterConfig>(c.adapters[0]);
  EXPECT_EQ(bus.name, "espresso-bus");
  EXPECT_EQ(bus.transport, ModbusTransport::tcp);
  EXPECT_EQ(bus.tcp.host, "127.0.0.1");
  EXPECT_EQ(bus.tcp.port, 5020);
  ASSERT_EQ(bus.devices.size(), 1u);
  EXPECT_EQ(bus.devices[0].name, "espresso-1");
  EXPECT_EQ(bus.devices[0].unit_id, 1);
  EXPECT_EQ(bus.devices[0].poll_interval, 1s);
  const auto& serial = std::get<StreamAdapterConfig>(c.adapters[1]);
  EXPECT_EQ(serial.name, "espresso-serial");
  EXPECT_EQ(serial.source, "espresso-2");
  EXPECT_EQ(serial.serial.port, "./guardian-demo/espresso-serial");
  ASSERT_EQ(serial.codec.lines.messages.size(), 3u);
  EXPECT_EQ(serial.codec.lines.messages[0].fields.size(), 6u);
  EXPECT_EQ(serial.codec.lines.messages[1].fields.size(), 3u);
  EXPECT_TRUE(serial.codec.lines.messages[2].record);
  EXPECT_EQ(serial.codec.lines.messages[2].fields.size(), 12u);
  // Each shot of the serial machine becomes a trace: its trace lines on a 100 ms grid, its shot
  // record as summary, and those trace points nowhere else.
  ASSERT_EQ(c.traces.size(), 1u);
  EXPECT_EQ(c.traces[0].source, "espresso-2");
  EXPECT_EQ(c.traces[0].points, (std::vector<std::string>{"shot_pressure", "shot_flow", "shot_temp"}));
  EXPECT_EQ(c.traces[0].sample_interval, 100ms);
  EXPECT_EQ(c.traces[0].summary_record, "shot");
  EXPECT_EQ(c.traces[0].telemetry, TraceTelemetry::none);
}

TEST(ExampleConfigs, DemoConfigDescribesTheSimulatedEspressoMachineRegisterMap) {
  const auto result = load_site_config(source_path("config/examples/guardian.yaml"));
  ASSERT_TRUE(loads(result));
  const auto& points =
      std::get<ModbusAdapterConfig>(result.config->adapters.at(0)).devices.at(0).points;
  using enum RegisterTable;
  using enum DataType;
  using enum WordOrder;
  const std::vector<ExpectedPoint> expected{
      {"boiler_temp", holding_register, 0, float32, ABCD, 1.0, "degC"},
      {"steam_pressure", holding_register, 2, float32, CDAB, 1.0, "bar"},
      {"group_head_temp", holding_register, 4, int16, ABCD, 0.1, "degC"},
      {"pump_pressure", holding_register, 5, uint16, ABCD, 0.01, "bar"},
      {"shot_count", holding_register, 6, uint32, ABCD, 1.0, ""},
      {"state", holding_register, 8, uint16, ABCD, 1.0, ""},
      {"water_flow", holding_register, 9, uint16, ABCD, 0.1, "ml/s"},
      {"power", holding_register, 10, float32, ABCD, 1.0, "W"},
      {"energy", holding_register, 12, uint32, CDAB, 1.0, "Wh"},
      {"ambient_temp", input_register, 0, int16, ABCD, 0.1, "degC"},
      {"boiler_setpoint", holding_register, 14, uint16, ABCD, 0.1, "degC"},
  };
  ASSERT_EQ(points.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(points[i].name, expected[i].name);
    EXPECT_EQ(points[i].table, expected[i].table);
    EXPECT_EQ(points[i].address, expected[i].address);
    EXPECT_EQ(points[i].type, expected[i].type);
    EXPECT_EQ(points[i].order, expected[i].order);
    EXPECT_DOUBLE_EQ(points[i].scale, expected[i].scale);
    EXPECT_DOUBLE_EQ(points[i].offset, 0.0);
    EXPECT_EQ(points[i].unit, expected[i].unit);
    const bool is_state = expected[i].name == "state";
    EXPECT_EQ(points[i].enum_map.empty(), !is_state);
  }
  EXPECT_TRUE(points[10].writable);
  EXPECT_TRUE(points[10].readback);
  EXPECT_EQ(points[10].write_min, 85.0);
  EXPECT_EQ(points[10].write_max, 96.0);
  EXPECT_EQ(points[5].enum_map, (std::map<std::int64_t, std::string>{{0, "idle"},
                                                                     {1, "heating"},
                                                                     {2, "ready"},
                                                                     {3, "brewing"},
                                                                     {4, "steaming"},
                                                                     {5, "fault"}}));
}

TEST(ExampleConfigs, FullConfigLoadsWithoutErrors) {
  const auto result = load_site_config(source_path("config/examples/guardian-full.yaml"));
  ASSERT_TRUE(loads(result));
  const SiteConfig& c = *result.config;
  EXPECT_TRUE(c.uplink.tls.has_value());
  ASSERT_EQ(c.adapters.size(), 5u);
  const auto& meters = std::get<ModbusAdapterConfig>(c.adapters[1]);
  EXPECT_EQ(meters.transport, ModbusTransport::rtu);
  ASSERT_EQ(meters.devices.size(), 2u);
  // The meter's manual counts from 1: address 1 as written is protocol address 0.
  EXPECT_EQ(meters.devices[0].points.at(0).address, 0);
  // The other meter comes from a shipped profile, with one point added by the site.
  EXPECT_EQ(meters.devices[1].profile, "eastron-sdm120@1");
  EXPECT_EQ(meters.devices[1].points.back().name, "relay_pulse_width");
  EXPECT_TRUE(meters.devices[1].write_multiple);
  EXPECT_EQ(std::get<ModbusAdapterConfig>(c.adapters[2]).transport, ModbusTransport::rtu_over_tcp);
  EXPECT_EQ(c.queue.source_quota_percent, 50);
  EXPECT_EQ(c.processing.size(), 4u);
  // Stream adapters with every transport, poll and codec key: lines answered to a poll, and
  // binary frames from peers that connect in.
  const auto& grinder = std::get<StreamAdapterConfig>(c.adapters[3]);
  EXPECT_EQ(grinder.source, "grinder-1");
  ASSERT_TRUE(grinder.poll);
  EXPECT_EQ(grinder.poll->reply, "status");
  ASSERT_EQ(grinder.codec.lines.messages.size(), 2u);
  EXPECT_TRUE(grinder.codec.lines.messages[1].record);
  const auto& fridges = std::get<StreamAdapterConfig>(c.adapters[4]);
  EXPECT_EQ(fridges.peers.size(), 2u);
  EXPECT_EQ(fridges.codec.kind, CodecKind::binary);
  ASSERT_TRUE(fridges.codec.binary.checksum);
  EXPECT_EQ(fridges.codec.binary.messages.at(0).fields.size(), 4u);
  // Trace captures with every key.
  ASSERT_EQ(c.traces.size(), 2u);
  EXPECT_TRUE(c.traces[0].end);
  EXPECT_EQ(c.traces[1].summary_record, "dose");
  EXPECT_EQ(c.traces[1].telemetry, TraceTelemetry::outside);
}

TEST(ExampleConfigs, TpmConfigSetsEverySecureLinkKey) {
  const auto result = load_site_config(source_path("config/examples/guardian-tpm.yaml"));
  ASSERT_TRUE(loads(result));
  const auto& s = result.config->uplink.secure_link;
  ASSERT_TRUE(s);
  EXPECT_EQ(s->identity.tcti, "device:/dev/tpmrm0");
  EXPECT_EQ(s->attestation.firmware_image, "/boot/guardian/firmware.img");
  EXPECT_EQ(s->certificate.lifetime, 24h);
  EXPECT_FALSE(result.config->uplink.tls);
}

TEST(ExampleConfigs, RtuConfigReadsTheSimulatedBusThroughProfiles) {
  const auto result = load_site_config(source_path("config/examples/guardian-rtu.yaml"));
  ASSERT_TRUE(loads(result));
  const auto& bus = std::get<ModbusAdapterConfig>(result.config->adapters.at(0));
  EXPECT_EQ(bus.transport, ModbusTransport::rtu);
  ASSERT_EQ(bus.devices.size(), 2u);
  EXPECT_EQ(bus.devices[0].profile, "guardian-espresso@1");
  EXPECT_EQ(bus.devices[1].profile, "eastron-sdm120@1");
  EXPECT_EQ(bus.devices[1].unit_id, 2);
}

TEST(ExampleConfigs, PlainConfigNeedsNoTlsAndReadsTwoUnitsOverModbusTcp) {
  const auto result = load_site_config(source_path("config/examples/guardian-plain.yaml"));
  ASSERT_TRUE(loads(result));
  EXPECT_TRUE(result.warnings.empty()) << result.warnings.front().to_string();
  EXPECT_EQ(result.config->uplink.broker, "tcp://127.0.0.1:1883");
  EXPECT_FALSE(result.config->uplink.tls.has_value());
  EXPECT_FALSE(result.config->uplink.secure_link.has_value());
  const auto& bus = std::get<ModbusAdapterConfig>(result.config->adapters.at(0));
  EXPECT_EQ(bus.transport, ModbusTransport::tcp);
  ASSERT_EQ(bus.devices.size(), 2u);
  EXPECT_EQ(bus.devices[0].points.size(), 2u);
  EXPECT_EQ(bus.devices[1].profile, "eastron-sdm630@1");
  EXPECT_FALSE(bus.devices[1].points.empty());
}

}  // namespace
}  // namespace guardian::config
