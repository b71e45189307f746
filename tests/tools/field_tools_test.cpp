// guardian probe|scan|write modbus against pymodbus (TCP and RTU on a pty pair) and
// guardian-sim: what a technician sees, the exit codes, and the explanations of failures.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"
#include "guardian/testing/pymodbus.hpp"
#include "guardian/testing/serial_pair.hpp"
#include "modbus_probe.hpp"
#include "modbus_scan.hpp"
#include "modbus_write_command.hpp"

namespace guardian::tools {
namespace {

using namespace std::chrono_literals;
using guardian::testing::PymodbusServer;
using guardian::testing::PymodbusTransports;
using guardian::testing::SerialPair;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

template <class Options, class Fn>
Run run(const Options& options, Fn fn) {
  std::ostringstream out, err;
  Run r;
  r.exit_code = fn(options, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string tcp(const PymodbusServer& server) {
  return "tcp://127.0.0.1:" + std::to_string(server.port());
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// 123.456f = 0x42F6E979; the next two registers are "GS" "3\0".
constexpr const char* kSpec = R"({
  "units": {"1": {"hr": {"0": 17142, "1": 59769, "2": 18259, "3": 13056, "14": 900},
                  "co": {"0": 1, "1": 0, "2": 1}},
            "2": {"hr": {}}},
  "forbidden": {"1": {"hr": [[100, 101]]}, "2": {"hr": [[0, 0]]}}})";

TEST(ProbeModbus, ShowsTheRawRegistersAndEveryDecodingSideBySide) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ProbeOptions o;
  o.connection.endpoint = tcp(server);
  o.read = "holding:0:4";
  const auto r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, ", unit 1: holding registers 0-3 answered in ")) << r.out;
  EXPECT_TRUE(has(r.out, "       0  0x42F6     17142   17142  0100 0010 1111 0110")) << r.out;
  EXPECT_TRUE(has(r.out, "       1  0xE979     59769   -5767")) << r.out;
  // float32 of registers 0-1 in each order: ABCD is the sensible one.
  EXPECT_TRUE(has(r.out, "       0  ABCD   123.456*                 1123477881")) << r.out;
  EXPECT_TRUE(has(r.out, "       0  CDAB   ")) << r.out;
  EXPECT_TRUE(has(r.out, "64-bit values from each address:")) << r.out;
  EXPECT_TRUE(has(r.out, "  as sent      \"B..yGS3.\"")) << r.out;
}

TEST(ProbeModbus, TypeAndOrderFiltersShowOneDecodingAndPlausibleFloatsAreMarked) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ProbeOptions o;
  o.connection.endpoint = tcp(server);
  o.read = "holding:0:4";
  auto r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  // Unfiltered: every order, the sensible float marked and the byte-swapped garbage not.
  EXPECT_TRUE(has(r.out, "       0  ABCD   123.456*   ")) << r.out;
  EXPECT_FALSE(has(r.out, "       0  CDAB   -1.883367e+25*")) << r.out;
  o.type = "float32";
  o.order = "ABCD";
  r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, " address  order  float32")) << r.out;
  EXPECT_TRUE(has(r.out, "       0  ABCD   123.456*")) << r.out;
  for (const char* hidden : {"CDAB  ", "uint32", "64-bit values", "hex  unsigned", "as sent"})
    EXPECT_FALSE(has(r.out, hidden)) << hidden << " in:\n" << r.out;
  o.type = "string";
  o.order.clear();
  r = run(o, run_modbus_probe);
  EXPECT_TRUE(has(r.out, "  as sent      \"B..yGS3.\"")) << r.out;
  EXPECT_FALSE(has(r.out, "32-bit values")) << r.out;
}

TEST(ProbeModbus, CountsAddressesAsTheManualDoesWithAddressBaseOne) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ProbeOptions o;
  o.connection.endpoint = tcp(server);
  o.read = "holding:15:1";  // the manual's register 15 is protocol address 14
  o.address_base = 1;
  const auto r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, "holding register 15 answered in")) << r.out;
  EXPECT_TRUE(has(r.out, "(as the manual counts; protocol address 14)")) << r.out;
  EXPECT_TRUE(has(r.out, "      15  0x0384       900     900")) << r.out;
}

TEST(ProbeModbus, ReadsCoils) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ProbeOptions o;
  o.connection.endpoint = tcp(server);
  o.read = "coil:0:3";
  const auto r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, "       0  1\n       1  0\n       2  1\n")) << r.out;
}

TEST(ProbeModbus, ExplainsATimeoutAnExceptionAndARefusedConnection) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ProbeOptions o;
  o.connection.endpoint = tcp(server);
  o.connection.timeout = "200ms";
  o.unit = 9;
  auto r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_TRUE(has(r.err, "no answer from unit 9 reading holding registers 0-9: check the unit id"))
      << r.err;

  o.unit = 1;
  o.read = "holding:100:2";
  r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_TRUE(has(r.err, "unit 1 answered exception 02 illegal data address reading holding "
                         "registers 100-101: the device has no such address"))
      << r.err;

  o.connection.endpoint = "tcp://127.0.0.1:" + std::to_string(guardian::testing::free_tcp_port());
  r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitCannotConnect);
  EXPECT_TRUE(has(r.err, "Connection refused; is the device's Modbus TCP server enabled")) << r.err;

  o.connection.endpoint = "modbus://x";
  r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(has(r.err, "'modbus://x' is not a Modbus address: write tcp://host[:port]")) << r.err;
  o.connection.endpoint = tcp(server);
  o.read = "holdng:0:1";
  r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(has(r.err, "did you mean 'holding'?")) << r.err;
}

TEST(ProbeModbus, ReadsAUnitOnASerialLine) {
  SerialPair line;
  PymodbusServer server(nlohmann::json::parse(kSpec),
                        PymodbusTransports{false, false, line.device_end()});
  ProbeOptions o;
  o.connection.endpoint = line.gateway_end().string();
  o.connection.baud = 19200;
  o.connection.parity = "even";
  o.read = "holding:0:2";
  const auto r = run(o, run_modbus_probe);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, line.gateway_end().string() + " 19200 8E1, unit 1: holding registers 0-1"))
      << r.out;
  EXPECT_TRUE(has(r.out, "123.456")) << r.out;
}

TEST(ProbeModbus, RefusesASerialPortAnotherMasterHolds) {
  SerialPair line;
  // The gateway (here: another client) has the bus: a second master would talk over it.
  auto holder = adapters::modbus::ModbusClient::open(
      adapters::modbus::parse_endpoint(line.gateway_end().string()).value(), 1s);
  ASSERT_TRUE(holder) << holder.error().message;
  ProbeOptions o;
  o.connection.endpoint = line.gateway_end().string();
  const auto r = run(o, run_modbus_probe);
  EXPECT_EQ(r.exit_code, kExitCannotConnect);
  EXPECT_TRUE(has(r.err, "serial port " + line.gateway_end().string() +
                             " is in use by another process"))
      << r.err;
}

TEST(ScanModbus, ListsTheUnitsThatAnswerOnASerialBusAnExceptionIncluded) {
  SerialPair line;
  PymodbusServer server(nlohmann::json::parse(kSpec),
                        PymodbusTransports{false, false, line.device_end()});
  ScanOptions o;
  o.connection.endpoint = line.gateway_end().string();
  o.units = "1-4";
  o.bauds = "19200";
  const auto r = run(o, run_modbus_scan);
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, "unit 1 at " + line.gateway_end().string() +
                             " 19200 8N1: answers, holding:0:1 = 17142"))
      << r.out;
  EXPECT_TRUE(has(r.out, "unit 2 at " + line.gateway_end().string() +
                             " 19200 8N1: answers with exception 02 illegal data address (it is "
                             "there; try another --read)"))
      << r.out;
  EXPECT_FALSE(has(r.out, "unit 3")) << r.out;
  EXPECT_TRUE(has(r.out, "found 2 units")) << r.out;
}

TEST(ScanModbus, TriesEverySerialSettingAskedFor) {
  SerialPair line;
  PymodbusServer server(nlohmann::json::parse(kSpec),
                        PymodbusTransports{false, false, line.device_end()});
  ScanOptions o;
  o.connection.endpoint = line.gateway_end().string();
  o.units = "1";
  o.bauds = "9600,19200";
  o.parities = "none,even";
  const auto r = run(o, run_modbus_scan);
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  // A pty carries every setting, so the unit answers at all four.
  for (const auto* setting : {" 9600 8N1", " 9600 8E1", " 19200 8N1", " 19200 8E1"})
    EXPECT_TRUE(has(r.out, setting + std::string(": answers"))) << setting << "\n" << r.out << r.err;
  EXPECT_TRUE(has(r.out, "found 4 units")) << r.out;
}

TEST(ScanModbus, TreatsAGatewaysNoTargetExceptionAsNobodyThere) {
  guardian::testing::TempDir dir("guardian-scan");
  guardian::testing::Process sim(guardian::testing::Process::Options{
      {guardian::testing::binary_path("guardian-sim").string(), "modbus-tcp", "--port", "0",
       "--units", "2,5"},
      {},
      dir / "sim.log",
      {}});
  ASSERT_TRUE(guardian::testing::wait_until(
      [&] { return has(sim.log(), "READY port="); }, 10s));
  const auto log = sim.log();
  ScanOptions o;
  o.connection.endpoint = "tcp://127.0.0.1:" + log.substr(log.find("port=") + 5, 5);
  while (!o.connection.endpoint.empty() && !std::isdigit(o.connection.endpoint.back()))
    o.connection.endpoint.pop_back();
  o.units = "1-6";
  const auto r = run(o, run_modbus_scan);
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(has(r.out, "unit 2 at tcp://127.0.0.1:")) << r.out;
  EXPECT_TRUE(has(r.out, "unit 5 at tcp://127.0.0.1:")) << r.out;
  EXPECT_TRUE(has(r.out, "found 2 units")) << r.out;
}

TEST(ScanModbus, StopsAtMaxTimeAndSaysWhatWasNotTried) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  ScanOptions o;
  o.connection.endpoint = tcp(server);
  o.connection.timeout = "100ms";
  o.units = "3-247";  // nobody there: every unit costs its timeout
  o.max_time = "1s";
  const auto start = std::chrono::steady_clock::now();
  const auto r = run(o, run_modbus_scan);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_TRUE(has(r.err, "stopped at --max-time 1s: units from ")) << r.err;
  EXPECT_TRUE(has(r.out, "found 0 units")) << r.out;
}

TEST(WriteModbus, EncodesTheValueLikeAConfiguredPointAndReadsItBack) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  WriteModbusOptions o;
  o.connection.endpoint = tcp(server);
  o.address = 20;
  o.type = "float32";
  o.order = "CDAB";
  o.value = "92.5";
  auto r = run(o, run_modbus_write);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "unit 1, holding registers 20-21 (float32 CDAB): wrote 92.5 with write multiple "
            "registers 0x0000 0x42B9\nread back 92.5\n");

  // A scaled register, addressed as the manual counts.
  WriteModbusOptions scaled;
  scaled.connection.endpoint = tcp(server);
  scaled.address = 15;
  scaled.address_base = 1;
  scaled.scale = 0.1;
  scaled.value = "93.5";
  r = run(scaled, run_modbus_write);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "unit 1, holding register 15 (uint16): wrote 93.5 with write single register "
            "0x03A7\nread back 93.5\n");
  ProbeOptions check;
  check.connection.endpoint = tcp(server);
  check.read = "holding:14:1";
  EXPECT_TRUE(has(run(check, run_modbus_probe).out, "0x03A7       935")) << "not on the device";

  WriteModbusOptions coil;
  coil.connection.endpoint = tcp(server);
  coil.table = "coil";
  coil.address = 1;
  coil.value = "true";  // a coil is a bool without --type
  r = run(coil, run_modbus_write);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "unit 1, coil 1 (bool): wrote true with write single coil\nread back true\n");
}

TEST(WriteModbus, ABitInARegisterPrintsTheWholeRegisterItWrote) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  WriteModbusOptions o;
  o.connection.endpoint = tcp(server);
  o.address = 14;  // holds 900 = 0x0384: bits 2, 7, 8 and 9 set
  o.type = "bit";
  o.bit = 0;
  o.value = "true";
  const auto r = run(o, run_modbus_write);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  // The other 15 bits were read and kept: 0x0385 went on the wire, not 0x0001.
  EXPECT_EQ(r.out, "unit 1, holding register 14 (bit): wrote true with write single register 0x0385\n"
                   "read back true\n");
  ProbeOptions check;
  check.connection.endpoint = tcp(server);
  check.read = "holding:14:1";
  EXPECT_TRUE(has(run(check, run_modbus_probe).out, "0x0385       901")) << "not on the device";
}

TEST(WriteModbus, SaysWhyAWriteFailsOrIsRefused) {
  PymodbusServer server(nlohmann::json::parse(kSpec));
  WriteModbusOptions o;
  o.connection.endpoint = tcp(server);
  o.address = 100;
  o.value = "1";
  auto r = run(o, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_EQ(r.err,
            "guardian write: exception 02 illegal data address: unit 1 refused writing holding "
            "register 100 with FC06 write single register\n");
  // A unit nobody answers for: the link is fine, the unit is silent.
  WriteModbusOptions silent = o;
  silent.unit = 7;
  silent.connection.timeout = "200ms";
  r = run(silent, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_EQ(r.err, "guardian write: no answer from unit 7 (writing holding register 100 with FC06 "
                   "write single register)\n");
  // The same silence reported by a Modbus gateway for the unit behind it (exception 0B).
  PymodbusServer gateway(nlohmann::json::parse(R"({"units": {}, "gateway_no_response": [9]})"));
  WriteModbusOptions behind = silent;
  behind.connection.endpoint = tcp(gateway);
  behind.unit = 9;
  r = run(behind, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitDeviceError);
  EXPECT_EQ(r.err, "guardian write: no answer from unit 9 behind the Modbus gateway (exception 0B gateway "
                   "target device failed to respond; writing holding register 100 with FC06 write single "
                   "register)\n");
  o.address = 3;
  o.value = "70000";
  r = run(o, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(has(r.err, "value is out of range for uint16")) << r.err;
  o.type = "flaot32";
  r = run(o, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(has(r.err, "--type: unknown value 'flaot32' (did you mean 'float32'?)")) << r.err;
  o.type = "uint16";
  o.table = "input";
  o.value = "1";
  r = run(o, run_modbus_write);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_TRUE(has(r.err, "input registers are read-only in Modbus")) << r.err;
}

}  // namespace
}  // namespace guardian::tools
