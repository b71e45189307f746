// Modbus TCP throughput against guardian-sim: a plain libmodbus request loop versus the adapter
// on one connection (same request), then N connections through the adapter into one io_context.
// Prints its figures; run by hand:
//   build/bin/bench_modbus_throughput [--seconds 3] [--connections 50]
#include <modbus/modbus.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#pragma GCC diagnostic ignored \
    "-Wnull-dereference"  // CLI11 2.1 vs GCC 12, see tools/guardian-sim/main.cpp
#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "espresso_model.hpp"
#include "guardian/adapters/modbus/modbus_adapter.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using guardian::config::RegisterTable;
using Clock = std::chrono::steady_clock;

// guardian-sim started with posix_spawn; its READY line read from a pipe.
class Simulator {
 public:
  Simulator(const std::string& path, int units) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> args{path, "modbus-tcp", "--port",
                                  "0",  "--units",    std::to_string(units)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + path);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    std::string line;
    char c = 0;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    if (line.rfind("READY port=", 0) != 0) throw std::runtime_error("guardian-sim said: " + line);
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(11)));
  }
  ~Simulator() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// The espresso map of guardian-sim (docs/simulator.md): holding registers 0–13 alone are 9 points
// read with one request per poll; the full map is 13 points and 4 requests.
std::vector<guardian::config::ModbusPoint> espresso_points(bool full_map) {
  std::vector<guardian::config::ModbusPoint> points;
  for (const auto& p : guardian::sim::espresso_register_map())
    if (full_map || p.table == RegisterTable::holding_register) points.push_back(p);
  return points;
}

double plain_libmodbus(std::uint16_t port, std::chrono::seconds duration) {
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  if (ctx == nullptr || modbus_connect(ctx) != 0) throw std::runtime_error("plain connect failed");
  modbus_set_slave(ctx, 1);
  std::uint16_t regs[14];
  std::uint64_t n = 0;
  const auto start = Clock::now();
  const auto end = start + duration;
  while (Clock::now() < end) {
    if (modbus_read_registers(ctx, 0, 14, regs) == 14) ++n;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  modbus_close(ctx);
  modbus_free(ctx);
  return static_cast<double>(n) / seconds;
}

struct AdapterRun {
  double requests_per_s = 0;
  double readings_per_s = 0;
  double batches_per_s = 0;
};

AdapterRun through_adapters(std::uint16_t port, int connections, bool full_map,
                            std::chrono::seconds duration) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::uint64_t readings = 0, batches = 0, bad = 0;
  std::vector<std::unique_ptr<guardian::adapters::modbus::ModbusAdapter>> adapters;
  for (int i = 1; i <= connections; ++i) {
    guardian::config::ModbusAdapterConfig c;
    c.name = "conn-" + std::to_string(i);
    c.tcp = {"127.0.0.1", port};
    guardian::config::ModbusDevice d;
    d.name = "espresso-" + std::to_string(i);
    d.unit_id = i;
    d.poll_interval = 0ms;
    d.points = espresso_points(full_map);
    c.devices = {d};
    adapters.push_back(std::make_unique<guardian::adapters::modbus::ModbusAdapter>(
        c, io, [&](guardian::ReadingBatch&& b) {
          ++batches;
          readings += b.readings.size();
          for (const auto& r : b.readings) bad += r.quality != guardian::Quality::good;
        }));
  }
  for (auto& a : adapters) a->start();
  io.run_for(500ms);  // connect and warm up
  std::uint64_t requests0 = 0;
  for (auto& a : adapters) requests0 += a->health().sources.at(0).requests;
  const auto readings0 = readings, batches0 = batches;
  const auto start = Clock::now();
  io.run_for(duration);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t requests1 = 0;
  for (auto& a : adapters) requests1 += a->health().sources.at(0).requests;
  for (auto& a : adapters) a->stop();
  if (bad != 0) std::cerr << "  warning: " << bad << " readings were not good\n";
  return {static_cast<double>(requests1 - requests0) / seconds,
          static_cast<double>(readings - readings0) / seconds,
          static_cast<double>(batches - batches0) / seconds};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Modbus TCP throughput: plain libmodbus vs the Guardian adapter, against guardian-sim"};
  int seconds = 2;
  int connections = 50;
  int rounds = 5;
  std::string sim = std::string(GUARDIAN_BINARY_DIR) + "/bin/guardian-sim";
  app.add_option("--seconds", seconds, "Duration of each measurement")->capture_default_str();
  app.add_option("--connections", connections, "Connections for the fan-in run")
      ->check(CLI::Range(1, 247))
      ->capture_default_str();
  app.add_option("--rounds", rounds, "Alternating rounds of the one-connection comparison")
      ->capture_default_str();
  app.add_option("--sim", sim, "guardian-sim executable")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::chrono::seconds duration{seconds};

  Simulator simulator(sim, connections);
  std::printf("guardian-sim on port %u, %d s per run\n", simulator.port(), seconds);
  // The machine is shared (and small): alternate the two contenders and keep the medians so that
  // a burst of unrelated load does not decide the comparison.
  std::vector<double> plain_runs, adapter_runs, adapter_readings;
  for (int round = 0; round < rounds; ++round) {
    plain_runs.push_back(plain_libmodbus(simulator.port(), duration));
    const auto one = through_adapters(simulator.port(), 1, false, duration);
    adapter_runs.push_back(one.requests_per_s);
    adapter_readings.push_back(one.readings_per_s);
  }
  const double plain = median(plain_runs);
  const double adapter = median(adapter_runs);
  std::printf("one connection, 14 holding registers per request (median of %d rounds):\n", rounds);
  std::printf("  plain libmodbus loop   %9.0f requests/s\n", plain);
  std::printf("  adapter                %9.0f requests/s  (%.2fx plain)  %9.0f readings/s\n",
              adapter, adapter / plain, median(adapter_readings));
  const auto many = through_adapters(simulator.port(), connections, false, duration);
  std::printf("%d connections, holding registers only (9 points, 1 request per poll):\n",
              connections);
  std::printf("  adapters               %9.0f requests/s  %9.0f readings/s  %8.0f batches/s\n",
              many.requests_per_s, many.readings_per_s, many.batches_per_s);
  const auto full = through_adapters(simulator.port(), connections, true, duration);
  std::printf("%d connections, full espresso map (13 points, 4 requests per poll):\n", connections);
  std::printf("  adapters               %9.0f requests/s  %9.0f readings/s  %8.0f batches/s\n",
              full.requests_per_s, full.readings_per_s, full.batches_per_s);
  return 0;
}
