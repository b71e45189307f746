// guardian — the daemon and the field-technician CLI.
//
//   guardian run [-c FILE]             run the gateway (default /etc/guardian/guardian.yaml)
//   guardian config check FILE         validate a configuration, print every error
//   guardian status [-c FILE] [--json] show the running daemon's adapters, values, queue, link
//   guardian probe modbus ENDPOINT …   read registers once, shown every plausible way
//   guardian probe serial PORT | tcp HOST:PORT | udp --listen PORT  [--send TEXT | --send-hex HEX]
//                  [--seconds S] [-c FILE --adapter NAME]
//                                      show what a device sends, and what a codec makes of it
//   guardian scan modbus ENDPOINT …    find the units (and serial settings) that answer
//   guardian write modbus ENDPOINT …   write one register or coil on site
//   guardian write [-c FILE] SOURCE POINT VALUE   write a configured point through the daemon
//   guardian version
//
// Exit codes: 0 success, 1 invalid configuration or usage, 2 start-up failure,
// 3 daemon not reachable, 4 the device did not answer or refused, 5 cannot connect.
#include <malloc.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>
#include <iostream>
#include <set>

#include "guardian/common/byte_text.hpp"
#include "guardian/common/log.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/gateway/control_server.hpp"
#include "guardian/gateway/gateway.hpp"
#include "control_write.hpp"
#include "modbus_probe.hpp"
#include "modbus_scan.hpp"
#include "modbus_write_command.hpp"
#include "stream_probe.hpp"
#include "status_printer.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/guardian/guardian.yaml";
constexpr const char* kVersion = "0.1.0";

int print_config_errors(const guardian::config::LoadResult& loaded) {
  for (const auto& e : loaded.errors) std::cerr << e.to_string() << '\n';
  std::cerr << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors") << '\n';
  return 1;
}

int cmd_config_check(const std::string& file) {
  const auto loaded = guardian::config::load_site_config(file);
  if (!loaded.ok()) return print_config_errors(loaded);
  const auto& c = *loaded.config;
  std::size_t devices = 0, points = 0;
  std::set<std::string> profiles;
  struct Count {
    std::size_t& devices;
    std::size_t& points;
    std::set<std::string>& profiles;
    void operator()(const guardian::config::ModbusAdapterConfig& m) const {
      devices += m.devices.size();
      for (const auto& d : m.devices) {
        points += d.points.size();
        if (!d.profile.empty()) profiles.insert(d.profile);
      }
    }
    void operator()(const guardian::config::StreamAdapterConfig& s) const {
      devices += s.peers.empty() ? 1 : s.peers.size();
      for (const auto& m : guardian::config::messages_of(s.codec)) points += m.fields.size();
    }
  };
  for (const auto& a : c.adapters) std::visit(Count{devices, points, profiles}, a);
  std::cout << file << ": OK — device " << c.device_id << ", " << c.adapters.size()
            << " adapter(s), " << devices << " source(s), " << points << " point(s), broker "
            << c.uplink.broker;
  if (!profiles.empty()) {
    std::cout << ", profiles";
    for (const auto& p : profiles) std::cout << ' ' << p;
  }
  std::cout << '\n';
  return 0;
}

int cmd_run(const std::string& file, const std::string& level) {
  using guardian::log::Level;
  if (level == "debug") guardian::log::set_level(Level::debug);
  if (level == "warn") guardian::log::set_level(Level::warn);
  if (level == "error") guardian::log::set_level(Level::error);

  const auto loaded = guardian::config::load_site_config(file);
  if (!loaded.ok()) return print_config_errors(loaded);

  ::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  guardian::gateway::Gateway gateway(io, *loaded.config);
  if (auto started = gateway.start(); !started) {
    guardian::log::error("main", "cannot start: " + started.error().describe());
    return 2;
  }
  // The parsed YAML tree of a large configuration (tens of MB for thousands of points) is freed by
  // now; hand those pages back instead of carrying them as resident memory for years.
  ::malloc_trim(0);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    guardian::log::info("main", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    gateway.stop();
    io.stop();
  });
  io.run();
  return 0;
}

int cmd_status(const std::string& file, const std::string& socket, bool json) {
  std::filesystem::path path = socket;
  if (path.empty()) {
    const auto loaded = guardian::config::load_site_config(file);
    if (!loaded.ok()) return print_config_errors(loaded);
    path = loaded.config->control.socket;
  }
  auto response = guardian::gateway::control_request(path, {{"cmd", "status"}},
                                                     std::chrono::seconds{5});
  if (!response) {
    std::cerr << "guardian status: " << response.error().describe() << '\n';
    return 3;
  }
  const auto& r = response.value();
  if (!r.value("ok", false)) {
    std::cerr << "guardian status: " << r.value("error", std::string("unknown error")) << '\n';
    return 3;
  }
  if (json)
    std::cout << r["status"].dump(2) << '\n';
  else
    guardian::tools::print_status(std::cout, r["status"]);
  return 0;
}

/// What `guardian probe` was given on its command line.
struct ProbeArguments {
  std::string kind;  // serial, tcp, udp
  std::string target;
  int baud = 9600;
  std::string parity = "none", flow = "none";
  int data_bits = 8, stop_bits = 1;
  std::string send, send_hex, bind = "0.0.0.0", config_file, adapter;
  std::uint16_t listen = 0;
  double seconds = 5;
  CLI::App* command = nullptr;
};

bool given(const ProbeArguments& a, const std::string& option) {
  return a.command->get_option(option)->count() > 0;
}

int cmd_probe(const ProbeArguments& a) {
  using namespace guardian;
  tools::StreamProbeOptions options;
  auto& link = options.link;
  // A named adapter supplies its codec, its poll query and (for the same kind of link) its
  // settings; the command line overrides them.
  if (!a.config_file.empty() || !a.adapter.empty()) {
    if (a.config_file.empty() || a.adapter.empty()) {
      std::cerr << "guardian probe: -c FILE and --adapter NAME go together\n";
      return 1;
    }
    const auto loaded = config::load_site_config(a.config_file);
    if (!loaded.ok()) return print_config_errors(loaded);
    const config::StreamAdapterConfig* found = nullptr;
    for (const auto& ac : loaded.config->adapters)
      if (const auto* s = std::get_if<config::StreamAdapterConfig>(&ac); s && s->name == a.adapter)
        found = s;
    if (found == nullptr) {
      std::cerr << "guardian probe: " << a.config_file << " has no serial, tcp-client, tcp-server "
                << "or udp adapter named '" << a.adapter << "'\n";
      return 1;
    }
    link = *found;
    options.codec = found->codec;
    options.codec_origin = "adapter '" + a.adapter + "' in " + a.config_file;
    if (found->poll) options.send = found->poll->query;
  }
  const auto kind = a.kind == "serial" ? config::StreamTransport::serial
                    : a.kind == "tcp"  ? config::StreamTransport::tcp_client
                                       : config::StreamTransport::udp;
  const bool adapter_link = options.codec.has_value() && link.transport == kind;
  if (!adapter_link) link.serial = {};
  link.transport = kind;
  link.backoff_min = link.backoff_max = std::chrono::hours{1};  // a probe does not retry
  // Without an adapter every option counts (with its default); with one, only those written.
  const auto use = [&](const char* option) { return !adapter_link || given(a, option); };
  if (kind == config::StreamTransport::serial) {
    link.serial.port = a.target;
    if (use("--baud")) link.serial.baud = a.baud;
    if (use("--data-bits")) link.serial.data_bits = a.data_bits;
    if (use("--stop-bits")) link.serial.stop_bits = a.stop_bits;
    if (use("--parity"))
      link.serial.parity = a.parity == "even"  ? config::Parity::even
                           : a.parity == "odd" ? config::Parity::odd
                                               : config::Parity::none;
    if (use("--flow-control"))
      link.serial.flow_control = a.flow == "software"   ? config::FlowControl::software
                                 : a.flow == "hardware" ? config::FlowControl::hardware
                                                        : config::FlowControl::none;
  } else if (kind == config::StreamTransport::tcp_client) {
    const auto colon = a.target.rfind(':');
    int port = 0;
    if (colon != std::string::npos) port = std::atoi(a.target.c_str() + colon + 1);
    if (colon == std::string::npos || port < 1 || port > 65535) {
      std::cerr << "guardian probe tcp: expected HOST:PORT, got '" << a.target << "'\n";
      return 1;
    }
    link.host = a.target.substr(0, colon);
    link.port = static_cast<std::uint16_t>(port);
  } else {
    link.host = a.bind;
    link.port = a.listen;
  }
  if (!a.send.empty() || !a.send_hex.empty()) {
    auto bytes = a.send.empty() ? parse_hex_bytes(a.send_hex) : unescape_bytes(a.send);
    if (!bytes) {
      std::cerr << "guardian probe: " << (a.send.empty() ? "--send-hex" : "--send") << ": "
                << bytes.error().message << "\n";
      return 1;
    }
    options.send = std::move(bytes).value();
  }
  options.duration = std::chrono::milliseconds{static_cast<std::int64_t>(a.seconds * 1000)};
  return tools::run_stream_probe(options, std::cout);
}

void add_probe_options(CLI::App* cmd, ProbeArguments& a) {
  cmd->add_option("--send", a.send, "Text to send once connected (escapes: \\r \\n \\xHH)");
  cmd->add_option("--send-hex", a.send_hex, "Bytes to send once connected, in hex ('05 01')")
      ->excludes("--send");
  cmd->add_option("--seconds", a.seconds, "How long to listen")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("-c,--config", a.config_file, "Configuration file holding --adapter");
  cmd->add_option("--adapter", a.adapter, "Decode with this stream adapter's codec (and poll)");
}

}  // namespace

int main(int argc, char** argv) {
  // Memory stays flat for years of uptime: few malloc arenas however many adapter threads run
  // (glibc's default is 8 per core, each keeping its own free lists), and large buffers (payload
  // batches) in their own mappings that go back to the system when freed.
  ::mallopt(M_ARENA_MAX, 2);
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{"guardian — brownfield retrofit gateway: reads legacy equipment, stores and forwards "
               "its telemetry securely"};
  app.require_subcommand(1);

  std::string run_config = kDefaultConfig, level = "info";
  auto* run = app.add_subcommand("run", "Run the gateway daemon");
  run->add_option("-c,--config", run_config, "Configuration file")->capture_default_str();
  run->add_option("--log-level", level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();

  std::string check_file;
  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "Validate a configuration file; print every error");
  check->add_option("file", check_file, "Configuration file")->required();

  std::string status_config = kDefaultConfig, status_socket;
  bool status_json = false;
  auto* status = app.add_subcommand("status", "Show the running daemon's state");
  status->add_option("-c,--config", status_config, "Configuration file (for control.socket)")
      ->capture_default_str();
  status->add_option("--socket", status_socket, "Control socket path (overrides --config)");
  status->add_flag("--json", status_json, "Print the raw JSON status");

  guardian::tools::ProbeOptions probe_options;
  auto* probe = app.add_subcommand(
      "probe", "Show what a device holds (Modbus) or sends (serial, TCP, UDP), raw and decoded");
  probe->require_subcommand(1);
  auto* probe_modbus = probe->add_subcommand(
      "modbus", "Read registers or bits of a Modbus unit and show them raw and decoded every "
                "plausible way (types, word orders, text)");
  guardian::tools::add_probe_options(*probe_modbus, probe_options);
  ProbeArguments probe_serial, probe_tcp, probe_udp;
  probe_serial.kind = "serial";
  probe_serial.command = probe->add_subcommand("serial", "Open a serial port");
  probe_serial.command->add_option("port", probe_serial.target, "e.g. /dev/ttyUSB0")->required();
  probe_serial.command->add_option("--baud", probe_serial.baud, "Bits per second")
      ->capture_default_str();
  probe_serial.command->add_option("--parity", probe_serial.parity, "none, even or odd")
      ->check(CLI::IsMember({"none", "even", "odd"}))
      ->capture_default_str();
  probe_serial.command->add_option("--data-bits", probe_serial.data_bits, "5 to 8")
      ->check(CLI::Range(5, 8))
      ->capture_default_str();
  probe_serial.command->add_option("--stop-bits", probe_serial.stop_bits, "1 or 2")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  probe_serial.command->add_option("--flow-control", probe_serial.flow, "none, software, hardware")
      ->check(CLI::IsMember({"none", "software", "hardware"}))
      ->capture_default_str();
  add_probe_options(probe_serial.command, probe_serial);
  probe_tcp.kind = "tcp";
  probe_tcp.command = probe->add_subcommand("tcp", "Connect to HOST:PORT");
  probe_tcp.command->add_option("target", probe_tcp.target, "HOST:PORT")->required();
  add_probe_options(probe_tcp.command, probe_tcp);
  probe_udp.kind = "udp";
  probe_udp.command = probe->add_subcommand("udp", "Receive datagrams");
  probe_udp.command->add_option("--listen", probe_udp.listen, "UDP port")->required();
  probe_udp.command->add_option("--bind", probe_udp.bind, "Address to bind")->capture_default_str();
  add_probe_options(probe_udp.command, probe_udp);

  guardian::tools::ScanOptions scan_options;
  auto* scan = app.add_subcommand("scan", "Find the devices that answer on a bus");
  scan->require_subcommand(1);
  auto* scan_modbus = scan->add_subcommand(
      "modbus", "Find the Modbus unit ids (and serial settings) that answer, within --max-time");
  guardian::tools::add_scan_options(*scan_modbus, scan_options);

  guardian::tools::WriteModbusOptions write_options;
  guardian::tools::ControlWriteOptions control_write_options;
  control_write_options.config = kDefaultConfig;
  auto* write = app.add_subcommand(
      "write", "Write a value to a device: a configured point through the running daemon "
               "(SOURCE POINT VALUE), or any register with 'write modbus'");
  write->require_subcommand(0, 1);
  write->add_option("-c,--config", control_write_options.config, "Configuration file")
      ->capture_default_str();
  write->add_option("--socket", control_write_options.socket,
                    "Control socket path (overrides --config)");
  write->add_flag("--readback", control_write_options.readback,
                  "Read the point back after writing, even if its configuration does not ask");
  write->add_option("source", control_write_options.source, "The device (source) name");
  write->add_option("point", control_write_options.point, "The point name");
  write->add_option("value", control_write_options.value, "The value: number, true/false, label");
  auto* write_modbus = write->add_subcommand(
      "modbus", "Write one value to a Modbus register or coil, encoded like a configured point, "
                "and read it back");
  guardian::tools::add_write_modbus_options(*write_modbus, write_options);

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run) return cmd_run(run_config, level);
    if (*check) return cmd_config_check(check_file);
    if (*status) return cmd_status(status_config, status_socket, status_json);
    if (*probe_serial.command) return cmd_probe(probe_serial);
    if (*probe_tcp.command) return cmd_probe(probe_tcp);
    if (*probe_udp.command) return cmd_probe(probe_udp);
    if (*probe_modbus) return guardian::tools::run_modbus_probe(probe_options, std::cout, std::cerr);
    if (*scan_modbus) return guardian::tools::run_modbus_scan(scan_options, std::cout, std::cerr);
    if (*write_modbus)
      return guardian::tools::run_modbus_write(write_options, std::cout, std::cerr);
    if (*write) {
      if (control_write_options.value.empty()) {
        std::cerr << "guardian write: give SOURCE POINT VALUE (a configured point, through the "
                     "daemon), or use 'guardian write modbus ENDPOINT …'\n";
        return 1;
      }
      return guardian::tools::run_control_write(control_write_options, std::cout, std::cerr);
    }
    if (*version) {
      std::cout << "guardian " << kVersion << '\n';
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "guardian: " << e.what() << '\n';
    return 2;
  }
  return 1;
}
