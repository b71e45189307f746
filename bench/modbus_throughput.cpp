// Modbus TCP polling throughput against guardian-sim, the Guardian adapter next to a plain
// libmodbus loop doing the same reads, in the same run:
//   1. one connection, alternating the two contenders over several rounds (medians);
//   2. 1, 10 and 50 devices, each on its own connection: the adapters on one io_context, versus
//      one plain loop (one thread) per device;
//   3. 10 units behind one connection (one bus scheduler) versus a plain loop cycling the unit
//      ids on one connection.
// Each run prints requests/s, points/s, the process's CPU (user+system, as % of one core and per
// request) and its resident memory. Run by hand:
//   build/bin/bench_modbus_throughput [--seconds 2] [--rounds 5] [--devices 1,10,50]
#include <modbus/modbus.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
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

// The espresso map's holding registers: the points one request per poll reads.
std::vector<guardian::config::ModbusPoint> holding_points() {
  std::vector<guardian::config::ModbusPoint> points;
  for (const auto& p : guardian::sim::espresso_register_map())
    if (p.table == RegisterTable::holding_register) points.push_back(p);
  return points;
}

// The registers those points span (one request).
std::uint16_t holding_span() {
  std::uint16_t end = 0;
  for (const auto& p : holding_points())
    end = std::max<std::uint16_t>(end, static_cast<std::uint16_t>(p.address + p.width()));
  return end;
}

// CPU time of this process and its memory, for the figures next to each run.
struct Usage {
  double cpu_s = 0.0;
  double rss_mib = 0.0;
  double peak_mib = 0.0;

  static Usage now() {
    Usage u;
    rusage r{};
    ::getrusage(RUSAGE_SELF, &r);
    const auto seconds = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    u.cpu_s = seconds(r.ru_utime) + seconds(r.ru_stime);
    u.peak_mib = static_cast<double>(r.ru_maxrss) / 1024.0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) u.rss_mib = std::stod(line.substr(6)) / 1024.0;
    return u;
  }
};

struct RunResult {
  double requests_per_s = 0.0;
  double points_per_s = 0.0;
  double cpu_percent = 0.0;  // of one core
  double cpu_us_per_request = 0.0;
  double rss_mib = 0.0;
};

RunResult finish(std::uint64_t requests, std::uint64_t points, double seconds, const Usage& before,
                 const Usage& after) {
  RunResult r;
  r.requests_per_s = static_cast<double>(requests) / seconds;
  r.points_per_s = static_cast<double>(points) / seconds;
  const double cpu = after.cpu_s - before.cpu_s;
  r.cpu_percent = 100.0 * cpu / seconds;
  r.cpu_us_per_request = requests == 0 ? 0.0 : cpu * 1e6 / static_cast<double>(requests);
  r.rss_mib = after.rss_mib;
  return r;
}

// `connections` plain libmodbus loops, one thread each, reading holding 0..span-1 of `units`
// unit ids in turn (every loop its own ids when units_per_connection is 1).
RunResult plain_libmodbus(std::uint16_t port, int connections, int units_per_connection,
                          std::chrono::seconds duration) {
  const auto span = holding_span();
  const auto points_per_request = holding_points().size();
  std::atomic<std::uint64_t> requests{0};
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c)
    threads.emplace_back([&, c] {
      modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
      if (ctx == nullptr || modbus_connect(ctx) != 0) throw std::runtime_error("connect failed");
      std::vector<std::uint16_t> regs(span);
      std::uint64_t n = 0;
      int u = 0;
      ++ready;
      while (!stop.load(std::memory_order_relaxed)) {
        modbus_set_slave(ctx, units_per_connection == 1 ? c + 1 : u + 1);
        u = (u + 1) % units_per_connection;
        if (modbus_read_registers(ctx, 0, span, regs.data()) == span) ++n;
      }
      requests += n;
      modbus_close(ctx);
      modbus_free(ctx);
    });
  while (ready < connections) std::this_thread::sleep_for(1ms);  // connecting, not measured
  const auto before = Usage::now();
  const auto start = Clock::now();
  std::this_thread::sleep_for(duration);  // the measurement window
  stop = true;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  const auto after = Usage::now();
  return finish(requests, requests * points_per_request, seconds, before, after);
}

// `connections` adapters on one io_context, each polling `units_per_connection` units (the
// espresso holding registers, as fast as they answer).
RunResult through_adapters(std::uint16_t port, int connections, int units_per_connection,
                           std::chrono::seconds duration) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::uint64_t readings = 0, bad = 0;
  std::vector<std::unique_ptr<guardian::adapters::modbus::ModbusAdapter>> adapters;
  int unit = 0;
  for (int i = 1; i <= connections; ++i) {
    guardian::config::ModbusAdapterConfig c;
    c.name = "conn-" + std::to_string(i);
    c.tcp = {"127.0.0.1", port};
    for (int u = 0; u < units_per_connection; ++u) {
      guardian::config::ModbusDevice d;
      d.unit_id = ++unit;
      d.name = "espresso-" + std::to_string(d.unit_id);
      d.poll_interval = 0ms;
      d.points = holding_points();
      c.devices.push_back(d);
    }
    adapters.push_back(std::make_unique<guardian::adapters::modbus::ModbusAdapter>(
        c, io, [&](guardian::ReadingBatch&& b) {
          readings += b.readings.size();
          for (const auto& r : b.readings) bad += r.quality != guardian::Quality::good;
        }));
  }
  const auto requests = [&] {
    std::uint64_t n = 0;
    for (auto& a : adapters)
      for (const auto& s : a->health().sources) n += s.requests;
    return n;
  };
  for (auto& a : adapters) a->start();
  io.run_for(500ms);  // connect and warm up
  const auto requests0 = requests();
  const auto readings0 = readings;
  const auto before = Usage::now();
  const auto start = Clock::now();
  io.run_for(duration);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto requests1 = requests();
  const auto after = Usage::now();
  for (auto& a : adapters) a->stop();
  if (bad != 0) std::cerr << "  warning: " << bad << " readings were not good\n";
  return finish(requests1 - requests0, readings - readings0, seconds, before, after);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void print_row(const char* who, const RunResult& r, const RunResult* baseline) {
  std::printf("  %-24s %9.0f req/s %10.0f points/s  CPU %4.0f%% (%5.1f us/req)  RSS %5.1f MiB",
              who, r.requests_per_s, r.points_per_s, r.cpu_percent, r.cpu_us_per_request,
              r.rss_mib);
  if (baseline != nullptr) std::printf("  %.2fx plain", r.requests_per_s / baseline->requests_per_s);
  std::printf("\n");
}

std::vector<int> device_counts(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoi(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Modbus TCP throughput: the Guardian adapter next to plain libmodbus, against guardian-sim"};
  int seconds = 2;
  int rounds = 5;
  std::string devices = "1,10,50";
  std::string sim = std::string(GUARDIAN_BINARY_DIR) + "/bin/guardian-sim";
  app.add_option("--seconds", seconds, "Duration of each measurement")->capture_default_str();
  app.add_option("--rounds", rounds, "Alternating rounds of the one-connection comparison")
      ->capture_default_str();
  app.add_option("--devices", devices, "Device counts for the many-connection runs")
      ->capture_default_str();
  app.add_option("--sim", sim, "guardian-sim executable")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::chrono::seconds duration{seconds};
  const auto counts = device_counts(devices);
  const int most = std::max(10, *std::max_element(counts.begin(), counts.end()));

  Simulator simulator(sim, most);
  std::printf("guardian-sim on port %u, %d s per run, %u holding registers (%zu points) per "
              "request, %u cores\n",
              simulator.port(), seconds, holding_span(), holding_points().size(),
              std::thread::hardware_concurrency());

  // 1. One connection: the machine is shared and small, so alternate the two contenders and
  // keep the medians; a burst of unrelated load then does not decide the comparison.
  std::vector<RunResult> plain_runs, adapter_runs;
  for (int round = 0; round < rounds; ++round) {
    plain_runs.push_back(plain_libmodbus(simulator.port(), 1, 1, duration));
    adapter_runs.push_back(through_adapters(simulator.port(), 1, 1, duration));
  }
  const auto pick_median = [](std::vector<RunResult> runs) {
    std::sort(runs.begin(), runs.end(),
              [](const auto& a, const auto& b) { return a.requests_per_s < b.requests_per_s; });
    return runs[runs.size() / 2];
  };
  const auto plain = pick_median(plain_runs);
  const auto adapter = pick_median(adapter_runs);
  std::printf("\none connection, median of %d alternating rounds:\n", rounds);
  print_row("plain libmodbus loop", plain, nullptr);
  print_row("adapter", adapter, &plain);
  std::vector<double> ratios;
  for (int i = 0; i < rounds; ++i)
    ratios.push_back(adapter_runs[static_cast<std::size_t>(i)].requests_per_s /
                     plain_runs[static_cast<std::size_t>(i)].requests_per_s);
  std::sort(ratios.begin(), ratios.end());
  std::printf("  per-round ratio adapter/plain: min %.2f, median %.2f, max %.2f\n", ratios.front(),
              median(ratios), ratios.back());

  // 2. N devices, one connection each.
  for (const int n : counts) {
    std::printf("\n%d device%s, one connection each:\n", n, n == 1 ? "" : "s");
    const auto p = plain_libmodbus(simulator.port(), n, 1, duration);
    const auto a = through_adapters(simulator.port(), n, 1, duration);
    print_row("plain libmodbus threads", p, nullptr);
    print_row("adapters, one io_context", a, &p);
  }

  // 3. Ten units behind one connection: one bus scheduler.
  std::printf("\n10 units behind one connection (one scheduler):\n");
  const auto p10 = plain_libmodbus(simulator.port(), 1, 10, duration);
  const auto a10 = through_adapters(simulator.port(), 1, 10, duration);
  print_row("plain libmodbus loop", p10, nullptr);
  print_row("adapter", a10, &p10);
  return 0;
}
