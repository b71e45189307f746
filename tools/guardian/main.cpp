// guardian — the daemon and the field-technician CLI.
//
//   guardian run [-c FILE]             run the gateway (default /etc/guardian/guardian.yaml)
//   guardian config check FILE         validate a configuration, print every error
//   guardian status [-c FILE] [--json] show the running daemon's adapters, values, queue, link
//   guardian tail [-c FILE] [--source S] [--point P] [--json]
//                                      follow the daemon's live readings and records
//   guardian identity provision|show   the TPM identity of the secure link (identity_command.cpp)
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

#include "guardian/common/log.hpp"
#include "guardian/config/loader.hpp"
#include "guardian/gateway/control_server.hpp"
#include "guardian/gateway/gateway.hpp"
#include "control_write.hpp"
#include "decode_command.hpp"
#include "identity_command.hpp"
#include "modbus_probe.hpp"
#include "modbus_scan.hpp"
#include "modbus_write_command.hpp"
#include "stream_probe.hpp"
#include "status_printer.hpp"
#include "tail_command.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/guardian/guardian.yaml";
constexpr const char* kVersion = "0.1.0";

void print_config_warnings(const guardian::config::LoadResult& loaded) {
  for (const auto& w : loaded.warnings) std::cerr << w.to_string() << '\n';
}

int print_config_errors(const guardian::config::LoadResult& loaded) {
  print_config_warnings(loaded);
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
      if (!s.profile.empty()) profiles.insert(s.profile);
    }
  };
  for (const auto& a : c.adapters) std::visit(Count{devices, points, profiles}, a);
  print_config_warnings(loaded);
  std::cout << file << ": OK — device " << c.device_id << ", " << c.adapters.size()
            << " adapter(s), " << devices << " source(s), " << points << " point(s), broker "
            << c.uplink.broker;
  if (!c.traces.empty()) {
    std::cout << ", traces";
    for (const auto& t : c.traces) std::cout << ' ' << t.source << '/' << t.name;
  }
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
  for (const auto& w : loaded.warnings) guardian::log::warn("config", w.to_string());

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

}  // namespace

int main(int argc, char** argv) {
  // tpm2-tss logs every TPM error response to stderr, including the expected "no object at this
  // handle" of a first provisioning; Guardian reports what matters itself. TSS2_LOG=all+ERROR
  // in the environment brings the library's log back for debugging.
  ::setenv("TSS2_LOG", "all+NONE", /*overwrite=*/0);
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

  guardian::tools::IdentityCommand identity;
  guardian::tools::add_identity_command(app, identity, kDefaultConfig);
  guardian::tools::ProbeOptions probe_options;
  auto* probe = app.add_subcommand(
      "probe", "Show what a device holds (Modbus) or sends (serial, TCP, UDP), raw and decoded");
  probe->require_subcommand(1);
  auto* probe_modbus = probe->add_subcommand(
      "modbus", "Read registers or bits of a Modbus unit and show them raw and decoded every "
                "plausible way (types, word orders, text)");
  guardian::tools::add_probe_options(*probe_modbus, probe_options);
  guardian::tools::StreamProbeCommands stream_probe;
  guardian::tools::add_stream_probe_commands(*probe, stream_probe);

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

  guardian::tools::TailOptions tail_options;
  auto* tail = app.add_subcommand(
      "tail", "Follow the running daemon's live readings and records (until Ctrl-C)");
  guardian::tools::add_tail_options(*tail, tail_options);

  guardian::tools::DecodeOptions decode_options;
  auto* decode = app.add_subcommand(
      "decode", "Turn compact (v2) payloads back into v1 JSON and trace chunks into whole traces");
  guardian::tools::add_decode_options(*decode, decode_options);

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run) return cmd_run(run_config, level);
    if (*check) return cmd_config_check(check_file);
    if (*status) return cmd_status(status_config, status_socket, status_json);
    if (const auto* chosen = stream_probe.chosen())
      return guardian::tools::run_stream_probe_command(*chosen, std::cout, std::cerr);
    if (*identity.provision || *identity.show) return guardian::tools::run_identity_command(identity);
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
    if (*tail) return guardian::tools::run_tail(tail_options, std::cout, std::cerr);
    if (*decode) return guardian::tools::run_decode(decode_options, std::cin, std::cout, std::cerr);
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
