// The loader as a whole: every key reaches its struct field, defaults, the example files, and
// how errors are collected, located and ordered.

#include <gtest/gtest.h>

#include "config_expectations.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::has_errors;
using testing::loads;
using testing::parse;

// Every key, each with a value other than its default so that a key that is not read fails.
constexpr std::string_view kEveryKey = R"(device:
  id: store-042.espresso_1
queue:
  path: /data/guardian/q.db
  commit_window: 25ms
  max_bytes: 1GiB
  max_age: 3d
  synchronous: normal
  max_pending_bytes: 16MiB
uplink:
  broker: ssl://mqtt.example.net:8883
  client_id: espresso-client
  topic_prefix: fleet/{device_id}/data
  keepalive: 45s
  max_inflight: 250
  max_readings_per_message: 1000
  health_interval: 2m
  reconnect: {min: 2s, max: 5m}
  tls:
    ca_file: /etc/guardian/ca.pem
    cert_file: /etc/guardian/cert.pem
    key_file: /etc/guardian/key.pem
    server_name: mqtt.example.net
  username: espresso
  password_file: /etc/guardian/password
control:
  socket: /tmp/guardian.sock
adapters:
  - name: espresso-bus
    type: modbus
    transport: rtu-over-tcp
    host: 10.0.0.7
    port: 4001
    connect_timeout: 7s
    pacing: 20ms
    backoff: {min: 500ms, max: 2m}
    devices:
      - name: espresso-1
        unit_id: 17
        poll_interval: 250ms
        timeout: 800ms
        retries: 3
        address_base: 1
        points:
          - name: boiler_temp
            table: input
            address: 101
            type: int64
            order: HGFEDCBA
            scale: 0.5
            offset: -40
            unit: degC
            enum: {0: off, -1: broken}
          - name: heater
            table: holding
            address: 0x10
            type: bit
            bit: 15
          - name: serial_number
            table: holding
            address: 200
            type: string
            length: 10
          - name: door
            table: coil
            address: 1
            type: bool
          - name: pressure
            table: holding
            address: 300
            type: int32
            order: BADC
            enum: {7: seven}
  - name: meter-bus
    type: modbus
    transport: rtu
    serial: {port: /dev/ttyS3, baud: 115200, parity: odd, data_bits: 7, stop_bits: 2, rs485: true}
    devices:
      - name: meter
        points:
          - {name: v, table: discrete, address: 0, type: bool}
)";

TEST(SiteConfigLoader, ReadsEveryKeyIntoTheTypedStructs) {
  const auto result = parse(kEveryKey);
  ASSERT_TRUE(loads(result));
  const SiteConfig& c = *result.config;
  EXPECT_EQ(c.source_file, "site.yaml");
  EXPECT_EQ(c.device_id, "store-042.espresso_1");

  EXPECT_EQ(c.queue.path, "/data/guardian/q.db");
  EXPECT_EQ(c.queue.commit_window, 25ms);
  EXPECT_EQ(c.queue.max_bytes, 1ull << 30);
  EXPECT_EQ(c.queue.max_age, std::chrono::hours{72});
  EXPECT_EQ(c.queue.synchronous, SyncMode::normal);
  EXPECT_EQ(c.queue.max_pending_bytes, 16ull << 20);

  EXPECT_EQ(c.uplink.broker, "ssl://mqtt.example.net:8883");
  EXPECT_EQ(c.uplink.client_id, "espresso-client");
  EXPECT_EQ(c.uplink.topic_prefix, "fleet/{device_id}/data");
  EXPECT_EQ(c.topic_prefix(), "fleet/store-042.espresso_1/data/");
  EXPECT_EQ(c.uplink.keepalive, 45s);
  EXPECT_EQ(c.uplink.max_inflight, 250);
  EXPECT_EQ(c.uplink.max_readings_per_message, 1000);
  EXPECT_EQ(c.uplink.health_interval, 2min);
  EXPECT_EQ(c.uplink.reconnect_min, 2s);
  EXPECT_EQ(c.uplink.reconnect_max, 5min);
  ASSERT_TRUE(c.uplink.tls.has_value());
  EXPECT_EQ(c.uplink.tls->ca_file, "/etc/guardian/ca.pem");
  EXPECT_EQ(c.uplink.tls->cert_file, "/etc/guardian/cert.pem");
  EXPECT_EQ(c.uplink.tls->key_file, "/etc/guardian/key.pem");
  EXPECT_EQ(c.uplink.tls->server_name, "mqtt.example.net");
  EXPECT_EQ(c.uplink.username, "espresso");
  EXPECT_EQ(c.uplink.password_file, "/etc/guardian/password");

  EXPECT_EQ(c.control.socket, "/tmp/guardian.sock");

  ASSERT_EQ(c.adapters.size(), 2u);
  const auto& a = std::get<ModbusAdapterConfig>(c.adapters[0]);
  EXPECT_EQ(a.name, "espresso-bus");
  EXPECT_EQ(a.transport, ModbusTransport::rtu_over_tcp);
  EXPECT_EQ(a.tcp.host, "10.0.0.7");
  EXPECT_EQ(a.tcp.port, 4001);
  EXPECT_EQ(a.connect_timeout, 7s);
  EXPECT_EQ(a.pacing, 20ms);
  EXPECT_EQ(a.backoff_min, 500ms);
  EXPECT_EQ(a.backoff_max, 2min);
  EXPECT_EQ(a.where.file, "site.yaml");
  EXPECT_EQ(a.where.line, 29);
  EXPECT_EQ(a.where.column, 5);

  ASSERT_EQ(a.devices.size(), 1u);
  const ModbusDevice& d = a.devices[0];
  EXPECT_EQ(d.name, "espresso-1");
  EXPECT_EQ(d.unit_id, 17);
  EXPECT_EQ(d.poll_interval, 250ms);
  EXPECT_EQ(d.timeout, 800ms);
  EXPECT_EQ(d.retries, 3);
  EXPECT_EQ(d.where.line, 38);
  EXPECT_EQ(d.where.column, 9);

  ASSERT_EQ(d.points.size(), 5u);
  const ModbusPoint& temp = d.points[0];
  EXPECT_EQ(temp.name, "boiler_temp");
  EXPECT_EQ(temp.table, RegisterTable::input_register);
  EXPECT_EQ(temp.address, 100);  // address_base 1: manual address 101 is protocol address 100
  EXPECT_EQ(temp.type, DataType::int64);
  EXPECT_EQ(temp.order, WordOrder::DCBA);
  EXPECT_DOUBLE_EQ(temp.scale, 0.5);
  EXPECT_DOUBLE_EQ(temp.offset, -40.0);
  EXPECT_EQ(temp.unit, "degC");
  EXPECT_EQ(temp.enum_map, (std::map<std::int64_t, std::string>{{0, "off"}, {-1, "broken"}}));
  EXPECT_EQ(temp.where.line, 45);
  EXPECT_EQ(temp.where.column, 13);

  const ModbusPoint& heater = d.points[1];
  EXPECT_EQ(heater.table, RegisterTable::holding_register);
  EXPECT_EQ(heater.address, 15);  // 0x10 as written, minus address_base
  EXPECT_EQ(heater.type, DataType::bit);
  EXPECT_EQ(heater.bit, 15);

  const ModbusPoint& serial_number = d.points[2];
  EXPECT_EQ(serial_number.type, DataType::string);
  EXPECT_EQ(serial_number.length, 10);
  EXPECT_EQ(serial_number.width(), 10);
  EXPECT_EQ(serial_number.address, 199);

  const ModbusPoint& door = d.points[3];
  EXPECT_EQ(door.table, RegisterTable::coil);
  EXPECT_EQ(door.type, DataType::boolean);
  EXPECT_EQ(door.address, 0);

  const ModbusPoint& pressure = d.points[4];
  EXPECT_EQ(pressure.type, DataType::int32);
  EXPECT_EQ(pressure.order, WordOrder::BADC);
  EXPECT_EQ(pressure.enum_map, (std::map<std::int64_t, std::string>{{7, "seven"}}));

  const auto& m = std::get<ModbusAdapterConfig>(c.adapters[1]);
  EXPECT_EQ(m.transport, ModbusTransport::rtu);
  EXPECT_EQ(m.serial.port, "/dev/ttyS3");
  EXPECT_EQ(m.serial.baud, 115200);
  EXPECT_EQ(m.serial.parity, Parity::odd);
  EXPECT_EQ(m.serial.data_bits, 7);
  EXPECT_EQ(m.serial.stop_bits, 2);
  EXPECT_TRUE(m.serial.rs485);
  ASSERT_EQ(m.devices.size(), 1u);
  EXPECT_EQ(m.devices[0].points[0].table, RegisterTable::discrete_input);
}

TEST(SiteConfigLoader, AppliesTheDocumentedDefaultsToKeysLeftOut) {
  const auto result = parse(R"(device: {id: gw-1}
adapters:
  - name: bus
    type: modbus
    host: plc.local
    devices:
      - name: plc
        points:
          - {name: p, table: holding, address: 3, type: uint16}
)");
  ASSERT_TRUE(loads(result));
  const SiteConfig& c = *result.config;
  EXPECT_EQ(c.queue.path, "/var/lib/guardian/queue.db");
  EXPECT_EQ(c.queue.commit_window, 10ms);
  EXPECT_EQ(c.queue.max_bytes, 256ull << 20);
  EXPECT_EQ(c.queue.max_age, std::chrono::hours{24 * 7});
  EXPECT_EQ(c.queue.synchronous, SyncMode::full);
  EXPECT_EQ(c.queue.max_pending_bytes, 2ull << 20);
  EXPECT_EQ(c.uplink.broker, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c.uplink.client_id, "gw-1");  // defaults to the device id
  EXPECT_EQ(c.topic_prefix(), "guardian/v1/gw-1/");
  EXPECT_FALSE(c.uplink.tls.has_value());
  EXPECT_EQ(c.control.socket, "/run/guardian/control.sock");
  const auto& a = std::get<ModbusAdapterConfig>(c.adapters.at(0));
  EXPECT_EQ(a.transport, ModbusTransport::tcp);
  EXPECT_EQ(a.tcp.port, 502);
  const ModbusDevice& d = a.devices.at(0);
  EXPECT_EQ(d.unit_id, 1);
  EXPECT_EQ(d.poll_interval, 1s);
  const ModbusPoint& p = d.points.at(0);
  EXPECT_EQ(p.address, 3);  // address_base 0: as written
  EXPECT_EQ(p.order, WordOrder::ABCD);
  EXPECT_DOUBLE_EQ(p.scale, 1.0);
  EXPECT_DOUBLE_EQ(p.offset, 0.0);
  EXPECT_TRUE(p.enum_map.empty());
}

TEST(SiteConfigLoader, AcceptsAnEmptyAdapterList) {
  EXPECT_TRUE(loads(parse("device: {id: gw}\nadapters: []\n")));
  EXPECT_TRUE(loads(parse("device: {id: gw}\nadapters:\n")));
}

TEST(SiteConfigLoader, ReportsFiveDifferentMistakesAtTheirLineAndColumn) {
  // Five unrelated mistakes; the unknown key (line 6) is only found when its section is
  // finished, after the ones below it, so the order also shows the errors are sorted.
  const auto result = parse(R"(device:
  id: espresso 1
queue:
  commit_window: 2h
uplink:
  keepalve: 30s
  max_inflight: abc
adapters:
  - name: bus
    type: modbus
    host: 127.0.0.1
    devices:
      - name: dev
        points:
          - {name: t, table: holding, address: 0, type: flot32}
)");
  EXPECT_TRUE(has_errors(
      result, {{2, 7, "device.id: expected a name of 1 to 64 characters"},
               {4, 18,
                "queue.commit_window: 2h is out of range: expected a duration between 0ms "
                "and 10s"},
               {6, 3, "uplink: unknown key 'keepalve' (did you mean 'keepalive'?)"},
               {7, 17, "uplink.max_inflight: expected an integer between 1 and 65535, got 'abc'"},
               {15, 57,
                "adapters[0].devices[0].points[0].type: unknown value 'flot32' (did you "
                "mean 'float32'?)"}}));
}

TEST(SiteConfigLoader, SuggestsTheNearestKnownKeyForAMisspeltKey) {
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: h
    devices:
      - name: dev
        pol_interval: 2s
        points: [{name: p, table: holding, address: 0, type: uint16}]
)");
  EXPECT_TRUE(has_error(result, 8, 9,
                        "adapters[0].devices[0]: unknown key 'pol_interval' (did you mean "
                        "'poll_interval'?)"));
}

TEST(SiteConfigLoader, KnowsWhatOtherGatewaysCallAKeyOrAValue) {
  // Copied from a ThingsBoard, Neuron or modpoll configuration: not close by spelling, but the
  // same thing under another name.
  const auto result = parse(R"(device: {id: gw}
adapters:
  - name: bus
    type: modbus
    host: h
    devices:
      - name: dev
        slaveId: 3
        points:
          - {name: p, table: holding_registers, address: 0, type: float, word_order: ABCD}
)");
  EXPECT_TRUE(has_errors(
      result, {{8, 9, "adapters[0].devices[0]: unknown key 'slaveId' (did you mean 'unit_id'?)"},
               {10, 30, "table: unknown value 'holding_registers' (did you mean 'holding'?)"},
               {10, 67, "type: unknown value 'float' (did you mean 'float32'?)"},
               {10, 74, "unknown key 'word_order' (did you mean 'order'?)"}}));
  // Another gateway's word is offered only where ours is a candidate: 'gain' means scale, but
  // the control section has no scale.
  EXPECT_TRUE(has_error(parse("device: {id: gw}\ncontrol: {socket: /s, gain: 2}\n"), 2, 23,
                        "control: unknown key 'gain'; the keys allowed here are 'socket'"));
}

TEST(SiteConfigLoader, SaysToQuoteAValueThatStartsWithAYamlIndicator) {
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nuplink:\n  client_id: %gw\n"), 3, 14,
                        "YAML syntax error: unknown token (a value that starts with '%' must be "
                        "quoted: write \"%gw\")"));
}

TEST(SiteConfigLoader, ListsTheAllowedKeysWhenNoKnownKeyIsClose) {
  const auto result = parse("device: {id: gw}\ncontrol: {socket: /s, colour: blue}\n");
  EXPECT_TRUE(has_error(result, 2, 23,
                        "control: unknown key 'colour'; the keys allowed here are 'socket'"));
}

TEST(SiteConfigLoader, ReportsAnUnknownTopLevelSection) {
  EXPECT_TRUE(has_error(parse("device: {id: gw}\nqeue: {path: /q}\n"), 2, 1,
                        "unknown key 'qeue' (did you mean 'queue'?)"));
}

TEST(SiteConfigLoader, LocatesAYamlSyntaxError) {
  // The unclosed '{' on line 3 is noticed where the map cannot go on: at the ':' on line 4.
  EXPECT_TRUE(has_error(parse("device:\n  id: gw\nqueue: {path: /q\ncontrol: {}\n"), 4, 8,
                        "YAML syntax error: end of map flow not found"));
}

TEST(SiteConfigLoader, LocatesABadIndentation) {
  EXPECT_TRUE(has_error(parse("device:\n  id: gw\n    extra: 1\n"), 3, 10,
                        "YAML syntax error: illegal map value (check the indentation and quotes "
                        "on this line and the one before)"));
}

TEST(SiteConfigLoader, ReportsAStrayCommaInsteadOfHanging) {
  // yaml-cpp 0.7's LoadAll never returns on these (yaml-cpp issue #1040): a hang here is the bug.
  EXPECT_TRUE(has_error(parse(", device: {id: gw}\n"), 1, 1, "YAML syntax error: unexpected ','"));
  EXPECT_TRUE(has_error(parse("# header\n,\n"), 2, 1, "YAML syntax error: unexpected ','"));
  EXPECT_TRUE(
      has_error(parse("device: {id: gw}\n---\n, x\n"), 3, 1, "YAML syntax error: unexpected ','"));
}

TEST(SiteConfigLoader, IgnoresAnEmptyDocumentAfterTheFirst) {
  EXPECT_TRUE(loads(parse("---\ndevice: {id: gw}\n---\n")));
  EXPECT_TRUE(loads(parse("device: {id: gw}\n...\n")));
}

TEST(SiteConfigLoader, SaysWhenASyntaxErrorComesFromATabInTheIndentation) {
  EXPECT_TRUE(has_error(parse("device:\n\tid: gw\n"), 2, 4,
                        "YAML syntax error: illegal map value (this line is indented with a tab: "
                        "YAML indentation must be spaces)"));
}

TEST(SiteConfigLoader, RejectsADuplicateKeyAndPointsAtTheFirstOne) {
  const auto result = parse(R"(device: {id: gw}
queue:
  path: /a.db
  max_age: 1d
  path: /b.db
)");
  EXPECT_TRUE(
      has_error(result, 5, 3, "queue: duplicate key 'path' (first defined at line 3, column 3)"));
}

TEST(SiteConfigLoader, RejectsADuplicateKeyInAFlowMap) {
  EXPECT_TRUE(has_error(parse("device: {id: a, id: b}\n"), 1, 17, "duplicate key 'id'"));
}

TEST(SiteConfigLoader, ReportsAValueOfTheWrongKindWithWhatWasExpected) {
  const auto result = parse(R"(device: gw
queue:
  max_age: [1d]
adapters: {name: bus}
)");
  EXPECT_TRUE(has_errors(
      result, {{1, 9, "device: expected a map (key: value lines), got a single value"},
               {3, 12,
                "queue.max_age: expected a duration between 1m and 3650d (e.g. 500ms, "
                "2s, 5m, 7d), got a list"},
               {4, 11, "adapters: expected a list (lines starting with '- '), got a map"}}));
}

TEST(SiteConfigLoader, ReportsAMissingRequiredKeyAtItsSection) {
  EXPECT_TRUE(has_errors(
      parse("device:\n  name: gw\n"),
      {{2, 3, "device: missing required key 'id'"}, {2, 3, "device: unknown key 'name'"}}));
}

TEST(SiteConfigLoader, RequiresTheDeviceSectionEvenInAnEmptyFile) {
  EXPECT_TRUE(has_error(parse(""), 1, 1, "missing required key 'device'"));
  EXPECT_TRUE(has_error(parse("# nothing yet\n"), 1, 1, "missing required key 'device'"));
}

TEST(SiteConfigLoader, LocatesAKeyWithoutAValueAtTheKey) {
  // yaml-cpp marks an empty value at the start of the next line; the error must name the key's.
  EXPECT_TRUE(has_error(parse("device:\n  id:\nqueue: {}\n"), 2, 3,
                        "device.id: expected a name of 1 to 64 characters A-Z a-z 0-9 . _ - "
                        "starting with a letter or digit, got nothing"));
}

TEST(SiteConfigLoader, RejectsASecondYamlDocument) {
  EXPECT_TRUE(has_error(parse("device: {id: gw}\n---\ndevice: {id: other}\n"), 2, 1,
                        "a second YAML document ('---') starts here"));
}

TEST(SiteConfigLoader, ReadsAFileAndNamesItInEveryLocation) {
  guardian::testing::TempDir dir;
  const auto path = dir / "guardian.yaml";
  guardian::testing::write_file(path, "device: {id: gw}\nqueue: {max_age: soon}\n");
  const auto bad = load_site_config(path);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].file, path.string());
  EXPECT_EQ(bad.errors[0].to_string().rfind(path.string() + ":2:18: error: queue.max_age:", 0), 0u)
      << bad.errors[0].to_string();

  guardian::testing::write_file(path, std::string(kEveryKey));
  const auto good = load_site_config(path);
  ASSERT_TRUE(loads(good));
  EXPECT_EQ(good.config->source_file, path);
  EXPECT_EQ(std::get<ModbusAdapterConfig>(good.config->adapters[0]).devices[0].points[0].where.file,
            path.string());
}

TEST(SiteConfigLoader, ReportsAFileThatCannotBeReadWithoutAPosition) {
  guardian::testing::TempDir dir;
  const auto missing = load_site_config(dir / "absent.yaml");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_EQ(missing.errors[0].to_string(),
            (dir / "absent.yaml").string() +
                ": error: cannot open the configuration: No such file or directory");
  const auto directory = load_site_config(dir.path());
  ASSERT_EQ(directory.errors.size(), 1u);
  EXPECT_NE(directory.errors[0].message.find("is a directory"), std::string::npos);
}

TEST(ConfigError, FormatsAsFileLineColumnErrorMessage) {
  const ConfigError located{"/etc/guardian/guardian.yaml", 12, 5, "something is wrong"};
  EXPECT_EQ(located.to_string(), "/etc/guardian/guardian.yaml:12:5: error: something is wrong");
  const ConfigError unlocated{"/etc/guardian/guardian.yaml", 0, 0, "cannot open"};
  EXPECT_EQ(unlocated.to_string(), "/etc/guardian/guardian.yaml: error: cannot open");
}

}  // namespace
}  // namespace guardian::config
