// guardian-sim: equipment simulators for demos, tests and benchmarks (docs/simulator.md).
#include <csignal>
#include <cstdio>
#include <iostream>

// CLI11 2.1's string splitting trips GCC 12's -Wnull-dereference (a false positive in inlined
// libstdc++ code), so the check is off for this thin main only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>

#include "modbus_rtu_server.hpp"
#include "modbus_tcp_server.hpp"
#include "serial_sim_server.hpp"
#include "sim_units.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_signal(int) { g_stop = 1; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// What both servers share: which machines on which unit ids, how fast time runs.
struct MachineOptions {
  std::string units = "1";
  std::string models = "espresso";
  double speed = 1.0;
  std::uint32_t seed = 1;
  int bulk_registers = 1000;

  void add_to(CLI::App& command) {
    command
        .add_option("--units", units,
                    "Unit ids: a count N (1..N) or a list with ranges, e.g. 1,2 or 1-3,7")
        ->capture_default_str();
    command
        .add_option("--model", models,
                    "Machine model for every unit, or one per unit (comma-separated): "
                    "espresso, sdm120, sdm630, bulk")
        ->capture_default_str();
    command.add_option("--speed", speed, "Simulated seconds per real second")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command.add_option("--seed", seed, "Seed of the machines' randomness")->capture_default_str();
    command.add_option("--bulk-registers", bulk_registers, "Holding registers of the bulk model")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"guardian-sim: simulated legacy equipment for Guardian demos, tests and benchmarks"};
  app.require_subcommand(1);
  MachineOptions machines;

  guardian::sim::ModbusTcpSimOptions tcp_options;
  auto* tcp = app.add_subcommand("modbus-tcp", "Serve simulated machines over Modbus TCP");
  tcp->add_option("--port", tcp_options.port, "TCP port to listen on (0 = any free port)")
      ->required();
  tcp->add_option("--bind", tcp_options.bind, "IPv4 address to listen on")->capture_default_str();
  machines.add_to(*tcp);

  guardian::sim::ModbusRtuSimOptions rtu_options;
  std::string parity = "none";
  auto* rtu = app.add_subcommand("modbus-rtu", "Serve simulated machines as Modbus RTU units on a "
                                               "serial device (an RS-485 adapter or a pty)");
  rtu->add_option("--serial", rtu_options.port, "Serial device, e.g. /dev/ttyUSB0 or /dev/pts/3")
      ->required();
  rtu->add_option("--baud", rtu_options.baud, "Baud rate")->capture_default_str();
  rtu->add_option("--parity", parity, "none, even or odd")
      ->check(CLI::IsMember({"none", "even", "odd"}))
      ->capture_default_str();
  rtu->add_option("--stop-bits", rtu_options.stop_bits, "1 or 2")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  machines.add_to(*rtu);
  guardian::sim::SerialSimOptions serial_options;
  std::string serial_model = "espresso-serial";
  auto* serial = app.add_subcommand(
      "serial", "One machine speaking its serial protocol on a device or a TCP port");
  auto* device = serial->add_option("--device", serial_options.device,
                                    "Serial device, e.g. one end of a socat pty pair");
  serial->add_option("--tcp-port", serial_options.tcp_port, "Serve the same over TCP instead")
      ->excludes(device)
      ->check(CLI::Range(0, 65535));
  serial->add_option("--bind", serial_options.bind, "IPv4 address for --tcp-port")
      ->capture_default_str();
  serial->add_option("--model", serial_model, "Machine model")
      ->check(CLI::IsMember({"espresso-serial"}))
      ->capture_default_str();
  serial->add_option("--baud", serial_options.baud, "Baud rate set on --device")
      ->capture_default_str();
  serial->add_option("--speed", serial_options.speed, "Simulated seconds per real second")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serial->add_option("--status-interval", serial_options.status_interval,
                     "Real seconds between two status lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serial->add_option("--trace-interval", serial_options.trace_interval,
                     "Real seconds between two trace lines while brewing (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serial->add_option("--seed", serial_options.seed, "Seed of the machine's randomness")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (*serial) {
    if (serial_options.device.empty() && serial_options.tcp_port < 0) {
      std::cerr << "guardian-sim serial: give --device PATH or --tcp-port P\n";
      return 1;
    }
    guardian::sim::SerialSimServer server(serial_options);
    const auto opened = server.open();
    if (!opened) {
      std::cerr << "guardian-sim: " << opened.error().describe() << "\n";
      return 1;
    }
    install_signal_handlers();
    std::cout << "READY " << opened.value() << std::endl;
    const auto written = server.run(g_stop);
    std::cerr << "guardian-sim: stopped after writing " << written << " sentences\n";
    return 0;
  }

  try {
    auto specs = guardian::sim::parse_units(machines.units, machines.models);
    if (!specs) {
      std::cerr << "guardian-sim: " << specs.error().message << "\n";
      return 1;
    }
    guardian::sim::SimulatedUnits units(specs.value(), machines.speed, machines.seed,
                                        machines.bulk_registers);
    if (*tcp) {
      guardian::sim::ModbusTcpSimServer server(tcp_options, units);
      auto port = server.listen();
      if (!port) {
        std::cerr << "guardian-sim: " << port.error().message
                  << " (is the port in use, or below 1024 without privileges?)\n";
        return 1;
      }
      install_signal_handlers();
      std::cout << "READY port=" << port.value() << std::endl;
      const auto answered = server.run(g_stop);
      std::cerr << "guardian-sim: stopped after answering " << answered << " requests\n";
      return 0;
    }
    rtu_options.parity = parity == "even" ? 'E' : parity == "odd" ? 'O' : 'N';
    guardian::sim::ModbusRtuSimServer server(rtu_options, units);
    if (auto opened = server.open(); !opened) {
      std::cerr << "guardian-sim: " << opened.error().message << "\n";
      return 1;
    }
    install_signal_handlers();
    std::cout << "READY serial=" << rtu_options.port << std::endl;
    const bool stopped = server.run(g_stop);
    std::cerr << "guardian-sim: " << (stopped ? "stopped" : "the serial line hung up")
              << " after answering " << units.answered() << " requests\n";
    return stopped ? 0 : 3;
  } catch (const std::exception& e) {
    std::cerr << "guardian-sim: " << e.what() << "\n";
    return 1;
  }
}
